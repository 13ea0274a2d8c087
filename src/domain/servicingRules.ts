// Servicing rules both the loan-servicing workflow and the activities use (the loan's id is in
// ids.ts with every other id): the calendar of a loan (statuses, delinquency, the next day something changes), reminder texts, and
// the payoff settlement of the servicing runs written before the ledger (src/domain/ledger), which
// such runs keep using until they continue as new.

import { type Fen, fenToYuanString } from './money';
import { type IsoDate, addDays, compareDates, isValidDate } from './dates';
import { type Installment, earlyPayoffAmount } from './schedule';
import { type InstallmentStatus, type Reminder, daysPastDue, installmentStatus, paidThroughSeq, reminderKey } from './servicing';
import { type OverdueBucketName, DEFAULT_POLICY, overdueBucketRule } from './policy';

/** An overdue bucket of a loan (the `OverdueBucket` search attribute holds it, or `none`). */
export type OverdueBucket = OverdueBucketName;

/** An instalment as the workflow holds it (the stored schedule row). */
export type ScheduleRow = Pick<
  Installment,
  'seq' | 'periodStartDate' | 'dueDate' | 'principalFen' | 'interestFen' | 'totalFen' | 'openingBalanceFen' | 'closingBalanceFen'
>;

/** Collateral registration reminders go out every this many days after disbursement until it is done. */
export const COLLATERAL_REMINDER_EVERY_DAYS = 7;
/** A payoff quote can be asked for today or up to this many days ahead. */
export const PAYOFF_QUOTE_MAX_DAYS_AHEAD = 30;

// ---------------------------------------------------------------------------------------------
// Early payoff

export interface PayoffSettlement {
  asOfDate: IsoDate;
  /** What closes the loan on asOfDate, after what was already paid towards unsettled instalments. */
  amountToCloseFen: Fen;
  /** The domain's quote (earlyPayoffAmount) before that deduction. */
  quoteTotalFen: Fen;
  feeFen: Fen;
  /** Added to each instalment's paid amount when the payoff is settled (index = seq − 1). */
  shares: Fen[];
}

/**
 * The domain's payoff amount on asOfDate (unpaid due instalments in full, the principal not yet
 * due at par, the current period's accrued interest, the prepayment fee), less what the borrower
 * already paid towards the instalments it settles (partial payments, money paid ahead).
 */
export function payoffSettlement(
  schedule: readonly ScheduleRow[],
  paidFen: readonly Fen[],
  asOfDate: IsoDate,
  prepaymentFeeBps: number = DEFAULT_POLICY.prepayment.feeBps,
): PayoffSettlement {
  const through = paidThroughSeq(schedule as Installment[], paidFen);
  const quote = earlyPayoffAmount(schedule as Installment[], { asOfDate, paidThroughSeq: through, prepaymentFeeBps });
  let paidTowardsUnsettled = 0;
  for (let i = through; i < schedule.length; i++) paidTowardsUnsettled += paidFen[i] ?? 0;
  const amountToClose = Math.max(0, quote.totalFen - paidTowardsUnsettled);
  const fee = Math.min(quote.prepaymentFeeFen, amountToClose);
  // Spread the non-fee part over the unsettled instalments, oldest first, each up to what it owes
  // under the payoff: the full total when due, principal + accrued interest for the current period,
  // principal only after it.
  let left = amountToClose - fee;
  const shares = schedule.map(() => 0);
  for (let i = through; i < schedule.length && left > 0; i++) {
    const row = schedule[i] as ScheduleRow;
    const owed =
      compareDates(row.dueDate, asOfDate) <= 0
        ? row.totalFen
        : row.seq === quote.currentSeq
          ? row.principalFen + quote.accruedInterestFen
          : row.principalFen;
    const take = Math.min(left, Math.max(0, owed - (paidFen[i] ?? 0)));
    shares[i] = take;
    left -= take;
  }
  return { asOfDate, amountToCloseFen: amountToClose, quoteTotalFen: quote.totalFen, feeFen: fee, shares };
}

/** Whether a payoff quote may be given for asOfDate today (domain functions throw otherwise). */
export function payoffDateProblem(schedule: readonly ScheduleRow[], asOfDate: string, today: IsoDate): string | null {
  if (typeof asOfDate !== 'string' || !isValidDate(asOfDate)) return 'asOfDate must be a date YYYY-MM-DD';
  if (compareDates(asOfDate, today) < 0) return 'asOfDate is in the past';
  if (compareDates(asOfDate, addDays(today, PAYOFF_QUOTE_MAX_DAYS_AHEAD)) > 0) return 'asOfDate is too far ahead';
  const first = schedule[0];
  if (!first || compareDates(asOfDate, first.periodStartDate) < 0) return 'asOfDate is before disbursement';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Figures of the servicing state

/** Principal still owed: a payment towards an instalment covers its interest first. */
export function outstandingPrincipalFen(schedule: readonly ScheduleRow[], paidFen: readonly Fen[]): Fen {
  let total = 0;
  schedule.forEach((row, i) => {
    const towardsPrincipal = Math.max(0, (paidFen[i] ?? 0) - row.interestFen);
    total += Math.max(0, row.principalFen - towardsPrincipal);
  });
  return total;
}

export function isFullyPaid(schedule: readonly ScheduleRow[], paidFen: readonly Fen[]): boolean {
  return schedule.every((row, i) => (paidFen[i] ?? 0) >= row.totalFen);
}

export function statusesOn(schedule: readonly ScheduleRow[], paidFen: readonly Fen[], today: IsoDate): InstallmentStatus[] {
  return schedule.map((row, i) => installmentStatus(row, paidFen[i] ?? 0, today));
}

export interface Delinquency {
  /** The oldest unpaid instalment past its due date. */
  seq: number;
  daysPastDue: number;
  bucket: OverdueBucket;
  actions: readonly ('sms' | 'call_task' | 'collections_handoff')[];
}

/** The loan's delinquency: the bucket of its oldest unpaid instalment past due, or null. */
export function delinquencyOn(schedule: readonly ScheduleRow[], paidFen: readonly Fen[], today: IsoDate): Delinquency | null {
  for (let i = 0; i < schedule.length; i++) {
    const row = schedule[i] as ScheduleRow;
    if ((paidFen[i] ?? 0) >= row.totalFen) continue;
    if (compareDates(row.dueDate, today) >= 0) return null;
    const dpd = daysPastDue(row.dueDate, today);
    const rule = overdueBucketRule(dpd);
    return rule ? { seq: row.seq, daysPastDue: dpd, bucket: rule.bucket, actions: rule.actions } : null;
  }
  return null;
}

/**
 * The next day after `today` on which something about the loan changes by the calendar alone: an
 * instalment enters its reminder window or falls overdue, the oldest overdue one enters the next
 * bucket, or a collateral reminder is owed. Null when nothing will change without a payment.
 */
export function nextChangeDate(
  schedule: readonly ScheduleRow[],
  paidFen: readonly Fen[],
  today: IsoDate,
  extra: readonly (IsoDate | null)[] = [],
): IsoDate | null {
  const candidates: IsoDate[] = [];
  const window = Math.max(0, ...DEFAULT_POLICY.reminders.daysBeforeDue);
  let oldestOverdueSeen = false;
  for (let i = 0; i < schedule.length; i++) {
    const row = schedule[i] as ScheduleRow;
    if ((paidFen[i] ?? 0) >= row.totalFen) continue;
    candidates.push(addDays(row.dueDate, -window), addDays(row.dueDate, 1));
    if (!oldestOverdueSeen) {
      oldestOverdueSeen = true;
      for (const b of DEFAULT_POLICY.overdueBuckets) candidates.push(addDays(row.dueDate, b.minDays));
    }
    // Later instalments cannot change anything before this one's window opens.
    if (compareDates(addDays(row.dueDate, -window), today) > 0) break;
  }
  for (const d of extra) if (d) candidates.push(d);
  let best: IsoDate | null = null;
  for (const d of candidates) if (compareDates(d, today) > 0 && (best === null || compareDates(d, best) < 0)) best = d;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Reminders: the kind and day that make a reminder unique, and its text

export function reminderKind(r: Reminder): string {
  return r.kind === 'upcoming' ? `upcoming_${r.daysBeforeDue}d` : r.kind === 'due_today' ? 'due_today' : `overdue_${r.bucket}`;
}

/** The day the reminder is owed from: fixed per instalment and kind, whichever day the sweep runs. */
export function reminderRemindOn(dueDate: IsoDate, r: Reminder): IsoDate {
  if (r.kind === 'upcoming') return addDays(dueDate, -r.daysBeforeDue);
  if (r.kind === 'due_today') return dueDate;
  const rule = DEFAULT_POLICY.overdueBuckets.find((b) => b.bucket === r.bucket);
  return addDays(dueDate, rule ? rule.minDays : r.daysPastDue);
}

export interface ReminderText {
  messageId: string;
  kind: string;
  remindOn: IsoDate;
  template: string;
  text: string;
}

/** The text of an instalment reminder (amount and date only: no name, no number). */
export function instalmentReminderText(loanId: string, seq: number, dueDate: IsoDate, owedFen: Fen, r: Reminder): ReminderText {
  const yuan = fenToYuanString(owedFen, { grouping: true });
  const base = { messageId: reminderKey(loanId, seq, r), kind: reminderKind(r), remindOn: reminderRemindOn(dueDate, r) };
  if (r.kind === 'upcoming') {
    return { ...base, template: 'repayment_upcoming', text: `【车贷】您的车贷第${seq}期应还${yuan}元，将于${dueDate}到期，请按时还款。` };
  }
  if (r.kind === 'due_today') {
    return { ...base, template: 'repayment_due_today', text: `【车贷】您的车贷第${seq}期应还${yuan}元今日（${dueDate}）到期，请确保还款账户余额充足。` };
  }
  return {
    ...base,
    template: `repayment_overdue_${r.bucket.replace('+', 'plus')}`,
    text: `【车贷】您的车贷第${seq}期${yuan}元已于${dueDate}到期未还，已逾期，请尽快还款以免影响征信。`,
  };
}

export function collateralReminderText(loanId: string, remindOn: IsoDate): ReminderText {
  return {
    messageId: `${loanId}/0/collateral-${remindOn}`,
    kind: 'collateral_registration',
    remindOn,
    template: 'collateral_registration_due',
    text: '【车贷】您的车辆抵押登记尚未办理完成，请尽快携带相关材料到车管所办理。',
  };
}

/** The text telling the customer the new instalment after a prepayment re-amortised the loan. */
export function scheduleChangeText(loanId: string, version: number, asOfDate: IsoDate, instalmentFen: Fen, instalments: number, firstDueDate: IsoDate): ReminderText {
  const yuan = fenToYuanString(instalmentFen, { grouping: true });
  return {
    messageId: `${loanId}/0/schedule-v${version}`,
    kind: `schedule_v${version}`,
    remindOn: asOfDate,
    template: 'schedule_changed',
    text: `【车贷】您的提前还款已入账，还款计划已调整：自${firstDueDate}起每期应还${yuan}元，共${instalments}期。`,
  };
}

/** The collateral reminder owed on `today` (the latest due one not yet sent), or null. */
export function collateralReminderDue(disbursementDate: IsoDate, today: IsoDate, lastSent: IsoDate | null): IsoDate | null {
  let d = addDays(disbursementDate, COLLATERAL_REMINDER_EVERY_DAYS);
  let latest: IsoDate | null = null;
  while (compareDates(d, today) <= 0) {
    latest = d;
    d = addDays(d, COLLATERAL_REMINDER_EVERY_DAYS);
  }
  if (latest === null || (lastSent !== null && compareDates(latest, lastSent) <= 0)) return null;
  return latest;
}

/** The first collateral reminder day after `today`. */
export function nextCollateralReminder(disbursementDate: IsoDate, today: IsoDate): IsoDate {
  let d = addDays(disbursementDate, COLLATERAL_REMINDER_EVERY_DAYS);
  while (compareDates(d, today) <= 0) d = addDays(d, COLLATERAL_REMINDER_EVERY_DAYS);
  return d;
}
