import path from 'node:path';
import { configOrExit, connectTemporal } from '../bootstrap';
import { openDb } from '../db/client';
import { keyRingFromConfig, PiiCipher } from '../db/pii';
import { createLogger } from '../logger';
import { createApp } from './app';
import { listen } from './lifecycle';

/**
 * The API alone (`npm run api`), for a deployment that runs workers elsewhere: it needs a reachable
 * Temporal (TEMPORAL_ADDRESS, default the local dev server's port) and the database. SIGTERM stops
 * accepting connections and lets the requests in flight finish.
 */
async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.LOG_LEVEL).child({ component: 'api' });
  const { client, connection } = await connectTemporal(config);
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
