// Servicing arithmetic over a stored schedule: instalment status, days past due, allocating a
// repayment, and which reminder an instalment is owed on a given day. The reminder workflow and
// the loan-servicing workflow call these with the Shanghai date they got from the caller.

import { type Fen, DomainValueError, assertNonNegativeFen, assertPositiveFen } from './money';
import { type IsoDate, daysBetween } from './dates';
import type { Installment } from './schedule';
import { type CollectionAction, type OverdueBucketName, type ProductPolicy, DEFAULT_POLICY, overdueBucketRule } from './policy';

export type InstallmentStatus = 'scheduled' | 'due' | 'paid' | 'overdue';

/** Whole days the due date is behind asOfDate; 0 when not yet past due. */
export function daysPastDue(dueDate: IsoDate, asOfDate: IsoDate): number {
  return Math.max(0, daysBetween(dueDate, asOfDate));
}

/**
 * paid: fully paid; overdue: unpaid after its due date; due: unpaid and falling due within the
 * reminder window (by default today or in the next 3 days); scheduled: anything later.
 */
export function installmentStatus(
  installment: Pick<Installment, 'dueDate' | 'totalFen'>,
  paidFen: Fen,
  asOfDate: IsoDate,
  policy: ProductPolicy = DEFAULT_POLICY,
): InstallmentStatus {
  if (assertNonNegativeFen(paidFen, 'paidFen') >= installment.totalFen) return 'paid';
  const daysUntilDue = daysBetween(asOfDate, installment.dueDate);
  if (daysUntilDue < 0) return 'overdue';
  const window = Math.max(0, ...policy.reminders.daysBeforeDue);
  return daysUntilDue <= window ? 'due' : 'scheduled';
}

export interface RepaymentAllocation {
  /** What this repayment paid towards each instalment, oldest first. */
  allocations: { seq: number; amountFen: Fen }[];
  /** Amount paid so far per instalment after this repayment (index = seq − 1). */
  paidFen: Fen[];
  /** Any excess beyond everything owed (to be refunded or handled as an early payoff). */
  unappliedFen: Fen;
  /** Every instalment is fully paid. */
  fullyRepaid: boolean;
}

/**
 * Applies a repayment to the oldest unpaid instalments first, each up to its total.
 * `paidFen[i]` is what instalment i+1 had received before.
 */
export function allocateRepayment(schedule: readonly Installment[], paidFen: readonly Fen[], amountFen: Fen): RepaymentAllocation {
  if (paidFen.length > schedule.length) throw new DomainValueError('more paid amounts than instalments');
  let remaining = assertPositiveFen(amountFen, 'amountFen');
  const paid = schedule.map((_, i) => assertNonNegativeFen(paidFen[i] ?? 0, `paidFen[${i}]`));
  const allocations: { seq: number; amountFen: Fen }[] = [];
  for (let i = 0; i < schedule.length && remaining > 0; i++) {
    const inst = schedule[i] as Installment;
    const already = paid[i] as Fen;
    const owed = Math.max(0, inst.totalFen - already);
    if (owed === 0) continue;
    const take = Math.min(owed, remaining);
    paid[i] = already + take;
    remaining -= take;
    allocations.push({ seq: inst.seq, amountFen: take });
  }
  return {
    allocations,
    paidFen: paid,
    unappliedFen: remaining,
    fullyRepaid: schedule.every((inst, i) => (paid[i] as Fen) >= inst.totalFen),
  };
}

/** The highest seq such that it and every earlier instalment are fully paid (0 when none). */
export function paidThroughSeq(schedule: readonly Installment[], paidFen: readonly Fen[]): number {
  let seq = 0;
  for (let i = 0; i < schedule.length; i++) {
    if ((paidFen[i] ?? 0) < (schedule[i] as Installment).totalFen) break;
    seq = i + 1;
  }
  return seq;
}

export type Reminder =
  | { kind: 'upcoming'; daysBeforeDue: number }
  | { kind: 'due_today' }
  | { kind: 'overdue'; daysPastDue: number; bucket: OverdueBucketName; actions: readonly CollectionAction[] };

/**
 * The reminder an unpaid instalment is owed on asOfDate, or null. Upcoming and due-today reminders
 * fire on the exact day; overdue ones on every day of a bucket, so `reminderKey` keys them by
 * bucket and each bucket's action happens once even if the job runs every day or twice a day.
 */
export function reminderFor(
  installment: Pick<Installment, 'dueDate' | 'totalFen'>,
  paidFen: Fen,
  asOfDate: IsoDate,
  policy: ProductPolicy = DEFAULT_POLICY,
): Reminder | null {
  if (paidFen >= installment.totalFen) return null;
  const daysUntilDue = daysBetween(asOfDate, installment.dueDate);
  if (daysUntilDue === 0 && policy.reminders.daysBeforeDue.includes(0)) return { kind: 'due_today' };
  if (daysUntilDue > 0) return policy.reminders.daysBeforeDue.includes(daysUntilDue) ? { kind: 'upcoming', daysBeforeDue: daysUntilDue } : null;
  if (daysUntilDue === 0) return null;
  const rule = overdueBucketRule(-daysUntilDue, policy);
  return rule ? { kind: 'overdue', daysPastDue: -daysUntilDue, bucket: rule.bucket, actions: rule.actions } : null;
}

/** An idempotency key for sending `reminder` for instalment `seq` of `loanId`: the same reminder twice has the same key. */
export function reminderKey(loanId: string, seq: number, reminder: Reminder): string {
  const what =
    reminder.kind === 'upcoming' ? `upcoming-${reminder.daysBeforeDue}d` : reminder.kind === 'due_today' ? 'due-today' : `overdue-${reminder.bucket}`;
  return `${loanId}/${seq}/${what}`;
}
