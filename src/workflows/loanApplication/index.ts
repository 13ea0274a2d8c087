/**
 * One car-loan application as a durable process (SPEC §2): intake → document_check →
 * phone_verification → valuation → approval → signing → disbursement → servicing, ending rejected,
 * withdrawn, expired or failed, or handed over to the loan's servicing run once it has started
 * (which closes the application with the loan; runs before that change wait and end closed). The
 * workflow decides; activities act.
 *
 * This file is the wiring and the pipeline; the run object (run.ts) holds the state, each stage
 * is one module (stages/), the saga and the human waits theirs, and every human act is judged by
 * decideAct.ts and applied by handlers.ts. See docs/architecture.md, "The loan-application workflow".
 */
import { allHandlersFinished, condition, log } from '@temporalio/workflow';
import { activityFailureReason } from '../../contracts/failures';
import { canTransition } from '../../domain';
import type { LoanApplicationInput, LoanApplicationResult } from '../messages';
import { registerActHandlers } from './handlers';
import { ApplicationRun, StageExit } from './run';
import { compensate } from './saga';
import { approval } from './stages/approval';
import { disbursement } from './stages/disbursement';
import { documentCheck } from './stages/documentCheck';
import { intake } from './stages/intake';
import { phoneVerification } from './stages/phoneVerification';
import { servicing } from './stages/servicing';
import { signing } from './stages/signing';
import { valuationStage } from './stages/valuation';

export { loanApplicationWorkflowId, loanApplicationStartOptions } from '../messages';
export type { LoanApplicationInput, LoanApplicationResult } from '../messages';

/** The terminal exit a failure stands for: a stage's own exit, or an external step that failed for good. Null for a bug. */
function exitFor(run: ApplicationRun, err: unknown): StageExit | null {
  if (err instanceof StageExit) return err;
  const reason = activityFailureReason(err);
  if (reason === null || !canTransition(run.state.stage, 'failed')) return null;
  // A non-retryable activity failure: undo and end failed.
  run.addFlag(reason);
  return new StageExit('failed', 'STEP_FAILED');
}

async function pipeline(run: ApplicationRun): Promise<LoanApplicationResult> {
  try {
    await intake(run);
    let afterRequestInfo = false;
    let round = 0;
    for (;;) {
      await documentCheck(run, afterRequestInfo);
      await phoneVerification(run);
      const valuationFen = await valuationStage(run);
      if ((await approval(run, valuationFen)) === 'approved') break;
      afterRequestInfo = true;
      round++;
    }
    await signing(run, round + 1);
    await disbursement(run);
    return await servicing(run);
  } catch (err) {
    const exit = exitFor(run, err);
    if (!exit) throw err;
    log.info('application ending', { applicationId: run.applicationId, stage: exit.stage, reason: exit.reason });
    await compensate(run, exit.reason);
    if (exit.stage === 'rejected') await run.notify('application_rejected', 'outcome');
    else if (exit.stage === 'expired') await run.notify('application_expired', 'outcome');
    else if (exit.stage === 'withdrawn') await run.notify('application_withdrawn', 'outcome');
    return run.finish(exit.stage, exit.reason);
  }
}

export async function loanApplication(input: LoanApplicationInput): Promise<LoanApplicationResult> {
  const run = new ApplicationRun(input);
  registerActHandlers(run);
  const result = await pipeline(run);
  // Acts being recorded when the run ended finish first; none is lost.
  await condition(allHandlersFinished);
  return result;
}
