import fs from 'node:fs';

/**
 * CPU time by process, from /proc (Linux): where a benchmark's time goes, without a profiler. The
 * bench's own processes are found by pid; the Temporal dev server as the driver's `temporal` child;
 * PostgreSQL's backends by the database name in their titles.
 */
const TICK_MS = 10; // USER_HZ is 100 on Linux

function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start at the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime + stime
  } catch {
    return NaN;
  }
}

function children(of: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === of) out.push({ pid: Number(d), comm });
    } catch {
      // gone
    }
  }
  return out;
}

function postgresBackends(database: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('postgres: ') && cmd.includes(` ${database} `)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

export type CpuSample = Record<string, number>;

export class CpuMeter {
  constructor(
    private readonly named: () => Record<string, number | undefined>,
    private readonly database: string | undefined,
  ) {}

  /** CPU ms used so far by each named process, the dev server and the database's backends. */
  sample(): CpuSample {
    const out: CpuSample = {};
    for (const [name, pid] of Object.entries(this.named())) if (pid) out[name] = (out[name] ?? 0) + cpuMsOf(pid);
    out.driver = cpuMsOf(process.pid);
    const server = children(process.pid).find((c) => c.comm.startsWith('temporal'));
    if (server) out['temporal dev server'] = cpuMsOf(server.pid);
    if (this.database) out.postgres = postgresBackends(this.database).reduce((s, pid) => s + (cpuMsOf(pid) || 0), 0);
    return out;
  }

  static delta(after: CpuSample, before: CpuSample): CpuSample {
    const out: CpuSample = {};
    for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0);
    return out;
  }
}

/** "worker 1234 ms (41%), …" per unit (e.g. per application). */
export function describeCpu(d: CpuSample, per = 1, unit = ''): string {
  const total = Object.values(d).reduce((s, v) => s + (Number.isFinite(v) ? v : 0), 0);
  return Object.entries(d)
    .filter(([, v]) => Number.isFinite(v) && v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / per).toFixed(v / per < 10 ? 1 : 0)} ms${unit} (${Math.round((100 * v) / total)}%)`)
    .join(', ');
}
