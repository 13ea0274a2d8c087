import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { connectTemporal, temporalTarget } from './bootstrap';
import { createApp } from './api/app';
import { listen } from './api/lifecycle';
import { keyRingFromConfig, PiiCipher } from './db/pii';
import type { Config } from './config';
import { openDb, type DbHandle } from './db/client';
import { actKeyRingFromConfig } from './temporal/actKeys';
import { workerVersion } from './temporal/buildId';
import { connectWorker, dataConverterFromConfig, ensureSearchAttributes } from './temporal/connection';
import { rollOutAtStart } from './temporal/deployments';
import { installTemporalRuntime } from './temporal/runtime';
import { startDevServer, type DevServer } from './temporal/devServer';
import { ensureSchedules } from './temporal/schedules';
import { activityDepsFromConfig, createWorker } from './worker';
import type { Logger } from './logger';
import { startSandbox, type RunningSandbox } from './sandbox';

/** How long in-flight API requests get to finish at stop before their connections are cut. */
const API_GRACE_MS = 15_000;

export interface RunningSystem {
  config: Config;
  db: DbHandle;
  client: Client;
  worker: Worker;
  devServer: DevServer | undefined;
  /** The provider sandbox, when START_SANDBOX is on (the default). */
  sandbox: RunningSandbox | undefined;
  apiUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts every part `npm start` runs, in dependency order: Temporal (a dev server unless
 * TEMPORAL_ADDRESS is set), the database, the worker, the API. `stop()` undoes it in reverse, letting
 * in-flight requests and activity attempts finish.
 */
export async function startSystem(config: Config, log: Logger): Promise<RunningSystem> {
  const undo: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of undo.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, 'error while stopping');
      }
    }
    undo.length = 0;
  };

  try {
    installTemporalRuntime(log, { metricsBind: config.WORKER_METRICS_PORT ? `${config.HOST}:${config.WORKER_METRICS_PORT}` : undefined });
    const dataConverter = dataConverterFromConfig(config);
    let devServer: DevServer | undefined;
    let address = config.TEMPORAL_ADDRESS;
    if (!address) {
      log.info('starting the Temporal dev server');
      devServer = await startDevServer({
        host: config.TEMPORAL_DEV_HOST,
        port: config.TEMPORAL_DEV_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        dbFilename: path.join(config.DATA_DIR, 'temporal', 'temporal.db'),
        namespace: config.TEMPORAL_NAMESPACE,
        // The UI decrypts payloads through the API's codec endpoint (engineers only: see the README).
        uiCodecEndpoint: config.PORT ? `http://${config.HOST}:${config.PORT}/codec` : undefined,
        log: (m) => log.info(m),
      });
      undo.push(() => devServer!.stop());
      address = devServer.address;
    }
    const target = temporalTarget(config, address);

    const { client, connection: clientConnection } = await connectTemporal(config, target);
    undo.push(() => clientConnection.close());
    if (!devServer) {
      try {
        const added = await ensureSearchAttributes(clientConnection, config.TEMPORAL_NAMESPACE);
        if (added.length) log.info({ added }, 'registered search attributes');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not register search attributes; register them on the cluster');
      }
    }

    const db = await openDb({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.DATABASE_URL ? undefined : path.join(config.DATA_DIR, 'pglite'),
    });
    undo.push(() => db.close());

    let sandbox: RunningSandbox | undefined;
    if (config.START_SANDBOX) {
      sandbox = await startSandbox({
        host: '127.0.0.1',
        port: config.SANDBOX_PORT,
        stateFile: path.join(config.DATA_DIR, 'sandbox', 'state.jsonl'),
        esignWebhookSecret: config.ESIGN_WEBHOOK_SECRET,
        logger: log.child({ component: 'sandbox' }),
      });
      undo.push(() => sandbox!.close());
    }

    const workerConnection = await connectWorker(target);
    undo.push(() => workerConnection.close());
    const version = workerVersion(config);
    const worker = await createWorker({
      connection: workerConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      deps: activityDepsFromConfig(config, db.db, client),
      actKeyRing: actKeyRingFromConfig(config),
      dataConverter,
      version,
    });
    const workerRun = worker.run();
    undo.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
    });
    if (version) {
      // One process, one worker: on its own dev server its build takes over from the last one's
      // (nothing else could run that build's pinned runs); against a cluster an operator decides.
      await rollOutAtStart(client, version, config.WORKER_ROLLOUT ?? (devServer ? 'auto' : 'manual'), log.child({ component: 'worker' }));
    }

    // The daily repayment reminders and the reconciler of orphaned applications, created or
    // updated at every start (not fatal: a cloud key without schedule rights only logs it).
    await ensureSchedules(client, { taskQueue: config.TEMPORAL_TASK_QUEUE, RECONCILE_EVERY_MS: config.RECONCILE_EVERY_MS, ORPHAN_AFTER_MS: config.ORPHAN_AFTER_MS }, log);

    const app = createApp({
      db,
      temporal: client,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      config,
      cipher: new PiiCipher(keyRingFromConfig(config)),
      log: log.child({ component: 'api' }),
    });
    const api = await listen(app, config.PORT, config.HOST);
    // Stopped first: requests in flight finish (against a live worker and database) before the rest goes.
    undo.push(() => api.close(API_GRACE_MS));
    const apiPort = api.port;
    // The sandbox's e-signature provider calls the API back when a customer signs.
    sandbox?.setEsignWebhook(`http://${config.HOST}:${apiPort}/webhooks/esign`, config.ESIGN_WEBHOOK_SECRET);

    return {
      config,
      db,
      client,
      worker,
      devServer,
      sandbox,
      apiUrl: `http://${config.HOST}:${apiPort}`,
      temporalAddress: address,
      temporalUiUrl: devServer?.uiUrl,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
