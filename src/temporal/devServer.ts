import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { LOAN_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { temporalCli } from './binaries';
import { startTestServer } from './ephemeral';

export interface DevServerOptions {
  host: string;
  port: number;
  uiPort: number;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFilename?: string | undefined;
  namespace?: string;
  /** Remote codec endpoint the Web UI calls to decode payloads. */
  uiCodecEndpoint?: string | undefined;
  headless?: boolean;
  log?: (msg: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
}

const SA_TYPE_NAMES: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

export function searchAttributeArgs(): string[] {
  return LOAN_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${SA_TYPE_NAMES[k.type]}`]);
}

export async function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForFrontend(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited with code ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal dev server did not answer on ${address} within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Runs the dev server under a small POSIX shell guard, so that it cannot outlive the process that
 * started it however that process ends (Ctrl-C, SIGTERM, SIGKILL, a crash): the guard keeps the
 * read end of a pipe whose write end only its parent holds, and when the pipe reaches end of file
 * (the parent closed it to stop the server, or the kernel closed it because the parent died) it
 * sends the server SIGTERM, then SIGKILL 15 s later. It also writes the server's pid to
 * DEV_SERVER_PID_FILE, which the next start uses to stop a server left by an older version.
 */
const GUARD = `
exec 3<&0
"$@" </dev/null 3<&- &
server=$!
[ -n "$DEV_SERVER_PID_FILE" ] && echo "$server" > "$DEV_SERVER_PID_FILE"
{
  read -r _ <&3
  kill -TERM "$server" 2>/dev/null
  i=0
  while kill -0 "$server" 2>/dev/null && [ "$i" -lt 15 ]; do sleep 1; i=$((i + 1)); done
  kill -KILL "$server" 2>/dev/null
} &
watcher=$!
exec 3<&-
trap 'kill -TERM "$server" 2>/dev/null' TERM INT HUP
while :; do
  wait "$server"; status=$?
  [ "$status" -gt 128 ] && kill -0 "$server" 2>/dev/null && continue
  break
done
kill "$watcher" 2>/dev/null
exit "$status"
`;

/** How long a stopping dev server gets before SIGKILL (it closes its SQLite file in well under that). */
const STOP_GRACE_MS = 15_000;

function commandLineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    // Not Linux (or gone): ps says the same where there is no /proc.
    const r = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() || undefined : undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A dev server that an earlier start left running on this data (a crash of an older version):
 * stopped when the pid file names a process that is `temporal server start-dev` on this very
 * database file, and nothing else is touched. Answers what it found.
 */
export async function stopLeftoverDevServer(pidFile: string, dbFilename: string, log: (m: string) => void): Promise<'none' | 'stopped' | 'not ours'> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return 'none';
  }
  const cmd = Number.isInteger(pid) && pid > 1 ? commandLineOf(pid) : undefined;
  if (!cmd) {
    fs.rmSync(pidFile, { force: true });
    return 'none';
  }
  if (!(cmd.includes('start-dev') && cmd.includes(dbFilename))) return 'not ours';
  log(`stopping the Temporal dev server an earlier start left running (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(pidFile, { force: true });
  return 'stopped';
}

/**
 * Starts `temporal server start-dev` as a guarded child process (see GUARD) with our search
 * attributes registered. Stopping closes the guard's pipe, so the server gets SIGTERM, closes its
 * SQLite file cleanly, and a restart finds every run.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const exe = temporalCli(log);
  const address = `${opts.host}:${opts.port}`;
  if (exe.type === 'cached-download') {
    // Last resort on a connected machine: the SDK downloads and runs the same dev server.
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await startTestServer(() =>
      TestWorkflowEnvironment.createLocal({
        server: {
          ip: opts.host,
          port: opts.port,
          ui: !opts.headless,
          uiPort: opts.uiPort,
          dbFilename: opts.dbFilename,
          namespace: opts.namespace,
          searchAttributes: [...LOAN_SEARCH_ATTRIBUTES],
          extraArgs: opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : [],
        },
      }),
    );
    return { address, uiUrl: opts.headless ? undefined : `http://${opts.host}:${opts.uiPort}`, stop: () => env.teardown() };
  }

  const pidFile = opts.dbFilename ? path.join(path.dirname(opts.dbFilename), 'dev-server.pid') : undefined;
  if (pidFile && opts.dbFilename) await stopLeftoverDevServer(pidFile, opts.dbFilename, log);
  if (!(await portIsFree(opts.host, opts.port))) {
    throw new Error(`Port ${opts.port} on ${opts.host} is taken: is another Temporal server running? Set TEMPORAL_ADDRESS to use it, or TEMPORAL_DEV_PORT to pick another port.`);
  }
  if (opts.dbFilename) fs.mkdirSync(path.dirname(opts.dbFilename), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    opts.host,
    '--port',
    String(opts.port),
    '--log-level',
    'warn',
    '--ui-disable-news-fetch',
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(opts.uiPort)]),
    ...(opts.dbFilename ? ['--db-filename', opts.dbFilename] : []),
    ...(opts.namespace && opts.namespace !== 'default' ? ['--namespace', opts.namespace] : []),
    ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
    ...searchAttributeArgs(),
  ];
  // Its own process group: a Ctrl-C reaches this process, which stops the parts in order.
  const child = spawn('/bin/sh', ['-c', GUARD, 'temporal-dev-server-guard', exe.path, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, DEV_SERVER_PID_FILE: pidFile ?? '' },
  });
  // The pipe is never written to; it only has to stay open while this process lives.
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killGroup = () => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-4000);
  });
  try {
    await waitForFrontend(address, child, 60_000);
  } catch (err) {
    killGroup();
    await exited;
    throw new Error(`${(err as Error).message}\n${stderrTail}`);
  }
  return {
    address,
    uiUrl: opts.headless ? undefined : `http://${opts.host}:${opts.uiPort}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        const timer = setTimeout(killGroup, STOP_GRACE_MS + 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (pidFile) fs.rmSync(pidFile, { force: true });
    },
  };
}
