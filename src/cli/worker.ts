import path from 'node:path';
import { configOrExit, connectTemporal, orExit, temporalTarget } from '../bootstrap';
import { openDb } from '../db/client';
import { createLogger } from '../logger';
import { actKeyRingFromConfig } from '../temporal/actKeys';
import { workerVersion } from '../temporal/buildId';
import { connectWorker, dataConverterFromConfig, ensureSearchAttributes } from '../temporal/connection';
import { rollOutAtStart } from '../temporal/deployments';
import { installTemporalRuntime } from '../temporal/runtime';
import { ensureSchedules } from '../temporal/schedules';
import { activityDepsFromConfig, createWorker } from '../worker';

/**
 * A worker alone (`npm run worker`), for deployments that run N of them on the task queue: it needs
 * a reachable Temporal (TEMPORAL_ADDRESS, default the local dev server's port), the database and
 * the providers. It registers its build as a Worker Deployment version (WORKER_ROLLOUT, README
 * "Releasing workflow code"). SIGTERM drains it: activity attempts in flight finish, then it stops polling.
 */
async function main(): Promise<void> {
  const config = configOrExit();
  // Fails here, before anything connects, when production lacks the act-proof keys.
  const actKeyRing = orExit(() => actKeyRingFromConfig(config));
  const log = createLogger(config.LOG_LEVEL).child({ component: 'worker' });
  installTemporalRuntime(log, { metricsBind: config.WORKER_METRICS_PORT ? `${config.HOST}:${config.WORKER_METRICS_PORT}` : undefined });
  const target = temporalTarget(config);
  const dataConverter = dataConverterFromConfig(config);
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATABASE_URL ? undefined : path.join(config.DATA_DIR, 'pglite') });
  const connection = await connectWorker(target);
  // The client the reconciler's activity starts orphaned applications with, the Schedules' setup and the roll-out.
  const { client, connection: clientConnection } = await connectTemporal(config, target);
  const version = workerVersion(config);
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: activityDepsFromConfig(config, db.db, client),
    actKeyRing,
    dataConverter,
    version,
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
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: target.address, buildId: version?.buildId ?? null }, 'worker polling');
  await running;
  await connection.close();
  await clientConnection.close();
  await db.close();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`Worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
