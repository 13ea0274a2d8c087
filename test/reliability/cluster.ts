import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import postgres from 'postgres';
import { openDb, type DbHandle } from '../../src/db/client';
import { PROJECT_ROOT, temporalCli } from '../../src/temporal/binaries';
import { freePort, searchAttributeArgs } from '../../src/temporal/devServer';

/**
 * The system as separate operating-system processes, the way a deployment runs it, so that a test
 * can kill one with a real signal: a `temporal server start-dev` on a persisted SQLite file, the
 * sandbox, a worker (`node --import tsx src/cli/worker.ts`) and the API (`node --import tsx src/api/server.ts`), all on
 * free ports of 127.0.0.1, sharing one PostgreSQL database. Each process leads its own process
 * group, so a kill reaches every process of it; whatever is left is killed when the test
 * process exits. Output goes to log files in the run folder (LOG_LEVEL info for the worker, whose
 * "worker polling" line says it is ready), never to the test's output except a tail on failure.
 */

const live = new Set<number>();
process.on('exit', () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private tail = '';
  starts = 0;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: () => string[],
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly ready: (p: ManagedProcess) => Promise<boolean>,
    /** A ceiling for a start on a busy machine (tsx, bundling the workflows), not an expectation. */
    private readonly readyTimeoutMs = 300_000,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Output since the last start (the last 16 kB). */
  get output(): string {
    return this.tail;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.tail = '';
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `\n----- start ${++this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(this.command, this.args(), { cwd: PROJECT_ROOT, env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const pgid = child.pid as number;
    live.add(pgid);
    const onData = (chunk: Buffer) => {
      fs.writeSync(log, chunk);
      this.tail = (this.tail + chunk.toString()).slice(-16_384);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        live.delete(pgid);
        // Grandchildren (tsx's node) share the group: make sure none outlives its parent.
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // none left
        }
        fs.closeSync(log);
        resolve();
      }),
    );
    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited while starting:\n${this.tail.slice(-3000)}`);
      if (await this.ready(this).catch(() => false)) return;
      if (Date.now() > deadline) {
        await this.kill('SIGKILL');
        throw new Error(`${this.name} was not ready within ${this.readyTimeoutMs} ms:\n${this.tail.slice(-3000)}`);
      }
      await sleep(200);
    }
  }

  /** Sends `signal` to the whole process group and waits for the process to end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 20_000): Promise<void> {
    if (!this.child || !this.exited) return;
    if (this.running) {
      try {
        process.kill(-(this.child.pid as number), signal);
      } catch {
        // gone between the check and the kill
      }
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-(this.child?.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Sends `signal` to the whole process group without waiting (SIGSTOP freezes it, SIGCONT thaws it). */
  signal(signal: NodeJS.Signals): void {
    if (!this.running || !this.child) return;
    try {
      process.kill(-(this.child.pid as number), signal);
    } catch {
      // gone between the check and the signal
    }
  }

  /** A clean stop (SIGTERM, SIGKILL after the grace period). */
  stop(): Promise<void> {
    return this.kill('SIGTERM', 15_000);
  }

  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(signal);
    await this.start();
  }
}

// ------------------------------------------------------------------------------------------
// PostgreSQL: the one of DATABASE_URL, or a throwaway cluster from Debian's binaries.

export interface PostgresServer {
  url: string;
  /** Stops a throwaway server (`immediate`: as a crash would), waits `downMs`, starts it again on its data and port. */
  restart?(mode?: 'fast' | 'immediate', downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function debianPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/** Why the multi-process tests cannot run here, or undefined when they can. */
export function reasonToSkip(): string | undefined {
  if (process.env.DATABASE_URL) return undefined;
  if (debianPgBin()) return undefined;
  return 'the reliability tests run several processes on one database: set DATABASE_URL to a PostgreSQL server (PGlite cannot be shared between processes), or install PostgreSQL (apt-get install postgresql) so a throwaway one can be started';
}

/** Can the suite start (and so restart) a PostgreSQL of its own? */
export function canOwnPostgres(): boolean {
  return debianPgBin() !== undefined;
}

/**
 * The scripts/postgres-ephemeral.sh recipe: initdb in a temporary folder, trust auth, 127.0.0.1 only.
 * DATABASE_URL's server is used instead unless `own` (a test that restarts PostgreSQL needs its own).
 */
export async function startPostgres(opts: { own?: boolean } = {}): Promise<PostgresServer> {
  if (process.env.DATABASE_URL && !(opts.own && canOwnPostgres())) return { url: process.env.DATABASE_URL, stop: async () => undefined };
  const bin = debianPgBin();
  if (!bin) throw new Error(reasonToSkip());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-rel-pg-'));
  const port = await freePort();
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) spawnSync('chown', ['postgres', dir]);
  const run = (exe: string, args: string[]) => {
    const [cmd, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', path.join(bin, exe), ...args]] : [path.join(bin, exe), args];
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${exe} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', `${dir}/data`, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const start = () => run('pg_ctl', ['-D', `${dir}/data`, '-l', `${dir}/server.log`, '-w', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=200 -c fsync=off`, 'start']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart(mode = 'fast', downMs = 0) {
      run('pg_ctl', ['-D', `${dir}/data`, '-m', mode, '-w', 'stop']);
      await new Promise((r) => setTimeout(r, downMs));
      start();
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', `${dir}/data`, '-m', 'immediate', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

// ------------------------------------------------------------------------------------------

export interface ClusterPorts {
  temporal: number;
  api: number;
  sandbox: number;
}

export interface Cluster {
  dir: string;
  ports: ClusterPorts;
  apiUrl: string;
  sandboxUrl: string;
  temporalAddress: string;
  databaseUrl: string;
  /** The PostgreSQL server the database is on (restartable when the suite owns it). */
  postgres: PostgresServer;
  /** The test's own connection to the shared database (migrated before any process starts). */
  db: DbHandle;
  temporal: ManagedProcess;
  sandbox: ManagedProcess;
  worker: ManagedProcess;
  api: ManagedProcess;
  /** Environment every process of the system shares (secrets are the development defaults). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

// Readiness probes are asked again every 200 ms until the start's ceiling: a probe's own timeout only
// bounds one try.
async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return res.ok;
}

async function temporalAnswers(address: string): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    await conn.withDeadline(Date.now() + 5_000, () => conn.workflowService.getSystemInfo({}));
    return true;
  } finally {
    await conn.close();
  }
}

export interface ClusterOptions {
  /** Extra environment for the API and the worker. */
  env?: Record<string, string>;
  /** A PostgreSQL of the suite's own (Debian's binaries), so a test may restart it. */
  ownPostgres?: boolean;
}

/** Starts PostgreSQL (when needed), a fresh database, then Temporal, the sandbox, the worker and the API. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-reliability-'));
  const pg = await startPostgres({ own: opts.ownPostgres ?? false });
  const dbName = `rel_${Date.now().toString(36)}_${process.pid}`;
  const admin = postgres(pg.url, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`CREATE DATABASE ${dbName}`);
  const u = new URL(pg.url);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  const db = await openDb({ databaseUrl, maxConnections: 4 });

  const ports: ClusterPorts = { temporal: await freePort(), api: await freePort(), sandbox: await freePort() };
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  const sandboxUrl = `http://127.0.0.1:${ports.sandbox}`;
  const temporalAddress = `127.0.0.1:${ports.temporal}`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    HOST: '127.0.0.1',
    PORT: String(ports.api),
    SANDBOX_PORT: String(ports.sandbox),
    WORKER_METRICS_PORT: '0',
    ...opts.env,
  };
  const base = (): NodeJS.ProcessEnv => {
    // The test's own DATABASE_URL and jest's variables stay out of the children's environment.
    const { DATABASE_URL: _u, NODE_OPTIONS: _n, JEST_WORKER_ID: _j, ...rest } = process.env;
    return { ...rest, ...env };
  };
  const file = (name: string) => path.join(dir, `${name}.log`);

  const cli = temporalCli();
  if (cli.type !== 'existing-path') throw new Error('the reliability tests need the temporal CLI binary (npm run tools)');
  const temporal = new ManagedProcess(
    'temporal',
    cli.path,
    () => [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(ports.temporal),
      '--headless',
      '--db-filename',
      path.join(dir, 'temporal.db'),
      '--log-level',
      'warn',
      ...searchAttributeArgs(),
    ],
    () => ({ ...process.env }),
    file('temporal'),
    () => temporalAnswers(temporalAddress),
  );
  const sandbox = new ManagedProcess(
    'sandbox',
    process.execPath,
    () => ['--import', 'tsx', 'src/sandbox/server.ts'],
    () => ({
      ...base(),
      LOG_LEVEL: 'warn',
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_STATE_FILE: path.join(dir, 'sandbox-state.jsonl'),
      ESIGN_WEBHOOK_URL: `${apiUrl}/webhooks/esign`,
    }),
    file('sandbox'),
    () => httpOk(`${sandboxUrl}/healthz`),
  );
  const worker = new ManagedProcess(
    'worker',
    process.execPath,
    () => ['--import', 'tsx', 'src/cli/worker.ts'],
    () => ({ ...base(), LOG_LEVEL: 'info' }),
    file('worker'),
    async (p) => p.output.includes('"worker polling"'),
  );
  const api = new ManagedProcess('api', process.execPath, () => ['--import', 'tsx', 'src/api/server.ts'], () => ({ ...base(), LOG_LEVEL: 'warn' }), file('api'), () => httpOk(`${apiUrl}/healthz`));

  const cluster: Cluster = {
    dir,
    ports,
    apiUrl,
    sandboxUrl,
    temporalAddress,
    databaseUrl,
    postgres: pg,
    db,
    temporal,
    sandbox,
    worker,
    api,
    env,
    async stop() {
      await Promise.all([api.kill('SIGKILL'), worker.kill('SIGKILL'), sandbox.kill('SIGKILL')]);
      await temporal.kill('SIGKILL');
      await db.close().catch(() => undefined);
      await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await admin.end({ timeout: 5 });
      await pg.stop();
      if (!process.env.KEEP_RELIABILITY_LOGS) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all([temporal.start(), sandbox.start()]);
    await Promise.all([worker.start(), api.start()]);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
