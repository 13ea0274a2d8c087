import path from 'node:path';
import { createLogger } from '../logger';
import { startSandbox } from './index';

/**
 * `npm run sandbox`: the sandbox on its own. Reads its environment directly for now:
 * SANDBOX_HOST (127.0.0.1), SANDBOX_PORT (4010), SANDBOX_STATE_FILE (data/sandbox-state.jsonl;
 * empty for memory only), ESIGN_WEBHOOK_URL, ESIGN_WEBHOOK_SECRET, SANDBOX_PAYMENT_PENDING_MS, LOG_LEVEL.
 */
async function main(): Promise<void> {
  const env = process.env;
  const log = createLogger(env.LOG_LEVEL ?? 'info', 'sandbox');
  const stateFile =
    env.SANDBOX_STATE_FILE === undefined
      ? path.resolve(env.DATA_DIR ?? path.resolve(process.cwd(), 'data'), 'sandbox-state.jsonl')
      : env.SANDBOX_STATE_FILE || undefined;
  const sandbox = await startSandbox({
    host: env.SANDBOX_HOST ?? '127.0.0.1',
    port: Number(env.SANDBOX_PORT ?? 4010),
    stateFile,
    esignWebhookUrl: env.ESIGN_WEBHOOK_URL || undefined,
    esignWebhookSecret: env.ESIGN_WEBHOOK_SECRET || undefined,
    paymentPendingMs: env.SANDBOX_PAYMENT_PENDING_MS ? Number(env.SANDBOX_PAYMENT_PENDING_MS) : undefined,
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
