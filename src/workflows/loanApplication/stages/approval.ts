import type { CreditAssessment } from '../../../activities/contracts';
import { requiresFourEyes, shanghaiDate } from '../../../domain';
import { call, creditBureau } from '../activities';
import { awaitHumanAct } from '../humanWaits';
import { StageExit, type ApplicationRun, type ApprovalOutcome } from '../run';

/** The credit report and the decision rules' answer become the run's grade, offer and flags. */
function takeAssessment(run: ApplicationRun, assessment: CreditAssessment): void {
  const { state, policy } = run;
  state.riskGrade = assessment.grade;
  state.recommendation = assessment.recommendation;
  state.offer = assessment.offer;
  state.requiresFourEyes = assessment.offer ? requiresFourEyes(assessment.offer.amountFen, policy) : assessment.requiresFourEyes;
  run.maxLoanFen = assessment.maxLoanFen;
  for (const r of assessment.reasons) if (r.severity !== 'info' || r.code === 'FOUR_EYES_REQUIRED') run.addFlag(r.code);
}

// Read through a function: TypeScript cannot see that a handler sets it while the flow awaits.
const decided = (run: ApplicationRun): ApprovalOutcome | null => run.approvalOutcome;

/**
 * approval: the credit report and the decision rules (auto-decline below the floor), then the
 * approvers' decisions (four eyes above the threshold), escalated at the SLA, expired at 7 days.
 */
export async function approval(run: ApplicationRun, valuationFen: number): Promise<'approved' | 'request_info'> {
  const { state, policy } = run;
  // A decision sent while the rules run waits for them (decideAct).
  await run.enter('approval', {}, 'approvalDecision');
  const assessment: CreditAssessment = await call(creditBureau.assessCredit, 'pull the credit report and run the decision rules', {
    applicationId: run.applicationId,
    asOfDate: shanghaiDate(run.now()),
    valuationFen,
    additionalReasonCodes: [...run.stageReasons],
  });
  takeAssessment(run, assessment);
  await run.recordEvent('credit_assessed', `credit:${state.stageHistory.length}`, {
    reportId: assessment.reportId,
    score: assessment.score,
    grade: assessment.grade,
    recommendation: assessment.recommendation,
    reasons: assessment.reasons.map((r) => r.code),
    dtiBps: assessment.dtiBps,
    maxLoanFen: assessment.maxLoanFen,
    offerAmountFen: assessment.offer?.amountFen ?? null,
  });
  await run.publish();

  if (assessment.recommendation === 'auto_decline') {
    run.upcoming = null;
    const code = assessment.reasons.find((r) => policy.autoDeclineReasons.includes(r.code))?.code ?? 'CREDIT_SCORE_BELOW_FLOOR';
    state.decisions.push({ actor: 'system', decision: 'auto_decline', reasonCode: code, at: run.iso(run.now()), counted: true });
    // PIPL art. 24: an automated decision can be put before a person; the flag tells the API so.
    run.addFlag('HUMAN_REVIEW_AVAILABLE');
    await run.recordEvent('auto_declined', `auto-decline:${state.stageHistory.length}`, { reasonCode: code });
    throw new StageExit('rejected', code);
  }

  const enteredAt = run.now();
  const slaAt = enteredAt + policy.deadlines.approval.slaMs;
  const expiryAt = enteredAt + policy.deadlines.approval.expiryMs;
  run.approvals = [];
  run.approvalOutcome = null;
  run.awaitingApproval = true;
  run.upcoming = null;
  const needed = state.requiresFourEyes ? 2 : 1;
  const task = await run.setPending('approval', 'approver', expiryAt, { slaAt: run.iso(slaAt), approvalsNeeded: needed, approvedBy: [] });
  await awaitHumanAct(run, () => run.approvalOutcome !== null, task, { slaAt, expiryAt }, 'approval', 'APPROVAL_EXPIRED');
  run.awaitingApproval = false;
  const outcome = decided(run) as ApprovalOutcome;
  if (outcome.kind === 'rejected') throw new StageExit('rejected', outcome.reasonCode);
  await run.clearPending();
  return outcome.kind === 'approved' ? 'approved' : 'request_info';
}
