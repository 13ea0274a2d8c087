import * as SA from '../../searchAttributes';
import { call } from '../activities';
import { StageExit, type ApplicationRun } from '../run';

/** intake: the stored application must match the input; then the blacklist and duplicate screen. */
export async function intake(run: ApplicationRun): Promise<void> {
  const { input, state, applicationId } = run;
  // Also set by loanApplicationStartOptions; repeated for runs started from the UI or the CLI.
  run.searchOnce([
    { key: SA.LoanChannel, value: input.channel },
    { key: SA.BranchId, value: input.branchId },
    { key: SA.LoanAmountFen, value: input.amountFen },
  ]);
  await run.recordIntake();
  const facts = await call(run.db.loadApplicationFacts, 'load the stored application (no personal data)', { applicationId });
  if (facts.amountFen !== input.amountFen || facts.termMonths !== input.termMonths || facts.vehicle?.condition !== input.vehicle.condition) {
    throw new StageExit('failed', 'INPUT_DOES_NOT_MATCH_STORED_APPLICATION');
  }
  const screen = await call(run.db.screenApplication, 'blacklist and duplicate-application screen', { applicationId });
  if (screen.outcome !== 'clear') {
    run.addFlag(screen.reasonCode as string);
    state.decisions.push({ actor: 'system', decision: 'reject', reasonCode: screen.reasonCode as string, at: run.iso(run.now()), counted: true });
    throw new StageExit('rejected', screen.reasonCode as string);
  }
}
