/**
 * The previous release's calendar: the day's statuses and bucket mirrored into the database, the
 * actions a new bucket takes once, the collateral reminder, and the loan's closure.
 */
import { ActivityFailure, allHandlersFinished, condition, log } from '@temporalio/workflow';
import { type InstallmentStatus, type IsoDate, compareDates } from '../../domain';
import { collateralReminderDue, delinquencyOn, statusesOn } from '../../domain/servicingRules';
import type { LoanServicingResult, OverdueBucket } from '../servicingMessages';
import { drain } from './acts';
import { calls, db, sms } from './activities';
import type { LegacyServicingRun } from './run';

async function cancelOpenCalls(run: LegacyServicingRun): Promise<void> {
  const { carried } = run;
  for (const taskId of carried.openCallTasks) {
    try {
      await calls.cancelCollectionsCall({ taskId });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('could not cancel a collections call', { loanId: run.loanId, taskId });
    }
  }
  carried.openCallTasks = [];
}

async function bucketActions(run: LegacyServicingRun, seq: number, bucket: OverdueBucket, daysPastDue: number, actions: readonly string[], day: IsoDate) {
  const { loanId } = run;
  for (const action of actions) {
    try {
      if (action === 'sms') {
        await sms.sendServicingReminder({ loanId, asOfDate: day, seq });
      } else if (action === 'call_task') {
        const r = await calls.openCollectionsCall({ loanId, seq, bucket, idempotencyKey: `${run.workflowId}/collections-call/${seq}/${bucket}` });
        if (r.status === 'created') run.carried.openCallTasks.push(r.taskId);
        else await run.event(`collections_call_refused:${seq}:${bucket}`, 'collections_call_refused', { seq, bucket, code: r.code });
      } else if (action === 'collections_handoff') {
        let overdueFen = 0;
        run.schedule.forEach((row, i) => compareDates(row.dueDate, day) < 0 && (overdueFen += Math.max(0, row.totalFen - (run.paid[i] ?? 0))));
        await run.event(`collections_handoff:${seq}`, 'collections_handoff', { seq, bucket, daysPastDue, overdueFen });
      }
    } catch (err) {
      // A provider that stays down for the whole retry budget must not stop the loan's servicing.
      if (!(err instanceof ActivityFailure)) throw err;
      await run.event(`collections_action_failed:${seq}:${bucket}:${action}`, 'collections_action_failed', { seq, bucket, action });
    }
  }
}

async function remindCollateral(run: LegacyServicingRun, day: IsoDate): Promise<void> {
  const { carried } = run;
  const owed = collateralReminderDue(run.disbursementDate, day, carried.collateralLastReminded);
  if (!owed) return;
  try {
    await sms.sendServicingReminder({ loanId: run.loanId, asOfDate: day, collateralRemindOn: owed });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    await run.event(`collateral_reminder_failed:${owed}`, 'collateral_reminder_failed', { remindOn: owed });
  }
  carried.collateralLastReminded = owed;
}

export async function evaluate(run: LegacyServicingRun, day: IsoDate): Promise<void> {
  const { carried, schedule, paid } = run;
  if (carried.payoffQuote && compareDates(day, carried.payoffQuote.asOfDate) > 0) carried.payoffQuote = null;
  const statuses = statusesOn(schedule, paid, day);
  const delinquency = delinquencyOn(schedule, paid, day);
  const bucket = delinquency?.bucket ?? null;
  const changes = statuses.flatMap((status, i) =>
    status !== 'paid' && status !== run.mirrored[i] ? [{ seq: i + 1, status: status as Exclude<InstallmentStatus, 'paid'> }] : [],
  );
  if (changes.length > 0 || bucket !== run.mirroredBucket) {
    await db.mirrorServicing({ loanId: run.loanId, statuses: changes, bucket });
    run.mirroredBucket = bucket;
  }
  run.mirrored = statuses;

  if (bucket !== carried.bucket) {
    const from = carried.bucket;
    carried.bucket = bucket;
    if (bucket === null) {
      await run.event(`overdue_cured:${from}:${day}`, 'overdue_cured', { from });
      await cancelOpenCalls(run);
      carried.actionsDone = [];
    } else if (delinquency) {
      await run.event(`overdue_bucket:${delinquency.seq}:${bucket}`, 'overdue_bucket_entered', {
        seq: delinquency.seq,
        from,
        bucket,
        daysPastDue: delinquency.daysPastDue,
      });
    }
    run.publish();
  }
  if (delinquency) {
    const key = `${delinquency.seq}:${delinquency.bucket}`;
    if (!carried.actionsDone.includes(key)) {
      await bucketActions(run, delinquency.seq, delinquency.bucket, delinquency.daysPastDue, delinquency.actions, day);
      carried.actionsDone.push(key);
    }
  }

  if (carried.collateralOutstanding) await remindCollateral(run, day);
}

export async function close(run: LegacyServicingRun, how: 'repaid' | 'early_payoff'): Promise<LoanServicingResult> {
  const closedAtMs = Date.now();
  await db.closeLoan({ loanId: run.loanId, how, closedAtMs });
  await run.event('loan_closed', 'loan_closed', { how, unappliedFen: run.unapplied });
  await cancelOpenCalls(run);
  run.carried.bucket = null;
  run.publish();
  // Anything that arrived meanwhile is applied (a late duplicate, money to refund) before the end.
  for (;;) {
    await drain(run);
    await condition(() => run.queue.length > 0 || allHandlersFinished());
    if (run.queue.length === 0) break;
  }
  return { outcome: 'closed', closedAt: new Date(closedAtMs).toISOString(), how };
}
