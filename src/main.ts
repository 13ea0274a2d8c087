import { configOrExit } from './bootstrap';
import { createLogger } from './logger';
import { workerVersion } from './temporal/buildId';
import { startSystem } from './system';

async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.LOG_LEVEL);
  const system = await startSystem(config, log);

  const lines = [
    '',
    'Car-loan system is running:',
    `  API            ${system.apiUrl}`,
    `  API docs       ${system.apiUrl}/docs`,
    `  Temporal UI    ${system.temporalUiUrl ?? '(external cluster: use its own UI)'}`,
    `  Worker metrics ${config.WORKER_METRICS_PORT ? `http://${config.HOST}:${config.WORKER_METRICS_PORT}/metrics` : '(off)'}`,
    `  Sandbox        ${system.sandbox?.url ?? '(off: providers at their configured URLs)'}`,
    `  Temporal       ${system.temporalAddress}  namespace ${config.TEMPORAL_NAMESPACE}, task queue ${config.TEMPORAL_TASK_QUEUE}`,
    `  Worker build   ${workerVersion(config)?.buildId ?? '(unversioned)'}  deployment ${config.WORKER_DEPLOYMENT_NAME}`,
    `  Database       ${system.db.driver === 'pglite' ? `PGlite in ${config.DATA_DIR}/pglite` : 'PostgreSQL (DATABASE_URL)'}`,
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n'));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    system
      .stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
