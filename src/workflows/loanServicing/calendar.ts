/**
 * What the calendar does to a loan: the day's position read, a new bucket acted on once (SMS,
 * collections call, hand-off) or a cure, the collateral reminder owed, and the loan's closure.
 */
import { ActivityFailure, log, patched } from '@temporalio/workflow';
import { collateralReminderDue, compareDates, type IsoDate, overdueBucketRule } from '../../domain';
import type { OverdueBucket } from '../servicingMessages';
import { call, calls, db, sms } from './activities';
import { DECIDED_KEPT } from './carried';
import { PATCH } from './patches';
import type { ServicingRun } from './run';

async function cancelOpenCalls(run: ServicingRun): Promise<void> {
  for (const taskId of run.carried.openCallTasks) {
    try {
      await call(calls.cancelCollectionsCall, 'cancel the open collections call', { taskId });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('could not cancel a collections call', { loanId: run.loanId, taskId });
    }
  }
  run.carried.openCallTasks = [];
}

async function bucketActions(run: ServicingRun, seq: number, bucket: OverdueBucket, daysPastDue: number, actions: readonly string[], day: IsoDate): Promise<void> {
  const { loanId } = run;
  for (const action of actions) {
    try {
      if (action === 'sms') await call(sms.sendServicingReminder, `text the overdue reminder (${bucket}, instalment ${seq})`, { loanId, asOfDate: day, seq });
      else if (action === 'call_task') {
        const r = await call(calls.openCollectionsCall, `open a collections call (${bucket}, instalment ${seq})`, { loanId, seq, bucket, idempotencyKey: `${run.workflowId}/collections-call/${seq}/${bucket}` });
        if (r.status === 'created') run.carried.openCallTasks.push(r.taskId);
        else await run.event(`collections_call_refused:${seq}:${bucket}`, 'collections_call_refused', { seq, bucket, code: r.code });
      } else if (action === 'collections_handoff') {
        await run.event(`collections_handoff:${seq}`, 'collections_handoff', { seq, bucket, daysPastDue, overdueFen: run.position?.overdueFen ?? 0, penaltyFen: run.position?.penaltyFen ?? 0 });
      }
    } catch (err) {
      // A provider that stays down for the whole retry budget must not stop the loan's servicing.
      if (!(err instanceof ActivityFailure)) throw err;
      await run.event(`collections_action_failed:${seq}:${bucket}:${action}`, 'collections_action_failed', { seq, bucket, action });
    }
  }
}

/** The day's position (read once a day, or fresh from a booking) and what a new bucket asks for. */
export async function evaluate(run: ServicingRun, day: IsoDate): Promise<void> {
  const { carried } = run;
  if (run.position?.asOfDate !== day) run.position = await call(db.servicingPosition, `read the loan's position on ${day}`, { loanId: run.loanId, asOfDate: day });
  if (carried.payoffQuote && compareDates(day, carried.payoffQuote.asOfDate) > 0) carried.payoffQuote = null;
  await reassess(run, day);
  await remindCollateral(run, day);
}

/** Acts on the position's bucket: entered (once per bucket), or cured. */
export async function reassess(run: ServicingRun, day: IsoDate): Promise<void> {
  const { position, carried } = run;
  if (!position || carried.closed) return;
  const d = position.delinquency;
  const rule = d ? overdueBucketRule(d.daysPastDue) : null;
  const bucket = rule?.bucket ?? null;
  if (bucket !== carried.bucket) {
    const from = carried.bucket;
    carried.bucket = bucket;
    if (bucket === null) {
      await run.event(`overdue_cured:${from}:${day}`, 'overdue_cured', { from });
      await cancelOpenCalls(run);
      carried.actionsDone = [];
    } else if (d) {
      await run.event(`overdue_bucket:${d.seq}:${bucket}`, 'overdue_bucket_entered', { seq: d.seq, from, bucket, daysPastDue: d.daysPastDue });
    }
    run.publish();
  }
  if (d && rule && !carried.actionsDone.includes(`${d.seq}:${rule.bucket}`)) {
    await bucketActions(run, d.seq, rule.bucket, d.daysPastDue, rule.actions, day);
    carried.actionsDone.push(`${d.seq}:${rule.bucket}`);
  }
}

async function remindCollateral(run: ServicingRun, day: IsoDate): Promise<void> {
  const { position, carried } = run;
  if (!position || !carried.collateralOutstanding) return;
  const owed = collateralReminderDue(position.disbursementDate, day, carried.collateralLastReminded);
  if (!owed) return;
  try {
    await call(sms.sendServicingReminder, 'remind the customer of the mortgage registration', { loanId: run.loanId, asOfDate: day, collateralRemindOn: owed });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    await run.event(`collateral_reminder_failed:${owed}`, 'collateral_reminder_failed', { remindOn: owed });
  }
  carried.collateralLastReminded = owed;
}

export async function close(run: ServicingRun, how: 'repaid' | 'early_payoff'): Promise<void> {
  const { carried } = run;
  const atMs = Date.now();
  await call(db.closeLoan, `close the loan (${how})`, { loanId: run.loanId, how, closedAtMs: atMs });
  await run.event('loan_closed', 'loan_closed', { how, unappliedFen: run.position?.creditFen ?? 0 });
  // Its application run handed the loan over and ended: the application's closure is this run's to record.
  if (run.input.handedOver && patched(PATCH.closesApplication)) await run.closeApplication(how);
  await cancelOpenCalls(run);
  carried.bucket = null;
  carried.closed = { atMs, how };
  // Nothing is left to reverse or waive on a closed loan: those requests end here, recorded.
  for (const r of carried.pending.filter((p) => p.kind !== 'refund')) {
    await run.event(`${r.kind}_dropped:${r.requestId}`, `${r.kind}_dropped`, { requestId: r.requestId, requestedBy: r.requestedBy, reason: 'LOAN_CLOSED' });
  }
  carried.decided = [...carried.decided, ...carried.pending.filter((p) => p.kind !== 'refund').map((p) => p.requestId)].slice(-DECIDED_KEPT);
  carried.pending = carried.pending.filter((r) => r.kind === 'refund');
  run.publish();
}
