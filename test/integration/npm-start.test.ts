import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintDevToken } from '../../src/api/auth';
import { loadConfig } from '../../src/config';
import { PROJECT_ROOT, temporalCli } from '../../src/temporal/binaries';
import { freePort, portIsFree, stopLeftoverDevServer } from '../../src/temporal/devServer';
import { applicationBody } from './api/harness';

/**
 * `npm start` as a person runs it, in its own process group on free ports and a temporary
 * DATA_DIR (PGlite, the dev server's SQLite file, the sandbox's state): Ctrl-C (SIGINT to the
 * group, as a terminal sends it) stops every process it started and the next start finds the same
 * data, where an application opened before still moves on; SIGKILL of npm, or of the node process
 * that runs the system, leaves nothing running and the next start starts cleanly (issue 15 finding
 * 10, issue 24's "Ctrl-C stops every child and the next start carries on").
 */

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Proc {
  pid: number;
  ppid: number;
  args: string;
}

function processTable(): Proc[] {
  const r = spawnSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] as string }));
}

/** Every process below `root` (its children, theirs, …), as the table shows them now. */
function descendants(root: number): Proc[] {
  const table = processTable();
  const out: Proc[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop() as number;
    for (const c of table.filter((x) => x.ppid === p)) {
      out.push(c);
      todo.push(c.pid);
    }
  }
  return out;
}

function running(pids: number[]): Proc[] {
  const table = processTable();
  // A zombie waiting for its parent to read its status runs nothing: ps shows it as <defunct>.
  return table.filter((p) => pids.includes(p.pid) && !p.args.includes('<defunct>'));
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(500);
  }
}

interface Started {
  npm: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

describe('npm start owns the processes it starts', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-npm-start-'));
  const live = new Set<ChildProcess>();
  /** Every process of a system seen by a test: a failed test must not leave one running (nor hang jest). */
  const seen = new Map<number, string>();
  let env: Record<string, string>;
  let api: string;

  beforeAll(async () => {
    env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      SANDBOX_PORT: String(await freePort()),
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    api = `http://127.0.0.1:${env.PORT}`;
  });

  afterAll(async () => {
    for (const p of live) {
      try {
        process.kill(-(p.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
      p.stdout?.destroy();
      p.stderr?.destroy();
    }
    // Only a process still running the same command: a pid the system left may belong to another by now.
    for (const { pid } of running([...seen.keys()]).filter((p) => seen.get(p.pid) === p.args)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function npmStart(): Promise<Started> {
    // The test's own DATABASE_URL stays out: npm start on its defaults, PGlite in DATA_DIR.
    const { DATABASE_URL: _d, NODE_OPTIONS: _n, JEST_WORKER_ID: _j, ...rest } = process.env;
    const npm = spawn('npm', ['start'], { cwd: PROJECT_ROOT, env: { ...rest, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(npm);
    let output = '';
    npm.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    npm.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    const exited = new Promise<void>((r) =>
      npm.once('exit', () => {
        live.delete(npm);
        // Its output pipes are shared with what it started: they close when those have ended.
        npm.stdout?.destroy();
        npm.stderr?.destroy();
        r();
      }),
    );
    await until(
      'npm start to say it is running',
      () => {
        if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
        return output.includes('Press Ctrl-C to stop.') ? true : undefined;
      },
      240_000,
    );
    return { npm, exited, output: () => output };
  }

  const token = (sub: string, role: 'officer' | 'verifier' | 'admin') => mintDevToken(loadConfig({}), { sub, roles: [role] });

  async function getApplication(id: string): Promise<{ stage: string; live: boolean; pendingTask: { kind: string } | null }> {
    const res = await fetch(`${api}/applications/${id}`, { headers: { authorization: `Bearer ${await token('watcher', 'admin')}` } });
    return (await res.json()) as never;
  }

  async function waitForStage(id: string, ok: (s: Awaited<ReturnType<typeof getApplication>>) => boolean) {
    return until(`application ${id}`, async () => {
      const s = await getApplication(id).catch(() => undefined);
      return s && s.live && ok(s) ? s : undefined;
    }, 180_000);
  }

  /** The system's processes: npm, sh, node, the dev server's guard and the dev server itself. */
  function theSystem(npm: ChildProcess): Proc[] {
    const all = descendants(npm.pid as number);
    for (const p of all) seen.set(p.pid, p.args);
    expect(all.some((p) => p.args.includes('start-dev'))).toBe(true);
    expect(all.some((p) => p.args.includes('src/main.ts'))).toBe(true);
    return all;
  }

  async function nothingLeft(pids: number[]) {
    await until('every process npm start started to end', () => (running(pids).length === 0 ? true : undefined), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}: still running ${JSON.stringify(running(pids))}`);
    });
    for (const port of [env.PORT, env.TEMPORAL_DEV_PORT, env.SANDBOX_PORT]) expect({ port, free: await portIsFree('127.0.0.1', Number(port)) }).toEqual({ port, free: true });
  }

  it('Ctrl-C stops every process it started, and the next start finds the data: an application opened before moves on', async () => {
    const first = await npmStart();
    const officer = await token('officer-npm', 'officer');
    const created = await fetch(`${api}/applications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${officer}`, 'content-type': 'application/json' },
      body: JSON.stringify(applicationBody()),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await waitForStage(id, (s) => s.pendingTask?.kind === 'phone_verification');

    const pids = [first.npm.pid as number, ...theSystem(first.npm).map((p) => p.pid)];
    process.kill(-(first.npm.pid as number), 'SIGINT');
    await first.exited;
    await nothingLeft(pids);

    await npmStart();
    const after = await waitForStage(id, () => true);
    expect(after.pendingTask?.kind).toBe('phone_verification');
    const verified = await fetch(`${api}/applications/${id}/phone-verification`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('verifier-npm', 'verifier')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'passed', recordingRef: 'rec-npm', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } }),
    });
    expect([200, 202]).toContain(verified.status);
    await waitForStage(id, (s) => s.pendingTask?.kind === 'approval');
  });

  it('SIGKILL of npm: the system notices and stops, and nothing it started is left running', async () => {
    // The second start of the test above is still running: stop it the way a person would.
    for (const p of [...live]) {
      process.kill(-(p.pid as number), 'SIGINT');
      await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())));
    }
    const s = await npmStart();
    const pids = theSystem(s.npm).map((p) => p.pid);
    process.kill(s.npm.pid as number, 'SIGKILL');
    await s.exited;
    await nothingLeft(pids);
  });

  it('SIGKILL of the node process running the system: its dev server does not outlive it, and the next start is clean', async () => {
    const s = await npmStart();
    const all = theSystem(s.npm);
    // The node process that runs the system: the dev server's nearest ancestor running src/main.ts.
    let main = all.find((p) => p.args.includes('start-dev') && !p.args.startsWith('/bin/sh'));
    while (main && !main.args.includes('src/main.ts')) main = all.find((p) => p.pid === main?.ppid);
    expect(main?.args).toContain('src/main.ts');
    expect(main?.args).not.toMatch(/^sh |tsx\/dist\/cli|\.bin\/tsx/);
    process.kill(main!.pid, 'SIGKILL');
    await s.exited;
    await nothingLeft(all.map((p) => p.pid));

    const again = await npmStart();
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    process.kill(-(again.npm.pid as number), 'SIGINT');
    await again.exited;
  });
});

describe('a dev server an earlier start left running', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-leftover-'));
  const dbFilename = path.join(dir, 'temporal.db');
  const pidFile = path.join(dir, 'dev-server.pid');
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is stopped at the next start when the pid file names our server on this database, and nothing else is', async () => {
    const cli = temporalCli();
    if (cli.type !== 'existing-path') throw new Error('needs the temporal CLI binary (npm run tools)');
    const port = await freePort();
    // A server as an older version left it: not guarded, on this data.
    const leftover = spawn(cli.path, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', dbFilename], { stdio: 'ignore' });
    started.push(leftover);
    await until('the leftover to listen', async () => ((await portIsFree('127.0.0.1', port)) ? undefined : true), 60_000);
    const gone = new Promise<void>((r) => leftover.once('exit', () => r()));

    // A pid file naming another process is left alone.
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    started.push(other);
    fs.writeFileSync(pidFile, String(other.pid));
    expect(await stopLeftoverDevServer(pidFile, dbFilename, () => undefined)).toBe('not ours');
    expect(other.exitCode).toBeNull();
    expect(running([other.pid as number])).toHaveLength(1);

    fs.writeFileSync(pidFile, String(leftover.pid));
    expect(await stopLeftoverDevServer(pidFile, dbFilename, () => undefined)).toBe('stopped');
    await gone;
    expect(await portIsFree('127.0.0.1', port)).toBe(true);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(await stopLeftoverDevServer(pidFile, dbFilename, () => undefined)).toBe('none');
  });
});
