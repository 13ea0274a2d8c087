import fs from 'node:fs';

/**
 * `npm start` is a chain of processes: npm → sh → node (this one, tsx loaded with --import). A process killed with
 * SIGKILL cannot tell its children, and the kernel does not either, so killing npm would leave
 * this process (the API, the worker, the sandbox) and its dev server running, holding the ports
 * and the data. This watches the chain from this process up to the leader of its process group (npm,
 * when started from a shell) and calls `onGone` once a link of it dies: a link reparented, a zombie
 * or a pid that now belongs to another process. Where there is no /proc, only the direct parent is
 * watched. Returns a function that stops watching.
 */
export function watchLaunchers(onGone: (why: string) => void, everyMs = 1_000): () => void {
  const firstParent = process.ppid;
  const chain = launcherChain();
  const timer = setInterval(() => {
    const why = process.ppid !== firstParent ? `the parent process ${firstParent} is gone` : chain ? brokenLink(chain) : undefined;
    if (why) {
      clearInterval(timer);
      onGone(why);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

interface Stat {
  state: string;
  ppid: number;
  pgrp: number;
  startTime: string;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields follow the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] as string, ppid: Number(f[1]), pgrp: Number(f[2]), startTime: f[19] as string };
  } catch {
    return undefined;
  }
}

interface Link {
  pid: number;
  stat: Stat;
}

/** This process's ancestors up to its process-group leader, or undefined without /proc. */
function launcherChain(): Link[] | undefined {
  const self = stat(process.pid);
  if (!self) return undefined;
  const chain: Link[] = [];
  let pid = process.ppid;
  // Bounded: a group leader is a few links up (npm, sh); never walk past init.
  for (let i = 0; i < 8 && pid > 1 && self.pgrp !== process.pid; i++) {
    const s = stat(pid);
    if (!s || s.pgrp !== self.pgrp) break;
    chain.push({ pid, stat: s });
    if (pid === self.pgrp) break;
    pid = s.ppid;
  }
  return chain;
}

function brokenLink(chain: Link[]): string | undefined {
  for (const link of chain) {
    const now = stat(link.pid);
    if (!now || now.state === 'Z' || now.startTime !== link.stat.startTime) return `the launching process ${link.pid} is gone`;
    if (now.ppid !== link.stat.ppid) return `the process that launched ${link.pid} is gone`;
  }
  return undefined;
}
