import { FailureType, refusalCode } from '../../../contracts/failures';
import { isReasonCode } from '../../../domain';
import type { PhoneVerificationCompleted } from '../../messages';
import { call, callCentre } from '../activities';
import { awaitHumanAct } from '../humanWaits';
import { StageExit, type ApplicationRun } from '../run';

/** A passed verification: its anomalies become flags (and reasons the decision rules weigh). */
function takePassed(run: ApplicationRun, outcome: PhoneVerificationCompleted): void {
  for (const anomaly of outcome.checklist.anomalies ?? []) {
    run.addFlag(anomaly);
    if (isReasonCode(anomaly)) run.stageReasons.add(anomaly);
  }
  if (!outcome.checklist.incomeConfirmed) run.addFlag('INCOME_NOT_CONFIRMED_BY_PHONE');
  if (!outcome.checklist.purposeConfirmed) run.addFlag('PURPOSE_NOT_CONFIRMED_BY_PHONE');
  run.phoneVerified = true;
}

/**
 * phone_verification: a call task per attempt, the verifier's outcome awaited with an SLA (24 h,
 * escalate) and a deadline (72 h, expire); `unreachable` tries again up to three attempts.
 */
export async function phoneVerification(run: ApplicationRun): Promise<void> {
  await run.enter('phone_verification', {}, run.phoneVerified ? null : 'phoneVerificationCompleted');
  if (run.phoneVerified) {
    // Back here after request_info: the applicant was verified already; the call is not repeated.
    await run.recordEvent('phone_verification_reused', `phone-reused:${run.state.stageHistory.length}`);
    return;
  }
  const { applicationId, workflowId } = run;
  const enteredAt = run.now();
  const { slaMs, expiryMs, maxUnreachableAttempts } = run.policy.deadlines.phoneVerification;
  const slaAt = enteredAt + slaMs;
  const expiryAt = enteredAt + expiryMs;
  let escalated = false;
  for (;;) {
    const attempt = ++run.state.phoneAttempts;
    // An outcome recorded while the attempt's call task is being opened waits for it (decideAct).
    run.upcoming = 'phoneVerificationCompleted';
    let taskId: string;
    try {
      const task = await call(callCentre.openCallTask, `open verification call task, attempt ${attempt}`, { applicationId, idempotencyKey: `${workflowId}/phone-verification/${attempt}`, attempt });
      taskId = task.taskId;
    } catch (err) {
      const code = refusalCode(err, FailureType.CallTaskRefused);
      if (code === null) throw err;
      run.addFlag(`PHONE_${code.toUpperCase()}`);
      throw new StageExit('failed', 'PHONE_NOT_CALLABLE');
    }
    const step = `call-task-${attempt}`;
    run.saga.add(step, async (reason) => {
      const r = await call(callCentre.cancelCallTask, `cancel call task ${taskId}`, { applicationId, taskId, reasonCode: reason });
      return r.status;
    });
    run.phoneOutcome = null;
    run.awaitingPhoneOutcome = true;
    run.upcoming = null;
    const task = await run.setPending('phone_verification', 'verifier', expiryAt, { slaAt: run.iso(slaAt), attempt, escalated });
    await awaitHumanAct(run, () => run.phoneOutcome !== null, task, { slaAt, expiryAt }, `phone verification attempt ${attempt}`, 'PHONE_VERIFICATION_EXPIRED');
    escalated = task.escalated;
    run.awaitingPhoneOutcome = false;
    // The call was made: there is nothing left to cancel for this task.
    run.saga.drop(step);
    const outcome = run.phoneOutcome as PhoneVerificationCompleted | null;
    if (!outcome) continue;
    if (outcome.outcome === 'passed') {
      takePassed(run, outcome);
      await run.clearPending();
      return;
    }
    if (outcome.outcome === 'failed') {
      run.addFlag('PHONE_VERIFICATION_FAILED');
      throw new StageExit('rejected', 'PHONE_VERIFICATION_FAILED');
    }
    run.addFlag('PHONE_UNREACHABLE');
    if (attempt >= maxUnreachableAttempts) throw new StageExit('rejected', 'PHONE_UNREACHABLE');
  }
}
