import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../logger';

/**
 * The SDK's process-wide runtime: its logs (worker, workflow and activity loggers) go through our
 * pino logger as JSON, and its worker metrics are served for Prometheus on a port of their own
 * (`WORKER_METRICS_PORT`, 0 to turn off). Installed once, before the first connection.
 */
let installed = false;

export function installTemporalRuntime(log: Logger, opts: { metricsBind?: string | undefined } = {}): void {
  if (installed) return;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const logger = new DefaultLogger((log.level === 'silent' ? 'ERROR' : toSdkLevel(log.level)) as LogLevel, (entry) => {
    const meta: LogMetadata = entry.meta ?? {};
    const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
    sdkLog[level === 'trace' ? 'trace' : level](meta, entry.message);
  });
  try {
    Runtime.install({
      logger,
      ...(opts.metricsBind ? { telemetryOptions: { metrics: { prometheus: { bindAddress: opts.metricsBind } } } } : {}),
    });
  } catch (err) {
    // A runtime already exists in this process (tests install a quiet one): keep it.
    log.debug({ err: (err as Error).message }, 'Temporal runtime already installed');
  }
  installed = true;
}

function toSdkLevel(level: string): string {
  switch (level) {
    case 'trace':
      return 'TRACE';
    case 'debug':
      return 'DEBUG';
    case 'info':
      return 'INFO';
    case 'warn':
      return 'WARN';
    default:
      return 'ERROR';
  }
}
