import fc from 'fast-check';
import {
  type AllocationComponent,
  type LedgerPosition,
  type LedgerTransaction,
  type LoanContract,
  type RepaymentMethod,
  type ServicingTerms,
  addDays,
  aprBps,
  buildSchedule,
  computeLedger,
  conservationGap,
  DEFAULT_POLICY,
  gradeForScore,
  LedgerBook,
  payoffQuote,
  RISK_GRADES,
  scheduleAmounts,
  scheduleTotals,
  simpleInterestRateBps,
} from '../../../src/domain';

// Properties of the servicing ledger over thousands of random loans and random sequences of
// payments (on time, late, partial, ahead), prepayments, waivers, refunds and reversals, booked in
// an order that is not their value-date order (backdated entries included). LEDGER_PROPERTY_RUNS
// scales the number of loans: by default 1,000 for conservation and 500 for most others (a deeper
// run: LEDGER_PROPERTY_RUNS=5000).

const RUNS = Number(process.env.LEDGER_PROPERTY_RUNS ?? 500);

const PERMUTATIONS: AllocationComponent[][] = [
  ['penalty', 'interest', 'principal'],
  ['penalty', 'principal', 'interest'],
  ['interest', 'penalty', 'principal'],
  ['interest', 'principal', 'penalty'],
  ['principal', 'penalty', 'interest'],
  ['principal', 'interest', 'penalty'],
];

const termsArb: fc.Arbitrary<ServicingTerms> = fc.oneof(
  fc.constant(DEFAULT_POLICY.servicing.terms),
  fc.record({
    penalty: fc.record({
      rateMultiplePermille: fc.integer({ min: 0, max: 3000 }),
      base: fc.constantFrom('principal' as const, 'principal_and_interest' as const),
      graceDays: fc.integer({ min: 0, max: 10 }),
      dayCountBasis: fc.constantFrom(360 as const, 365 as const),
    }),
    costCapBps: fc.oneof(fc.constant(null), fc.integer({ min: 600, max: 3600 })),
    allocation: fc.record({ order: fc.constantFrom(...PERMUTATIONS), across: fc.constantFrom('instalment' as const, 'component' as const) }),
    earlyRepaymentFee: fc.oneof(
      fc.constant([]),
      fc.constant(DEFAULT_POLICY.servicing.terms.earlyRepaymentFee),
      fc.tuple(fc.integer({ min: 1, max: 36 }), fc.integer({ min: 0, max: 500 })).map(([m, bps]) => [{ beforeMonth: m, bps }, { beforeMonth: null, bps: Math.floor(bps / 2) }]),
    ),
  }),
);

const contractArb: fc.Arbitrary<LoanContract> = fc.record({
  principalFen: fc.oneof(fc.integer({ min: 100, max: 1_000_000 }), fc.integer({ min: 1_000_000, max: 200_000_000 })),
  annualRateBps: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2400 })),
  termMonths: fc.integer({ min: 1, max: 60 }),
  method: fc.constantFrom<RepaymentMethod>('equal_installment', 'equal_principal'),
  disbursementDate: fc.integer({ min: 0, max: 6000 }).map((d) => addDays('2020-01-01', d)),
  terms: termsArb,
});

type Op =
  | { kind: 'repayment'; day: number; amount: number }
  | { kind: 'prepayment'; day: number; amount: number; mode: 'reduce_installment' | 'reduce_term' }
  | { kind: 'waiver'; day: number; amount: number; component: 'penalty' | 'interest' | 'fee' }
  | { kind: 'refund'; day: number; amount: number }
  | { kind: 'reversal'; day: number; target: number };

/** A loan and a booking sequence of transactions for it (array order = booking order). */
const loanArb = contractArb.chain((contract) => {
  const scale = Math.max(1, scheduleAmounts(contract)[0] ?? 1);
  const horizon = contract.termMonths * 31 + 200;
  const day = fc.integer({ min: -5, max: horizon });
  const amount = fc.oneof(fc.integer({ min: 1, max: scale * 3 }), fc.constant(scale), fc.integer({ min: 1, max: Math.max(1, Math.floor(scale / 10)) }));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('repayment' as const), day, amount }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('prepayment' as const), day, amount: fc.integer({ min: 1, max: contract.principalFen + scale }), mode: fc.constantFrom('reduce_installment' as const, 'reduce_term' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('waiver' as const), day, amount, component: fc.constantFrom('penalty' as const, 'interest' as const, 'fee' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('refund' as const), day, amount: fc.integer({ min: 1, max: scale }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('reversal' as const), day, target: fc.nat() }) },
  );
  return fc.record({ contract: fc.constant(contract), txns: fc.array(op, { maxLength: 25 }).map((ops) => toTransactions(contract, ops)), asOf: fc.integer({ min: 0, max: horizon + 100 }) });
});

function toTransactions(contract: LoanContract, ops: Op[]): LedgerTransaction[] {
  const out: LedgerTransaction[] = [];
  const money: string[] = [];
  ops.forEach((op, i) => {
    const id = `t${i}`;
    const valueDate = addDays(contract.disbursementDate, op.day);
    if (op.kind === 'repayment') out.push({ kind: 'repayment', id, valueDate, amountFen: op.amount });
    else if (op.kind === 'prepayment') out.push({ kind: 'prepayment', id, valueDate, amountFen: op.amount, mode: op.mode });
    else if (op.kind === 'waiver') out.push({ kind: 'waiver', id, valueDate, amountFen: op.amount, component: op.component });
    else if (op.kind === 'refund') out.push({ kind: 'refund', id, valueDate, amountFen: op.amount });
    else if (money.length > 0) out.push({ kind: 'reversal', id, valueDate, targetId: money[op.target % money.length] as string });
    if (op.kind === 'repayment' || op.kind === 'prepayment') money.push(id);
  });
  return out;
}

const dateOf = (c: LoanContract, days: number) => addDays(c.disbursementDate, days);

/** Everything of a position but the list of transactions (which a reversal adds to). */
const withoutTransactions = ({ transactions: _t, ...rest }: LedgerPosition) => rest;

describe('no fen created or lost', () => {
  test('allocations + credit + refunds paid = payments − reversed payments, on every as-of date', () => {
    fc.assert(
      fc.property(loanArb, ({ contract, txns, asOf }) => {
        const date = dateOf(contract, asOf);
        const p = computeLedger(contract, txns, date);
        // Independently of the ledger's own totals: from the transactions themselves.
        const reversed = new Set(txns.flatMap((t) => (t.kind === 'reversal' ? [t.targetId] : [])));
        const inRange = (t: LedgerTransaction) => (t.valueDate < contract.disbursementDate ? contract.disbursementDate : t.valueDate) <= p.asOfDate;
        const payments = txns.filter((t) => (t.kind === 'repayment' || t.kind === 'prepayment') && inRange(t)).reduce((s, t) => s + (t as { amountFen: number }).amountFen, 0);
        const reversals = txns.filter((t) => (t.kind === 'repayment' || t.kind === 'prepayment') && inRange(t) && reversed.has(t.id)).reduce((s, t) => s + (t as { amountFen: number }).amountFen, 0);
        const allocated = p.allocations.reduce((s, a) => s + a.amountFen, 0);
        const refunds = p.transactions.filter((t) => t.kind === 'refund' && t.status === 'applied').reduce((s, t) => s + t.amountFen - t.uncoveredFen, 0);
        expect(allocated + p.totals.creditFen + refunds).toBe(payments - reversals);
        expect(conservationGap(p)).toBe(0);
        // Nothing negative anywhere.
        expect(p.allocations.every((a) => a.amountFen > 0)).toBe(true);
        expect(p.totals.creditFen).toBeGreaterThanOrEqual(0);
        for (const line of p.lines) for (const v of Object.values(line.outstanding)) expect(v).toBeGreaterThanOrEqual(0);
        // What was paid to each instalment is what the allocations say.
        for (const line of p.lines) {
          const to = (c: string) => p.allocations.filter((a) => a.seq === line.seq && a.component === c).reduce((s, a) => s + a.amountFen, 0);
          if (line.version === 1 || line.paid.principalFen > 0) expect(line.paid).toEqual({ principalFen: to('principal'), interestFen: to('interest'), penaltyFen: to('penalty') });
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });
});

describe('incremental = recomputed from scratch', () => {
  test('a LedgerBook fed transaction by transaction (backdated ones included) answers what a replay from scratch answers', () => {
    fc.assert(
      fc.property(loanArb, fc.array(fc.integer({ min: 0, max: 2100 }), { minLength: 1, maxLength: 25 }), ({ contract, txns }, queries) => {
        const book = new LedgerBook(contract);
        txns.forEach((txn, i) => {
          book.record(txn);
          const date = dateOf(contract, queries[i % queries.length] as number);
          expect(book.positionAt(date)).toEqual(computeLedger(contract, txns.slice(0, i + 1), date));
        });
        const end = dateOf(contract, Math.max(...queries));
        expect(book.positionAt(end)).toEqual(computeLedger(contract, txns, end));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  test('accruing penalties in bulk gives what accruing them day by day gives', () => {
    fc.assert(
      fc.property(loanArb, ({ contract, txns, asOf }) => {
        const date = dateOf(contract, asOf);
        expect(computeLedger(contract, txns, date)).toEqual(computeLedger(contract, txns, date, { dayByDay: true }));
      }),
      { numRuns: RUNS },
    );
  });

  test('a reversal restores the loan to what it would have been without the reversed payment', () => {
    fc.assert(
      fc.property(loanArb, fc.nat(), fc.integer({ min: 0, max: 2000 }), ({ contract, txns, asOf }, pick, reversedOn) => {
        const money = txns.filter((t) => t.kind === 'repayment' || t.kind === 'prepayment');
        fc.pre(money.length > 0);
        const target = money[pick % money.length] as LedgerTransaction;
        const date = dateOf(contract, asOf);
        const withReversal = computeLedger(contract, [...txns, { kind: 'reversal', id: 'rv', valueDate: dateOf(contract, reversedOn), targetId: target.id }], date);
        const without = computeLedger(contract, txns.filter((t) => t.id !== target.id && !(t.kind === 'reversal' && t.targetId === target.id)), date);
        expect(withoutTransactions(withReversal)).toEqual(withoutTransactions(without));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('allocation order', () => {
  test('each payment pays in the configured order, and credit is held only when nothing is due', () => {
    fc.assert(
      fc.property(loanArb, ({ contract, txns, asOf }) => {
        const p = computeLedger(contract, txns, dateOf(contract, asOf));
        const order = contract.terms.allocation.order;
        const key = (seq: number, component: string) => {
          const c = order.indexOf(component as AllocationComponent);
          return contract.terms.allocation.across === 'instalment' ? seq * 10 + c : c * 1000 + seq;
        };
        const groups = new Map<string, number[]>();
        for (const a of p.allocations) {
          if (a.seq === null) continue;
          const g = `${a.txnId}@${a.date}`;
          groups.set(g, [...(groups.get(g) ?? []), key(a.seq, a.component)]);
        }
        for (const keys of groups.values()) expect(keys).toEqual([...keys].sort((x, y) => x - y));
        if (p.totals.creditFen > 0) expect(p.totals.due).toEqual({ principalFen: 0, interestFen: 0, penaltyFen: 0 });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('schedules', () => {
  test('the interest of every period of every schedule version is round(opening balance × monthly rate); principal parts sum to what was amortised', () => {
    fc.assert(
      fc.property(loanArb, ({ contract, txns, asOf }) => {
        const p = computeLedger(contract, txns, dateOf(contract, asOf));
        for (const v of p.versions) {
          for (const l of v.lines) {
            // Half-up rounding of opening × bps / 120,000, computed here without the code's helpers.
            const exact = BigInt(l.openingBalanceFen) * BigInt(contract.annualRateBps);
            expect(l.interestFen).toBe(Number((2n * exact + 120_000n) / 240_000n));
            expect(l.closingBalanceFen).toBe(l.openingBalanceFen - l.principalFen);
            expect(l.totalFen).toBe(l.principalFen + l.interestFen);
          }
          const changed = v.lines.filter((l) => l.seq >= v.fromSeq);
          expect(changed.reduce((s, l) => s + l.principalFen, 0)).toBe(v.principalFen);
          if (changed.length > 0) expect(changed[changed.length - 1]!.closingBalanceFen).toBe(0);
        }
      }),
      { numRuns: RUNS },
    );
  });

  // Exactly, 等额本金 always costs less; rounded to the fen, a tiny loan at a tiny rate can go either
  // way by a few fen (the last principal part absorbs the rounding), so the loans are real ones:
  // from 10,000 CNY at 1% or more; from 12 months at 3% the difference is far beyond rounding.
  test('等额本金 never costs more interest than 等额本息 (strictly less from 12 months at 3%), and both nothing at 0%', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000, max: 200_000_000 }), fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 2400 })), fc.integer({ min: 2, max: 60 }), (principalFen, annualRateBps, termMonths) => {
        const total = (method: RepaymentMethod) => scheduleTotals(buildSchedule({ principalFen, annualRateBps, termMonths, method, disbursementDate: '2026-01-31' })).interestFen;
        const ep = total('equal_principal');
        const ei = total('equal_installment');
        if (annualRateBps === 0) expect([ep, ei]).toEqual([0, 0]);
        else expect(ep).toBeLessThanOrEqual(ei);
        if (termMonths >= 12 && annualRateBps >= 300) expect(ep).toBeLessThan(ei);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('APR and grading', () => {
  const payments = (principalFen: number, annualRateBps: number, termMonths: number) => scheduleAmounts({ principalFen, annualRateBps, termMonths, method: 'equal_installment' });

  test('APR rises strictly with the rate and with the upfront fee, and is never below the simple rate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000_000, max: 200_000_000 }),
        fc.integer({ min: 0, max: 2300 }),
        fc.integer({ min: 10, max: 100 }),
        fc.constantFrom(12, 24, 36, 48, 60),
        fc.integer({ min: 0, max: 500 }),
        (principalFen, rate, step, termMonths, feeBps) => {
          const fee = Math.floor((principalFen * feeBps) / 10_000);
          const apr = aprBps({ principalFen, upfrontFeeFen: fee, payments: payments(principalFen, rate, termMonths) });
          expect(aprBps({ principalFen, upfrontFeeFen: fee, payments: payments(principalFen, rate + step, termMonths) })).toBeGreaterThan(apr);
          expect(aprBps({ principalFen, upfrontFeeFen: fee + Math.ceil(principalFen / 200), payments: payments(principalFen, rate, termMonths) })).toBeGreaterThan(apr);
          expect(apr).toBeGreaterThanOrEqual(simpleInterestRateBps({ principalFen, upfrontFeeFen: fee, payments: payments(principalFen, rate, termMonths) }));
        },
      ),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  test('a higher credit score never gets a worse grade', () => {
    fc.assert(
      fc.property(fc.integer({ min: 300, max: 900 }), fc.integer({ min: 0, max: 600 }), (score, more) => {
        expect(RISK_GRADES.indexOf(gradeForScore(score + more))).toBeLessThanOrEqual(RISK_GRADES.indexOf(gradeForScore(score)));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('penalty and payoff against their formulas', () => {
  test('an unpaid instalment n days late (no cap) owes round(base × rate × multiple × n / (10,000 × 1,000 × basis)), none within grace', () => {
    fc.assert(
      fc.property(contractArb, fc.integer({ min: 0, max: 200 }), (c, late) => {
        const contract = { ...c, terms: { ...c.terms, costCapBps: null } };
        const first = buildSchedule({ ...contract })[0]!;
        const line = computeLedger(contract, [], addDays(first.dueDate, late)).lines[0]!;
        const base = BigInt(first.principalFen + (contract.terms.penalty.base === 'principal_and_interest' ? first.interestFen : 0));
        const den = 10_000n * 1_000n * BigInt(contract.terms.penalty.dayCountBasis);
        const num = base * BigInt(contract.annualRateBps) * BigInt(contract.terms.penalty.rateMultiplePermille) * BigInt(late);
        const expected = late <= contract.terms.penalty.graceDays ? 0 : Number((2n * num + den) / (2n * den));
        expect(line.due.penaltyFen).toBe(expected);
      }),
      { numRuns: RUNS },
    );
  });

  test('paying a payoff quote on its date (today or up to 30 days ahead) closes the loan', () => {
    fc.assert(
      fc.property(loanArb, fc.integer({ min: 0, max: 30 }), ({ contract, txns, asOf }, ahead) => {
        const date = dateOf(contract, Math.min(asOf, contract.termMonths * 28));
        const on = addDays(date, ahead);
        const known = txns.filter((t) => t.valueDate <= date);
        const before = computeLedger(contract, known, on);
        fc.pre(before.settled === null);
        const q = payoffQuote(contract, known, on);
        fc.pre(q.totalFen > 0);
        const after = computeLedger(contract, [...known, { kind: 'repayment', id: 'payoff', valueDate: on, amountFen: q.totalFen }], on);
        expect(after.settled).not.toBeNull();
        expect(after.totals.balanceFen).toBe(0);
        // The quote is the least that closes it.
        if (q.totalFen > 1) {
          const short = computeLedger(contract, [...known, { kind: 'repayment', id: 'payoff', valueDate: on, amountFen: q.totalFen - 1 }], on);
          expect(short.settled).toBeNull();
        }
      }),
      { numRuns: RUNS },
    );
  });
});
