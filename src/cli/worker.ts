import path from 'node:path';
import { ConfigError, loadConfig } from '../config';
import { openDb } from '../db/client';
import { createLogger } from '../logger';
import { actKeyRingFromConfig } from '../temporal/actKeys';
import { connectClient, connectWorker, dataConverterFromConfig, ensureSearchAttributes } from '../temporal/connection';
import { installTemporalRuntime } from '../temporal/runtime';
import { ensureSchedules } from '../temporal/schedules';
import { Client } from '@temporalio/client';
import { activityDepsFromConfig, createWorker } from '../worker';

/**
 * A worker alone (`npm run worker`), for deployments that run N of them on the task queue: it needs
 * a reachable Temporal (TEMPORAL_ADDRESS, default the local dev server's port), the database and
 * the providers. SIGTERM drains it: activity attempts in flight finish, then it stops polling.
 */
async function main(): Promise<void> {
  let config;
  let actKeyRing;
  try {
    config = loadConfig();
    // Fails here, before anything connects, when production lacks the act-proof keys.
    actKeyRing = actKeyRingFromConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL).child({ component: 'worker' });
  installTemporalRuntime(log, { metricsBind: config.WORKER_METRICS_PORT ? `${config.HOST}:${config.WORKER_METRICS_PORT}` : undefined });
  const target = {
    address: config.TEMPORAL_ADDRESS ?? `${config.TEMPORAL_DEV_HOST}:${config.TEMPORAL_DEV_PORT}`,
    namespace: config.TEMPORAL_NAMESPACE,
    tls: config.TEMPORAL_TLS,
    apiKey: config.TEMPORAL_API_KEY,
  };
  const dataConverter = dataConverterFromConfig(config);
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATABASE_URL ? undefined : path.join(config.DATA_DIR, 'pglite') });
  const connection = await connectWorker(target);
  // The client the reconciler's activity starts orphaned applications with, and the Schedules' setup.
  const clientConnection = await connectClient(target);
  const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: activityDepsFromConfig(config, db.db, client),
    actKeyRing,
    dataConverter,
  });

  // The loan search attributes must exist before a workflow upserts them (a fresh cluster, e.g.
  // docker compose, has none); on Temporal Cloud they are registered in its console instead.
  try {
    const added = await ensureSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
    if (added.length) log.info({ added }, 'registered search attributes');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not register search attributes; register them on the cluster');
  }
  // Every worker ensures the Schedules (reminders, reconciler); doing it twice is harmless (idempotent).
  await ensureSchedules(client, { taskQueue: config.TEMPORAL_TASK_QUEUE, RECONCILE_EVERY_MS: config.RECONCILE_EVERY_MS, ORPHAN_AFTER_MS: config.ORPHAN_AFTER_MS }, log);

  const stop = (signal: string) => {
    log.info({ signal }, 'draining');
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: target.address }, 'worker polling');
  await worker.run();
  await connection.close();
  await clientConnection.close();
  await db.close();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`Worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
