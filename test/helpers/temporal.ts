import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { actKeyRingFromConfig } from '../../src/temporal/actKeys';
import { ensureSearchAttributes } from '../../src/temporal/connection';
import { temporalCli, temporalTestServer } from '../../src/temporal/binaries';
import { LOAN_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';
import { bundleLoanWorkflows } from '../../src/worker';
import { startTestServer } from '../../src/temporal/ephemeral';

/** The time-skipping test server, from the same binaries the product resolves. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await startTestServer(() => TestWorkflowEnvironment.createTimeSkipping({ server: { executable: temporalTestServer() } }));
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** A real dev server on a free port of 127.0.0.1 with the loan search attributes registered (`extraArgs`: more of its flags). */
export function localEnv({ extraArgs = [] }: { extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  return startTestServer(() =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: temporalCli(),
        ip: '127.0.0.1',
        searchAttributes: [...LOAN_SEARCH_ATTRIBUTES],
        log: { format: 'pretty', level: 'error' },
        extraArgs,
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
