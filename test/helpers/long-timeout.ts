import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workflow and integration tests start servers and bundle workflow code: give them minutes, not seconds.
jest.setTimeout(300_000);

// Keep the SDK's worker chatter out of test output; warnings and errors still show.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process.
}
