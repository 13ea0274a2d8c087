import { ParentClosePolicy, setCurrentDetails, startChild } from '@temporalio/workflow';
import { loanServicingWorkflowId } from '../../messages';
import type { LoanServicingInput, LoanServicingResult } from '../../servicingMessages';
import type { ApplicationRun } from '../run';

/** servicing: the loan handed to its own workflow (a child that outlives this run); answers how it closed. */
export async function servicing(run: ApplicationRun): Promise<LoanServicingResult> {
  const { state, applicationId } = run;
  await run.enter('servicing', { loanId: state.loanId });
  const loanId = state.loanId as string;
  run.servicingWorkflowId = loanServicingWorkflowId(loanId);
  const child = await startChild<(input: LoanServicingInput) => Promise<LoanServicingResult>>('loanServicing', {
    workflowId: run.servicingWorkflowId,
    args: [{ loanId, applicationId, collateralRegistrationOutstanding: !state.collateralRegistered }],
    // The loan outlives this run's fate: servicing goes on whatever happens to the application run.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    staticSummary: `Servicing of loan ${loanId} (application ${applicationId})`,
  });
  setCurrentDetails(run.currentDetails());
  return child.result();
}
