import fc from 'fast-check';
import {
  DEBIT_ANSWERS,
  DEFAULT_DEBIT_POLICY,
  type DebitAnswer,
  type DebitAttempt,
  type DebitPolicy,
  decideDebit,
  debitIdempotencyKey,
  FINAL_DEBIT_ANSWERS,
} from '../../../src/domain/autoDebit';
import { addDays } from '../../../src/domain/dates';
import { computeLedger, DEFAULT_POLICY, type LedgerTransaction, type LoanContract } from '../../../src/domain';
import { debitTarget } from '../../../src/domain/autoDebit';
import { DomainValueError } from '../../../src/domain/money';

// The debit run's policy for one instalment, as a pure function of due date, owed amount, attempts
// and today (Asia/Shanghai dates). Examples first, then properties over random days the run works
// on, random bank answers and random payments made another way in between.

const due = '2027-01-10';
const base = { loanId: 'ln-1', seq: 3, dueDate: due, owedFen: 300_000 };
const attempt = (n: number, onDate: string, answer?: DebitAnswer, amountFen = 300_000): DebitAttempt => ({
  attempt: n,
  onDate,
  amountFen,
  ...(answer ? { answer } : {}),
});

describe('decideDebit', () => {
  it('waits before the due date and debits what is owed on it', () => {
    expect(decideDebit({ ...base, attempts: [] }, '2027-01-09')).toEqual({ action: 'wait', until: due, reason: 'not_due' });
    expect(decideDebit({ ...base, attempts: [] }, due)).toEqual({
      action: 'debit',
      attempt: 1,
      amountFen: 300_000,
      idempotencyKey: 'auto-debit:ln-1:3:1',
      onDate: due,
    });
  });

  it('retries a retryable answer on D+1 and D+3, then stops', () => {
    const one = [attempt(1, due, 'insufficient_funds')];
    expect(decideDebit({ ...base, attempts: one }, due)).toMatchObject({ action: 'wait', until: '2027-01-11' });
    expect(decideDebit({ ...base, attempts: one }, '2027-01-11')).toMatchObject({ action: 'debit', attempt: 2 });
    const two = [...one, attempt(2, '2027-01-11', 'over_daily_limit')];
    expect(decideDebit({ ...base, attempts: two }, '2027-01-12')).toMatchObject({ action: 'wait', until: '2027-01-13' });
    expect(decideDebit({ ...base, attempts: two }, '2027-01-13')).toMatchObject({ action: 'debit', attempt: 3, idempotencyKey: 'auto-debit:ln-1:3:3' });
    const three = [...two, attempt(3, '2027-01-13', 'insufficient_funds')];
    expect(decideDebit({ ...base, attempts: three }, '2027-01-20')).toEqual({ action: 'stop', reason: 'attempts_exhausted' });
  });

  it.each(FINAL_DEBIT_ANSWERS)('stops at once after %s', (answer) => {
    expect(decideDebit({ ...base, attempts: [attempt(1, due, answer)] }, '2027-01-11')).toEqual({ action: 'stop', reason: 'final_answer' });
  });

  it('stops the moment the instalment is paid another way, even mid-retries', () => {
    expect(decideDebit({ ...base, owedFen: 0, attempts: [attempt(1, due, 'insufficient_funds')] }, '2027-01-11')).toEqual({
      action: 'stop',
      reason: 'paid',
    });
  });

  it('asks no more than is owed now: a part paid by transfer lowers the next debit', () => {
    const d = decideDebit({ ...base, owedFen: 120_000, attempts: [attempt(1, due, 'insufficient_funds')] }, '2027-01-11');
    expect(d).toMatchObject({ action: 'debit', attempt: 2, amountFen: 120_000 });
  });

  it('asks again with the same key when an attempt has no answer, and waits on a pending one', () => {
    expect(decideDebit({ ...base, attempts: [attempt(1, due)] }, '2027-01-11')).toEqual({
      action: 'ask_again',
      attempt: 1,
      amountFen: 300_000,
      idempotencyKey: 'auto-debit:ln-1:3:1',
      onDate: due,
    });
    expect(decideDebit({ ...base, attempts: [attempt(1, due, 'pending')] }, '2027-01-11')).toEqual({
      action: 'wait',
      until: null,
      reason: 'pending_settlement',
    });
  });

  it('makes up a missed attempt day on the next day the run works, never two on one day', () => {
    const one = [attempt(1, due, 'insufficient_funds')];
    expect(decideDebit({ ...base, attempts: one }, '2027-01-14')).toMatchObject({ action: 'debit', attempt: 2, onDate: '2027-01-14' });
    const two = [...one, attempt(2, '2027-01-14', 'insufficient_funds')];
    expect(decideDebit({ ...base, attempts: two }, '2027-01-14')).toMatchObject({ action: 'wait', until: '2027-01-15' });
  });

  it('refuses bad input clearly', () => {
    expect(() => decideDebit({ ...base, owedFen: -1, attempts: [] }, due)).toThrow(DomainValueError);
    expect(() => decideDebit({ ...base, owedFen: 1.5, attempts: [] }, due)).toThrow(/whole number of fen/);
    expect(() => decideDebit({ ...base, attempts: [attempt(2, due, 'insufficient_funds')] }, due)).toThrow(/without gaps/);
    expect(() => decideDebit({ ...base, attempts: [] }, '2027-02-30')).toThrow(/YYYY-MM-DD/);
    expect(() => decideDebit({ ...base, attempts: [] }, due, { attemptDayOffsets: [1, 2] })).toThrow(/due date/);
    expect(() => decideDebit({ ...base, attempts: [] }, due, { attemptDayOffsets: [0, 3, 2] })).toThrow(/increase/);
  });
});

describe('decideDebit over random runs', () => {
  const policyArb: fc.Arbitrary<DebitPolicy> = fc
    .uniqueArray(fc.integer({ min: 1, max: 15 }), { maxLength: 5 })
    .map((later) => ({ attemptDayOffsets: [0, ...later.sort((a, b) => a - b)] }));
  /** One simulated day: does the run work today, what the bank answers, what the customer pays by transfer. */
  const dayArb = fc.record({
    runs: fc.boolean(),
    answer: fc.constantFrom(...DEBIT_ANSWERS),
    answerLost: fc.boolean(),
    paidByTransferFen: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400_000 })),
  });

  it('never asks more than is owed, never twice a day, never after a final answer or payment, at most once per attempt day', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 2_000_000 }), fc.array(dayArb, { minLength: 1, maxLength: 40 }), (policy, owed0, days) => {
        let owed = owed0;
        const attempts: DebitAttempt[] = [];
        const debitDays = new Set<string>();
        let stopped = false;
        let pending: DebitAttempt | undefined;
        let debitedFen = 0;
        days.forEach((day, i) => {
          const today = addDays(due, i - 2);
          if (day.paidByTransferFen) owed = Math.max(0, owed - day.paidByTransferFen);
          if (pending && day.answer !== 'pending') {
            // A pending debit settles (succeeded) on a later day.
            pending.answer = 'succeeded';
            owed = Math.max(0, owed - pending.amountFen);
            pending = undefined;
          }
          if (!day.runs) return;
          const d = decideDebit({ ...base, owedFen: owed, attempts }, today, policy);
          if (d.action === 'stop') {
            if (d.reason === 'paid') expect(owed).toBe(0);
            if (d.reason === 'final_answer') expect(FINAL_DEBIT_ANSWERS).toContain(attempts.at(-1)?.answer);
            stopped = d.reason !== 'paid' ? true : stopped;
            return;
          }
          if (d.action === 'wait') return;
          expect(stopped).toBe(false);
          expect(d.amountFen).toBeGreaterThan(0);
          expect(d.amountFen).toBeLessThanOrEqual(owed0);
          expect(d.idempotencyKey).toBe(debitIdempotencyKey(base.loanId, base.seq, d.attempt));
          if (d.action === 'debit') {
            expect(d.amountFen).toBe(owed);
            expect(debitDays.has(today)).toBe(false);
            debitDays.add(today);
            expect(today >= addDays(due, policy.attemptDayOffsets[d.attempt - 1]!)).toBe(true);
            attempts.push({ attempt: d.attempt, onDate: today, amountFen: d.amountFen });
          }
          const current = attempts.at(-1)!;
          if (day.answerLost) return; // asked, no answer: the next run asks again with the same key
          current.answer = day.answer;
          if (day.answer === 'succeeded') {
            debitedFen += current.amountFen;
            owed = Math.max(0, owed - current.amountFen);
          }
          if (day.answer === 'pending') pending = current;
        });
        expect(attempts.length).toBeLessThanOrEqual(policy.attemptDayOffsets.length);
        // Every debit asked for what was owed when it was asked, so the debits never exceed the instalment.
        expect(debitedFen).toBeLessThanOrEqual(owed0);
      }),
      { numRuns: 1_000 },
    );
  });

  it('decides the same for the same inputs (a replayed run asks with the same keys)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1_000_000 }), (offset, owed) => {
        const state = { ...base, owedFen: owed, attempts: [attempt(1, due, 'insufficient_funds')] };
        const today = addDays(due, offset);
        expect(decideDebit(state, today)).toEqual(decideDebit(state, today, DEFAULT_DEBIT_POLICY));
      }),
    );
  });
});

describe('debitTarget', () => {
  // The ledger test's loan (test/unit/domain/ledger.test.ts): 12,000 CNY over 12 months, 等额本金 at
  // 7.20% from 15 January 2026; instalment 1 (15 February) is 1,072.00, instalment 2 (15 March)
  // 1,066.00; overdue principal costs 0.03% a day (0.30 a day on 1,000.00), after 3 grace days.
  const contract: LoanContract = {
    principalFen: 1_200_000,
    annualRateBps: 720,
    termMonths: 12,
    method: 'equal_principal',
    disbursementDate: '2026-01-15',
    terms: DEFAULT_POLICY.servicing.terms,
  };
  const pay = (id: string, valueDate: string, amountFen: number): LedgerTransaction => ({ kind: 'repayment', id, valueDate, amountFen });

  it('owes nothing before the first due date', () => {
    expect(debitTarget(computeLedger(contract, [], '2026-02-14'))).toBeNull();
  });

  it('collects the instalment on its due date', () => {
    expect(debitTarget(computeLedger(contract, [], '2026-02-15'))).toEqual({ seq: 1, dueDate: '2026-02-15', owedFen: 107_200 });
  });

  it('takes the arrears and their penalty with the next instalment, under its key series', () => {
    const p = computeLedger(contract, [], '2026-03-15');
    const penalty = p.lines[0]!.outstanding.penaltyFen;
    expect(penalty).toBeGreaterThan(0);
    expect(debitTarget(p)).toEqual({ seq: 2, dueDate: '2026-03-15', owedFen: 107_200 + penalty + 106_600 });
  });

  it('owes nothing once it is paid, and only the rest after a part payment', () => {
    expect(debitTarget(computeLedger(contract, [pay('b1', '2026-02-15', 107_200)], '2026-02-20'))).toBeNull();
    expect(debitTarget(computeLedger(contract, [pay('b1', '2026-02-15', 7_200)], '2026-02-15'))).toEqual({ seq: 1, dueDate: '2026-02-15', owedFen: 100_000 });
  });
});
