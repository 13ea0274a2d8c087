import path from 'node:path';
import { Client } from '@temporalio/client';
import { ConfigError, loadConfig } from '../config';
import { openDb } from '../db/client';
import { keyRingFromConfig, PiiCipher } from '../db/pii';
import { createLogger } from '../logger';
import { connectClient, dataConverterFromConfig } from '../temporal/connection';
import { createApp } from './app';
import { listen } from './lifecycle';

/**
 * The API alone (`npm run api`), for a deployment that runs workers elsewhere: it needs a reachable
 * Temporal (TEMPORAL_ADDRESS, default the local dev server's port) and the database. SIGTERM stops
 * accepting connections and lets the requests in flight finish.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL).child({ component: 'api' });
  const address = config.TEMPORAL_ADDRESS ?? `${config.TEMPORAL_DEV_HOST}:${config.TEMPORAL_DEV_PORT}`;
  const connection = await connectClient({ address, namespace: config.TEMPORAL_NAMESPACE, tls: config.TEMPORAL_TLS, apiKey: config.TEMPORAL_API_KEY });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverterFromConfig(config) });
  const db = await openDb({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATABASE_URL ? undefined : path.join(config.DATA_DIR, 'pglite'),
  });
  const app = createApp({ db, temporal: client, taskQueue: config.TEMPORAL_TASK_QUEUE, config, cipher: new PiiCipher(keyRingFromConfig(config)), log });
  const api = await listen(app, config.PORT, config.HOST);
  log.info({ url: `http://${config.HOST}:${api.port}` }, 'API listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: letting requests in flight finish');
    api
      .close(15_000)
      .then(() => Promise.all([db.close(), connection.close()]))
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err: (err as Error).message }, 'unclean stop');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`API failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
