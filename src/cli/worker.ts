import path from 'node:path';
import { ConfigError, loadConfig } from '../config';
import { openDb } from '../db/client';
import { createLogger } from '../logger';
import { actKeyRingFromConfig } from '../temporal/actKeys';
import { connectClient, connectWorker, dataConverterFromConfig, ensureSearchAttributes } from '../temporal/connection';
import { installTemporalRuntime } from '../temporal/runtime';
import { ensureReminderSchedule } from '../temporal/schedules';
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
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: activityDepsFromConfig(config, db.db),
    actKeyRing,
    dataConverter,
  });

  const clientConnection = await connectClient(target);
  // The loan search attributes must exist before a workflow upserts them (a fresh cluster, e.g.
  // docker compose, has none); on Temporal Cloud they are registered in its console instead.
  try {
    const added = await ensureSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
    if (added.length) log.info({ added }, 'registered search attributes');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not register search attributes; register them on the cluster');
  }
  // Every worker ensures the daily reminders Schedule; doing it twice is harmless (idempotent).
  try {
    await ensureReminderSchedule(new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE, dataConverter }), {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
    });
  } catch (err) {
    log.error({ err: (err as Error).message }, 'could not ensure the repayment reminders schedule');
  } finally {
    await clientConnection.close();
  }

  const stop = (signal: string) => {
    log.info({ signal }, 'draining');
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: target.address }, 'worker polling');
  await worker.run();
  await connection.close();
  await db.close();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`Worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
