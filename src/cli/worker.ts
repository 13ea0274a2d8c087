import path from 'node:path';
import { configOrExit, connectTemporal, temporalTarget } from '../bootstrap';
import { openDb } from '../db/client';
import { createLogger } from '../logger';
import { connectWorker, dataConverterFromConfig, ensureSearchAttributes } from '../temporal/connection';
import { installTemporalRuntime } from '../temporal/runtime';
import { ensureReminderSchedule } from '../temporal/schedules';
import { workerVersion } from '../temporal/buildId';
import { rollOutAtStart } from '../temporal/deployments';
import { activityDepsFromConfig, createWorker } from '../worker';

/**
 * A worker alone (`npm run worker`), for deployments that run N of them on the task queue: it needs
 * a reachable Temporal (TEMPORAL_ADDRESS, default the local dev server's port), the database and
 * the providers. SIGTERM drains it: activity attempts in flight finish, then it stops polling.
 */
async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.LOG_LEVEL).child({ component: 'worker' });
  installTemporalRuntime(log, { metricsBind: config.WORKER_METRICS_PORT ? `${config.HOST}:${config.WORKER_METRICS_PORT}` : undefined });
  const target = temporalTarget(config);
  const dataConverter = dataConverterFromConfig(config);
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATABASE_URL ? undefined : path.join(config.DATA_DIR, 'pglite') });
  const connection = await connectWorker(target);
  const version = workerVersion(config);
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: activityDepsFromConfig(config, db.db),
    dataConverter,
    version,
  });

  const { client, connection: clientConnection } = await connectTemporal(config, target);
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
    await ensureReminderSchedule(client, { taskQueue: config.TEMPORAL_TASK_QUEUE });
  } catch (err) {
    log.error({ err: (err as Error).message }, 'could not ensure the repayment reminders schedule');
  }

  const stop = (signal: string) => {
    log.info({ signal }, 'draining');
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const running = worker.run();
  if (version) {
    try {
      // Polling already: the server learns the version from the polls.
      await rollOutAtStart(client, version, config.WORKER_ROLLOUT ?? 'manual', log);
    } catch (err) {
      // Still polling: an operator can promote the version with npm run release.
      log.error({ err: (err as Error).message, buildId: version.buildId }, 'could not roll out the worker version');
    }
  }
  await clientConnection.close();
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: target.address, buildId: version?.buildId ?? null }, 'worker polling');
  await running;
  await connection.close();
  await db.close();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`Worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
