/**
 * The provider sandbox in a process of its own for the bench (like `npm run sandbox`, in memory
 * only, zero latency), which leaves when the bench does: forked with an IPC channel, it exits on
 * disconnect, so a bench that dies does not leave it running.
 */
import { createLogger } from '../../src/logger';
import { startSandbox } from '../../src/sandbox';

async function main(): Promise<void> {
  const sandbox = await startSandbox({
    host: '127.0.0.1',
    port: Number(process.env.SANDBOX_PORT),
    logger: createLogger('warn', 'bench-sandbox'),
  });
  const stop = () => {
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((err) => {
  process.stderr.write(`sandbox failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
