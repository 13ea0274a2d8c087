import { configOrExit } from './bootstrap';
import { watchLaunchers } from './launchers';
import { createLogger } from './logger';
import { startSystem, type RunningSystem } from './system';
import { workerVersion } from './temporal/buildId';

async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.LOG_LEVEL);
  // Whatever kills npm (or tsx) kills this system too: nothing it started outlives `npm start`.
  let launcherGone: string | undefined;
  let system: RunningSystem | undefined;
  watchLaunchers((why) => {
    launcherGone = why;
    if (system) shutdown(`launcher gone: ${why}`);
  });
  system = await startSystem(config, log);

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
  function shutdown(signal: string): void {
    if (stopping || !system) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    system
      .stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      });
  }
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  if (launcherGone) shutdown(`launcher gone: ${launcherGone}`);
}

main().catch((err) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
