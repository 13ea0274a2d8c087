/**
 * The system under test, started the way production runs it but on one machine: a Temporal dev
 * server (in memory, on a free port of 127.0.0.1), a fresh database (a new database on the
 * PostgreSQL server of DATABASE_URL, dropped afterwards; or PGlite in memory), the provider sandbox
 * in its own process at zero latency, and the API and worker in processes of their own (one
 * process for both on PGlite, which a single process owns). The baselines' bare endpoint and bench
 * worker are processes of the same kind beside them. `stop()` stops everything it started.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { openDb } from '../../src/db/client';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../src/db/throwaway';
import { freePort } from '../../src/temporal/devServer';
import { temporalCli } from '../../src/temporal/binaries';
import { startTestServer } from '../../src/temporal/ephemeral';
import { loadConfig } from '../../src/config';
import { actKeyRingFromConfig } from '../../src/temporal/actKeys';
import { bundleLoanWorkflows } from '../../src/worker';
import { LOAN_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';
import { BenchStep } from '../baseline/workflows';
import type { ChildRequest, ChildSpec, Role } from './child';
import { CpuMeter } from './cpu';
import { pollUntil } from './stats';

export const TASK_QUEUE = 'car-loans';
export const BASELINE_TASK_QUEUE = 'bench-baseline';
const NAMESPACE = 'default';
const ROOT = path.resolve(__dirname, '..', '..');
export const RUN_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-bench-'));

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
let bundles: Promise<{ real: string; baseline: string }> | undefined;
/** Both workflow bundles, built once per run and handed to every worker process as files. */
export function workflowBundles(): Promise<{ real: string; baseline: string }> {
  bundles ??= (async () => {
    const [real, baseline] = await Promise.all([
      // As the worker bundles them in production: with the workflow interceptors and the act keys.
      bundleLoanWorkflows(actKeyRingFromConfig(loadConfig()), quiet as never),
      bundleWorkflowCode({ workflowsPath: require.resolve('../baseline/workflows'), logger: quiet as never }),
    ]);
    const files = { real: path.join(RUN_DIR, 'workflows.js'), baseline: path.join(RUN_DIR, 'baseline-workflows.js') };
    fs.writeFileSync(files.real, real.code);
    fs.writeFileSync(files.baseline, baseline.code);
    return files;
  })();
  return bundles;
}

/** A forked process of the system (bench/lib/child.ts), asked things over IPC. */
export class ChildProc {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<{ pid: number; apiPort?: number; bareApiPort?: number; maxCachedWorkflows: number }>;
  private exited = false;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    proc.on('exit', (code) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code})`));
      this.waiting.clear();
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 180 s (log: ${logPath(name)})`)), 180_000);
      proc.on('message', (m: { type?: string; id?: number; result?: unknown; error?: string; message?: string }) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m as never);
        } else if (m.type === 'error') {
          clearTimeout(timer);
          process.stderr.write(`${name}: ${m.message}\n`);
          reject(new Error(`${name}: ${m.message}`));
        } else if (m.id !== undefined) {
          const w = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          if (m.error) w?.reject(new Error(m.error));
          else w?.resolve(m.result);
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready (log: ${logPath(name)})`));
      });
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  ask<T>(op: ChildRequest['op'], timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, op } satisfies ChildRequest);
    });
  }

  /** Resident memory as the kernel counts it (VmRSS), read from /proc: includes the SDK's Rust core. */
  rssBytes(): number {
    try {
      const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : NaN;
    } catch {
      return NaN;
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await this.ask('stop', 60_000).catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
}

const logPath = (name: string) => path.join(RUN_DIR, `${name}.log`);

function forkTs(name: string, file: string, env: Record<string, string>, execArgv: string[] = []): ChildProcess {
  const log = fs.openSync(logPath(name), 'a');
  return fork(file, [], {
    cwd: ROOT,
    // --expose-gc: the bench can ask for a full collection before reading what is really live.
    execArgv: ['--import', 'tsx', '--expose-gc', ...execArgv],
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log, 'ipc'],
  });
}

export interface StackOptions {
  /** Name prefix of this stack's processes and logs. */
  name: string;
  /** Processes to run: the real API and worker, the bare endpoint, the bench worker. */
  api?: boolean;
  worker?: boolean;
  bareApi?: boolean;
  baselineWorker?: boolean;
  tuning?: ChildSpec['tuning'];
  /** Extra flags of `temporal server start-dev` (e.g. --dynamic-config-value …). */
  serverArgs?: string[];
  /** Node flags of the real API's and worker's processes (e.g. --cpu-prof). */
  systemExecArgv?: string[];
  /** Environment of the real worker's process (e.g. MALLOC_ARENA_MAX). */
  workerEnv?: Record<string, string>;
}

export interface Stack {
  env: TestWorkflowEnvironment;
  driver: 'postgres' | 'pglite';
  sandboxUrl: string;
  apiUrl?: string | undefined;
  bareApiUrl?: string | undefined;
  /** The process holding the real API (and, on PGlite, the worker). */
  api?: ChildProc | undefined;
  /** The process holding the real worker (the API's on PGlite). */
  worker?: ChildProc | undefined;
  bareApi?: ChildProc | undefined;
  baselineWorker?: ChildProc | undefined;
  /** CPU time of every process of the stack (see cpu.ts). */
  cpu: CpuMeter;
  stop(): Promise<void>;
}

/** A fresh database migrated here, for the stack's processes to open by URL (dropped at the end). */
async function freshDatabase(): Promise<ThrowawayDatabase> {
  const created = await createThrowawayDatabase('bench');
  if (created.url) await (await openDb({ databaseUrl: created.url, maxConnections: 1 })).close();
  return created;
}

const running = new Set<() => Promise<void>>();
/** Stops every stack still running (the bench's exit path on an error or a signal). */
export async function stopAllStacks(): Promise<void> {
  await Promise.allSettled([...running].map((stop) => stop()));
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const undo: Array<() => Promise<void>> = [];
  const stop = async () => {
    running.delete(stop);
    for (const fn of undo.reverse()) await fn().catch((err: unknown) => process.stderr.write(`stop: ${(err as Error).message}\n`));
    undo.length = 0;
  };
  running.add(stop);
  try {
    const [env, db, files, sandboxPort] = await Promise.all([
      startTestServer(() =>
        TestWorkflowEnvironment.createLocal({
          server: {
            executable: temporalCli(),
            ip: '127.0.0.1',
            searchAttributes: [...LOAN_SEARCH_ATTRIBUTES, BenchStep],
            // 'error' would print every update the bench abandons at teardown ("context canceled").
            log: { format: 'pretty', level: 'never' },
            extraArgs: opts.serverArgs ?? [],
          },
        }),
      ),
      freshDatabase(),
      workflowBundles(),
      freePort(),
    ]);
    undo.push(() => env.teardown());
    undo.push(() => db.drop());

    const sandbox = forkTs(`${opts.name}-sandbox`, path.join(__dirname, 'sandboxChild.ts'), { SANDBOX_PORT: String(sandboxPort) });
    undo.push(async () => {
      if (sandbox.exitCode !== null) return;
      const gone = new Promise<void>((r) => sandbox.once('exit', () => r()));
      sandbox.kill('SIGTERM');
      const t = setTimeout(() => sandbox.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    });
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    await pollUntil(
      async () => (await fetch(`${sandboxUrl}/healthz`).then((r) => r.ok).catch(() => false)) || undefined,
      'the sandbox',
      60_000,
    );
    // Zero latency: no fault or slow answer left switched on.
    await fetch(`${sandboxUrl}/admin/faults`, { method: 'DELETE' });

    const address = env.address;
    const spec = (roles: Role[]): ChildSpec => ({
      roles,
      temporalAddress: address,
      namespace: NAMESPACE,
      taskQueue: TASK_QUEUE,
      baselineTaskQueue: BASELINE_TASK_QUEUE,
      databaseUrl: db.url,
      sandboxPort,
      workflowBundlePath: files.real,
      baselineBundlePath: files.baseline,
      tuning: opts.tuning,
      logLevel: 'warn',
    });
    const child = (name: string, roles: Role[], execArgv: string[] = []) => {
      const env = { BENCH_CHILD_SPEC: JSON.stringify(spec(roles)), ...(roles.includes('worker') ? opts.workerEnv : {}) };
      const c = new ChildProc(`${opts.name}-${name}`, forkTs(`${opts.name}-${name}`, path.join(__dirname, 'child.ts'), env, execArgv));
      undo.push(() => c.stop());
      return c;
    };

    const stack: Stack = {
      env,
      driver: db.url ? 'postgres' : 'pglite',
      sandboxUrl,
      stop,
      cpu: new CpuMeter(() => {
        const named: Record<string, number | undefined> = { sandbox: sandbox.pid };
        if (stack.api && stack.api === stack.worker) named['api+worker+PGlite'] = stack.api.pid;
        else {
          named.api = stack.api?.pid;
          named.worker = stack.worker?.pid;
        }
        named['bare api'] = stack.bareApi?.pid;
        named['bench worker'] = stack.baselineWorker?.pid;
        return named;
      }, db.name),
    };
    const starting: Promise<unknown>[] = [];
    if (opts.api || opts.worker) {
      if (!db.url) {
        // PGlite: one process owns the database, so the API and the worker share it.
        const roles: Role[] = [...(opts.api ? (['api'] as const) : []), ...(opts.worker ? (['worker'] as const) : [])];
        const c = child('system', roles, opts.systemExecArgv);
        stack.api = opts.api ? c : undefined;
        stack.worker = opts.worker ? c : undefined;
        starting.push(c.ready.then((r) => (stack.apiUrl = r.apiPort ? `http://127.0.0.1:${r.apiPort}` : undefined)));
      } else {
        if (opts.api) {
          const c = child('api', ['api'], opts.systemExecArgv);
          stack.api = c;
          starting.push(c.ready.then((r) => (stack.apiUrl = `http://127.0.0.1:${r.apiPort}`)));
        }
        if (opts.worker) {
          stack.worker = child('worker', ['worker'], opts.systemExecArgv);
          starting.push(stack.worker.ready);
        }
      }
    }
    if (opts.bareApi) {
      const c = child('bare-api', ['bare-api']);
      stack.bareApi = c;
      starting.push(c.ready.then((r) => (stack.bareApiUrl = `http://127.0.0.1:${r.bareApiPort}`)));
    }
    if (opts.baselineWorker) {
      stack.baselineWorker = child('baseline-worker', ['baseline-worker']);
      starting.push(stack.baselineWorker.ready);
    }
    await Promise.all(starting);
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}
