import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { actKeyRingFromConfig } from '../../src/temporal/actKeys';
import { ensureSearchAttributes } from '../../src/temporal/connection';
import { temporalCli, temporalTestServer } from '../../src/temporal/binaries';
import { LOAN_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';
import { bundleLoanWorkflows } from '../../src/worker';

const START_ATTEMPTS = 5;
/**
 * Starts a test server, again if it did not answer in time. The SDK gives the server it spawns five
 * seconds to answer and then kills it ("did not start within 5s"); on a busy machine (two suites
 * each starting servers and a database on two cores) a server can take longer, and a fresh start
 * is all it needs. Any other failure, or the last attempt's, is thrown as it came.
 */
export async function startTestServer(start: () => Promise<TestWorkflowEnvironment>): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= START_ATTEMPTS || !/did not start within/.test(String((err as Error)?.message ?? err))) throw err;
      process.stderr.write(`test server did not answer in time (attempt ${attempt} of ${START_ATTEMPTS}); starting it again\n`);
    }
  }
}

/** The time-skipping test server, from the same binaries the product resolves. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await startTestServer(() => TestWorkflowEnvironment.createTimeSkipping({ server: { executable: temporalTestServer() } }));
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** A real dev server on a free port of 127.0.0.1 with the loan search attributes registered. */
export function localEnv(): Promise<TestWorkflowEnvironment> {
  return startTestServer(() =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: temporalCli(),
        ip: '127.0.0.1',
        searchAttributes: [...LOAN_SEARCH_ATTRIBUTES],
        log: { format: 'pretty', level: 'error' },
      },
    }),
  );
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling the workflows takes seconds: do it once per test file. As a worker bundles them, with the development act keys. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleLoanWorkflows(actKeyRingFromConfig(loadConfig({})), quietLogger);
  return bundle;
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
