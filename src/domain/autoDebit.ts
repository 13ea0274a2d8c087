/**
 * Auto-debit (代扣) policy, pure: given an instalment's due date, what the ledger says is owed on it
 * as of a day, and the debit attempts made so far, what the debit run does for that instalment
 * today. The run (issue 19) asks this once per instalment per day; everything it decides follows
 * from these inputs, so a retried or replayed run decides the same.
 *
 * - Attempts are made on the due date and on the policy's later days (default D+1 and D+3), all in
 *   Asia/Shanghai civil dates.
 * - Only a retryable answer (insufficient funds, over the daily limit) leads to another attempt; a
 *   final one (account frozen, card cancelled, mandate revoked) stops the instalment's debits at once.
 * - A pending debit is money that may still arrive: nothing more is requested until it settles.
 * - Never more than is owed, and nothing once the instalment is paid another way.
 * - Each attempt has its own idempotency key (loan, instalment, attempt number), so a run that
 *   crashed or lost the provider's answer asks again with the same key and is answered the same
 *   debit instead of making a second one.
 */
import { addDays, compareDates, isValidDate, type IsoDate } from './dates';
import type { LedgerPosition } from './ledger';
import { DomainValueError, type Fen } from './money';

/** What the bank answers a debit request (the sandbox's documented answers, docs/sandbox.md). */
export const DEBIT_ANSWERS = [
  'succeeded',
  'pending',
  'insufficient_funds',
  'over_daily_limit',
  'account_frozen',
  'card_cancelled',
  'mandate_revoked',
] as const;
export type DebitAnswer = (typeof DEBIT_ANSWERS)[number];

export const RETRYABLE_DEBIT_ANSWERS: readonly DebitAnswer[] = ['insufficient_funds', 'over_daily_limit'];
export const FINAL_DEBIT_ANSWERS: readonly DebitAnswer[] = ['account_frozen', 'card_cancelled', 'mandate_revoked'];

export function isRetryableDebitAnswer(answer: DebitAnswer): boolean {
  return RETRYABLE_DEBIT_ANSWERS.includes(answer);
}

export interface DebitPolicy {
  /** Days after the due date on which a debit is attempted; the first must be 0 (the due date). */
  attemptDayOffsets: readonly number[];
}

/** The product default: the due date, then D+1 and D+3. */
export const DEFAULT_DEBIT_POLICY: DebitPolicy = { attemptDayOffsets: [0, 1, 3] };

export function assertDebitPolicy(policy: DebitPolicy): DebitPolicy {
  const offsets = policy.attemptDayOffsets;
  if (offsets.length === 0 || offsets.length > 10) throw new DomainValueError('a debit policy has 1 to 10 attempt days');
  if (offsets[0] !== 0) throw new DomainValueError('the first debit attempt is on the due date (offset 0)');
  offsets.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0 || d > 60) throw new DomainValueError(`attempt day offset ${d} is not a whole number of days from 0 to 60`);
    if (i > 0 && d <= (offsets[i - 1] ?? 0)) throw new DomainValueError('attempt day offsets must increase');
  });
  return policy;
}

/** One debit asked of the provider for an instalment, with what it answered (absent: no answer yet). */
export interface DebitAttempt {
  /** 1-based; the nth attempt of this instalment. */
  attempt: number;
  /** The Asia/Shanghai date it was made for. */
  onDate: IsoDate;
  amountFen: Fen;
  answer?: DebitAnswer;
}

export interface InstalmentDebitState {
  loanId: string;
  seq: number;
  dueDate: IsoDate;
  /** What the ledger says is owed on this instalment as of `today` (principal, interest, penalties). */
  owedFen: Fen;
  attempts: readonly DebitAttempt[];
}

export type DebitDecision =
  | { action: 'debit'; attempt: number; amountFen: Fen; idempotencyKey: string; onDate: IsoDate }
  /** Ask the provider again, with the same key, what became of an attempt it has not answered. */
  | { action: 'ask_again'; attempt: number; amountFen: Fen; idempotencyKey: string; onDate: IsoDate }
  | { action: 'wait'; until: IsoDate | null; reason: 'not_due' | 'next_attempt_day' | 'pending_settlement' }
  | { action: 'stop'; reason: 'paid' | 'final_answer' | 'attempts_exhausted' };

/** The provider's idempotency key of an attempt: the same attempt is always the same debit. */
export function debitIdempotencyKey(loanId: string, seq: number, attempt: number): string {
  return `auto-debit:${loanId}:${seq}:${attempt}`;
}

/** Decides what the debit run does today for one instalment. */
export function decideDebit(state: InstalmentDebitState, today: IsoDate, policy: DebitPolicy = DEFAULT_DEBIT_POLICY): DebitDecision {
  assertDebitPolicy(policy);
  if (!isValidDate(today) || !isValidDate(state.dueDate)) throw new DomainValueError('dates are YYYY-MM-DD');
  if (!Number.isInteger(state.owedFen) || state.owedFen < 0) throw new DomainValueError('owedFen is a whole number of fen, not negative');
  const attempts = [...state.attempts].sort((a, b) => a.attempt - b.attempt);
  attempts.forEach((a, i) => {
    if (a.attempt !== i + 1) throw new DomainValueError('attempts are numbered 1, 2, 3 … without gaps');
  });

  if (state.owedFen === 0) return { action: 'stop', reason: 'paid' };
  const last = attempts.at(-1);
  const key = (n: number) => debitIdempotencyKey(state.loanId, state.seq, n);

  if (last && last.answer === undefined) {
    // Asked, never answered (a crash or a lost answer): the same key finds out what happened.
    return { action: 'ask_again', attempt: last.attempt, amountFen: last.amountFen, idempotencyKey: key(last.attempt), onDate: last.onDate };
  }
  if (last?.answer === 'pending') return { action: 'wait', until: null, reason: 'pending_settlement' };
  if (last && FINAL_DEBIT_ANSWERS.includes(last.answer!)) return { action: 'stop', reason: 'final_answer' };

  // `last` is absent, succeeded (a part paid: more still owed) or retryable: the next attempt day.
  const next = attempts.length + 1;
  const offset = policy.attemptDayOffsets[next - 1];
  if (offset === undefined) return { action: 'stop', reason: 'attempts_exhausted' };
  const day = addDays(state.dueDate, offset);
  // An attempt day the run missed (it did not run that day) is made up on the next day it runs.
  if (compareDates(today, day) < 0) return { action: 'wait', until: day, reason: next === 1 ? 'not_due' : 'next_attempt_day' };
  if (last && compareDates(today, last.onDate) <= 0) {
    // Never two attempts on one day: the next one waits for its own day.
    return { action: 'wait', until: addDays(last.onDate, 1), reason: 'next_attempt_day' };
  }
  return { action: 'debit', attempt: next, amountFen: state.owedFen, idempotencyKey: key(next), onDate: today };
}

/**
 * What the debit run collects from a loan on a day, read from its ledger position as of that day:
 * everything fallen due and unpaid (the latest instalment due, any arrears of earlier ones and
 * their penalties), under the key series of the latest instalment due that is not paid. Earlier
 * instalments' attempts end when a later one falls due: its debits take their arrears with it, so
 * one loan has one series of attempts at a time and never two debits for the same money. Null when
 * nothing due is unpaid.
 */
export function debitTarget(position: Pick<LedgerPosition, 'asOfDate' | 'lines'>): { seq: number; dueDate: IsoDate; owedFen: Fen } | null {
  let owedFen = 0;
  let latest: { seq: number; dueDate: IsoDate } | null = null;
  for (const line of position.lines) {
    if (compareDates(line.dueDate, position.asOfDate) > 0) continue;
    const o = line.outstanding.principalFen + line.outstanding.interestFen + line.outstanding.penaltyFen;
    if (o <= 0) continue;
    owedFen += o;
    if (!latest || line.seq > latest.seq) latest = { seq: line.seq, dueDate: line.dueDate };
  }
  return latest ? { ...latest, owedFen } : null;
}
