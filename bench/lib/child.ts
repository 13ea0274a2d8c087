/**
 * One process of the system under test, forked by the bench (stack.ts): the real API, the real
 * worker, or both in one process (PGlite, which one process owns); or the baselines' bare Express
 * endpoint and bench worker. Its spec comes in BENCH_CHILD_SPEC; it answers the parent over IPC
 * (memory, application counts by stage, stop). Everything listens on 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import express from 'express';
import { sql } from 'drizzle-orm';
import { createApp } from '../../src/api/app';
import { listen, type ApiServer } from '../../src/api/lifecycle';
import { loadConfig } from '../../src/config';
import { openDb, type DbHandle } from '../../src/db/client';
import { keyRingFromConfig, PiiCipher } from '../../src/db/pii';
import { createLogger } from '../../src/logger';
import { connectClient, connectWorker, dataConverterFromConfig } from '../../src/temporal/connection';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { activityDepsFromConfig, createWorker, DEFAULT_MAX_CACHED_WORKFLOWS, type CreateWorkerOptions } from '../../src/worker';
import { baselineActivities, noopCallsByStep } from '../baseline/activities';

export type Role = 'api' | 'worker' | 'bare-api' | 'baseline-worker';

export interface ChildSpec {
  roles: Role[];
  temporalAddress: string;
  namespace: string;
  /** The real system's task queue (API starts, worker polls). */
  taskQueue: string;
  /** The baselines' task queue (bare endpoint starts, bench worker polls). */
  baselineTaskQueue: string;
  databaseUrl?: string | undefined;
  sandboxPort: number;
  /** Pre-built bundles (bench/lib/stack.ts bundles once per run). */
  workflowBundlePath: string;
  baselineBundlePath: string;
  tuning?: CreateWorkerOptions['tuning'];
  logLevel: string;
}

export type ChildRequest = { id: number; op: 'mem' | 'stages' | 'noops' | 'stop' | 'gc' };

const spec = JSON.parse(process.env.BENCH_CHILD_SPEC ?? '{}') as ChildSpec;
const send = (m: unknown) => process.send?.(m);

async function main(): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: spec.logLevel as never,
    ...(spec.databaseUrl ? { DATABASE_URL: spec.databaseUrl } : {}),
    TEMPORAL_ADDRESS: spec.temporalAddress,
    TEMPORAL_NAMESPACE: spec.namespace,
    TEMPORAL_TASK_QUEUE: spec.taskQueue,
    SANDBOX_PORT: String(spec.sandboxPort),
    WORKER_METRICS_PORT: '0',
  });
  const log = createLogger(spec.logLevel, `bench-${spec.roles.join('+')}`);
  installTemporalRuntime(log);
  const target = { address: spec.temporalAddress, namespace: spec.namespace };
  const undo: Array<() => Promise<void>> = [];
  const roles = new Set(spec.roles);
  let db: DbHandle | undefined;
  if (roles.has('api') || roles.has('worker')) {
    // On PostgreSQL the bench migrated the fresh database before forking; PGlite lives (in memory) here.
    db = await openDb({ databaseUrl: config.DATABASE_URL, migrate: !config.DATABASE_URL });
    undo.push(() => db!.close());
  }
  // The SDK's default workflow cache for this process's heap (worker-options.ts, reuseV8Context).
  const heapMiB = v8.getHeapStatistics().heap_size_limit / 1024 / 1024;
  const ready: Record<string, unknown> = {
    type: 'ready',
    pid: process.pid,
    maxCachedWorkflows: spec.tuning?.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    /** What the SDK would choose on this heap (worker-options.ts, reuseV8Context), for the record. */
    sdkDefaultMaxCachedWorkflows: Math.max(Math.floor((Math.max(heapMiB - 200, 0) * 600) / 1024), 10),
  };

  const workers: Worker[] = [];
  if (roles.has('worker')) {
    const connection = await connectWorker(target);
    undo.push(() => connection.close());
    workers.push(
      await createWorker({
        connection,
        namespace: spec.namespace,
        taskQueue: spec.taskQueue,
        deps: activityDepsFromConfig(config, db!.db),
        workflowBundle: { codePath: spec.workflowBundlePath },
        dataConverter: dataConverterFromConfig(config),
        ...(spec.tuning ? { tuning: spec.tuning } : {}),
      }),
    );
  }
  if (roles.has('baseline-worker')) {
    const connection = await NativeConnection.connect({ address: spec.temporalAddress });
    undo.push(() => connection.close());
    workers.push(
      await Worker.create({
        connection,
        namespace: spec.namespace,
        taskQueue: spec.baselineTaskQueue,
        workflowBundle: { codePath: spec.baselineBundlePath },
        activities: baselineActivities,
        // The same cache as the real worker's (src/worker.ts), unless the bench tunes both.
        maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
        ...spec.tuning,
      }),
    );
  }
  const runs = workers.map((w) => w.run());

  let server: ApiServer | undefined;
  if (roles.has('api')) {
    const connection = await connectClient(target);
    undo.push(() => connection.close());
    const client = new Client({ connection, namespace: spec.namespace, dataConverter: dataConverterFromConfig(config) });
    const app = createApp({ db: db!, temporal: client, taskQueue: spec.taskQueue, config, cipher: new PiiCipher(keyRingFromConfig(config)), log });
    server = await listen(app, 0, '127.0.0.1');
    ready.apiPort = server.port;
  }
  if (roles.has('bare-api')) {
    // The baseline of POST /applications: the same Express and Temporal client, and only the start.
    const connection = await Connection.connect({ address: spec.temporalAddress });
    undo.push(() => connection.close());
    const client = new Client({ connection, namespace: spec.namespace });
    const app = express();
    app.use(express.json({ limit: '64kb' }));
    app.post('/applications', async (_req, res, next) => {
      try {
        const id = randomUUID();
        await client.workflow.start('benchNoop', { taskQueue: spec.baselineTaskQueue, workflowId: `bench-noop-${id}` });
        res.status(201).json({ id });
      } catch (err) {
        next(err);
      }
    });
    const bare = await listen(app, 0, '127.0.0.1');
    undo.push(() => bare.close(1_000));
    ready.bareApiPort = bare.port;
  }
  if (server) undo.push(() => server!.close(2_000));

  const stop = async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
    for (const fn of undo.reverse()) await fn().catch(() => undefined);
  };

  process.on('message', (m: ChildRequest) => {
    void (async () => {
      try {
        let result: unknown;
        if (m.op === 'mem') result = { ...process.memoryUsage(), cpu: process.cpuUsage() };
        else if (m.op === 'gc') {
          (globalThis as { gc?: () => void }).gc?.();
          result = process.memoryUsage();
        } else if (m.op === 'noops') {
          result = noopCallsByStep();
        } else if (m.op === 'stages') {
          const r = await db!.db.execute(sql`select stage, coalesce(pending_task, '') as pending, count(*)::int as n from applications group by 1, 2`);
          result = Array.isArray(r) ? r : (r as { rows: unknown[] }).rows;
        } else if (m.op === 'stop') {
          await stop();
          send({ id: m.id, result: 'stopped' });
          // Let the IPC message go out, then leave (a --cpu-prof profile is written at exit).
          setTimeout(() => process.exit(0), 50);
          return;
        }
        send({ id: m.id, result });
      } catch (err) {
        send({ id: m.id, error: (err as Error).message });
      }
    })();
  });
  process.on('disconnect', () => {
    // The bench went away: do not linger.
    void stop().finally(() => process.exit(0));
  });
  for (const [i, run] of runs.entries()) {
    run.catch((err: unknown) => {
      log.error({ err: (err as Error).message, worker: i }, 'worker stopped with an error');
      send({ type: 'error', message: `worker failed: ${(err as Error).message}` });
    });
  }
  send(ready);
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.stderr.write(`bench child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  setTimeout(() => process.exit(1), 100);
});
