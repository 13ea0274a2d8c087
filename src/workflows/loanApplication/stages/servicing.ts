import { ParentClosePolicy, setCurrentDetails, startChild, upsertSearchAttributes } from '@temporalio/workflow';
import type { LoanApplicationResult } from '../../messages';
import * as SA from '../../searchAttributes';
import { loanServicingStartOptions, type LoanServicingInput, type LoanServicingResult, type ServicingHandOver } from '../../servicingMessages';
import { PATCH } from '../patches';
import type { ApplicationRun } from '../run';

/** The reason of an application run that ended by handing its loan to servicing. */
export const HANDED_TO_SERVICING = 'HANDED_TO_SERVICING';
/**
 * The LoanStage a run that handed its loan over ends with: not `servicing`, which is the servicing
 * run's (so `LoanStage = "servicing"` lists each loan once), and not `closed`, which the loan is not.
 */
export const HANDED_OVER_STAGE = 'handed_over';

function handOverFacts(run: ApplicationRun): ServicingHandOver {
  const { input, state } = run;
  const o = state.offer;
  if (!o) throw new Error('a loan is handed to servicing without an offer'); // a bug: the task retries until fixed
  const { amountFen, termMonths, repaymentMethod, annualRateBps, aprBps, monthlyPaymentFen } = o;
  return {
    channel: input.channel,
    branchId: input.branchId,
    dealerId: input.dealerId ?? null,
    riskGrade: state.riskGrade,
    offer: { amountFen, termMonths, repaymentMethod, annualRateBps, aprBps, monthlyPaymentFen },
  };
}

/**
 * servicing: the loan handed to its own workflow (a child that outlives this run, ABANDON). Runs
 * since the patch end here, with an outcome that says so, and the servicing run carries the loan
 * (its stage, its closure); earlier runs wait for the child and end closed when it closes the loan.
 */
export async function servicing(run: ApplicationRun): Promise<LoanApplicationResult> {
  const { state, applicationId } = run;
  await run.enter('servicing', { loanId: state.loanId });
  const loanId = state.loanId as string;
  // Asked after the entry's write: a lean run takes it without a marker (run.patched), as a
  // patched() after a local activity answers by the workflow task it runs in, which differs on
  // replay (test/workflow/loanApplication.taskBoundaries.test.ts).
  const handsOver = run.patched(PATCH.handOverToServicing);
  const input: LoanServicingInput = { loanId, applicationId, collateralRegistrationOutstanding: !state.collateralRegistered };
  const options = loanServicingStartOptions(handsOver ? { ...input, handedOver: handOverFacts(run) } : input);
  run.servicingWorkflowId = options.workflowId;
  const child = await startChild<(input: LoanServicingInput) => Promise<LoanServicingResult>>('loanServicing', {
    ...(handsOver ? options : { workflowId: options.workflowId, args: options.args, staticSummary: options.staticSummary }),
    // The loan outlives this run's fate: servicing goes on whatever happens to the application run.
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  if (!handsOver) {
    setCurrentDetails(run.currentDetails());
    const closed = await child.result();
    return run.finish('closed', closed.how === 'early_payoff' ? 'EARLY_PAYOFF' : null);
  }
  state.outcomeReason = HANDED_TO_SERVICING;
  upsertSearchAttributes([{ key: SA.LoanStage, value: HANDED_OVER_STAGE }]);
  setCurrentDetails(run.currentDetails());
  return { stage: 'servicing', outcomeReason: HANDED_TO_SERVICING, loanId, servicingWorkflowId: run.servicingWorkflowId };
}
