/**
 * The SDK's ephemeral Temporal servers (the dev server and the time-skipping test server that
 * @temporalio/testing spawns), started so that a slow start is not a failure.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';

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
      process.stderr.write(`the Temporal server did not answer in time (attempt ${attempt} of ${START_ATTEMPTS}); starting it again\n`);
    }
  }
}
