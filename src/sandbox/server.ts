import path from 'node:path';
import { configOrExit } from '../bootstrap';
import { createLogger } from '../logger';
import { startSandbox } from './index';

/**
 * `npm run sandbox`: the sandbox on its own, configured like every process (src/config.ts):
 * SANDBOX_HOST, SANDBOX_PORT, SANDBOX_STATE_FILE (DATA_DIR/sandbox-state.jsonl; empty for memory
 * only), ESIGN_WEBHOOK_URL, ESIGN_WEBHOOK_SECRET, SANDBOX_PAYMENT_PENDING_MS, LOG_LEVEL.
 */
async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.LOG_LEVEL, 'sandbox');
  const stateFile =
    config.SANDBOX_STATE_FILE === undefined ? path.resolve(config.DATA_DIR, 'sandbox-state.jsonl') : config.SANDBOX_STATE_FILE || undefined;
  const sandbox = await startSandbox({
    host: config.SANDBOX_HOST,
    port: config.SANDBOX_PORT,
    stateFile,
    esignWebhookUrl: config.ESIGN_WEBHOOK_URL,
    esignWebhookSecret: config.ESIGN_WEBHOOK_SECRET,
    paymentPendingMs: config.SANDBOX_PAYMENT_PENDING_MS,
    logger: log,
  });
  process.stdout.write(`Sandbox providers listening on ${sandbox.url} (state: ${stateFile ?? 'memory only'})\n`);
  const stop = () => {
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`Sandbox failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
