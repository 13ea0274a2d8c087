import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { loanApplicationStartOptions, type LoanApplicationInput } from '../workflows/messages';

export interface StartLoanApplicationOptions {
  taskQueue: string;
  /** Deadline of the start call: a Temporal that does not answer is an error, not a hang. */
  timeoutMs: number;
}

/**
 * The one way an application's workflow is started (by the API at create, by the reconciler for an
 * orphan): by its id, once. A running run with the id is reused and a closed one is never started
 * again, so any number of starters, retries and races give one run. Answers `closed` when the run
 * had already finished; throws Temporal's error (ServiceError, DEADLINE_EXCEEDED) when it did not
 * answer in time.
 */
export async function startLoanApplication(client: Client, input: LoanApplicationInput, opts: StartLoanApplicationOptions): Promise<'running' | 'closed'> {
  const options = loanApplicationStartOptions(input, opts.taskQueue);
  try {
    await client.connection.withDeadline(Date.now() + opts.timeoutMs, () =>
      client.workflow.start('loanApplication', {
        ...options,
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      }),
    );
    return 'running';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'closed';
    throw err;
  }
}
