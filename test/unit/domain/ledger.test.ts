import {
  type LedgerTransaction,
  type LoanContract,
  type ServicingTerms,
  computeLedger,
  conservationGap,
  DEFAULT_POLICY,
  LedgerBook,
  nextLedgerChange,
  payoffQuote,
} from '../../../src/domain';

// Known answers of the servicing ledger, each worked out by hand from the policy's formulas in the
// comment beside it (never from the code under test).

const TERMS: ServicingTerms = DEFAULT_POLICY.servicing.terms; // 1.5× penalty, 3 grace days, /360, cap 24%, fee 3%/1%/0
const noCap: ServicingTerms = { ...TERMS, costCapBps: null };

/**
 * 12,000 CNY over 12 months, 等额本金 at 7.20%, drawn on 15 January 2026: the monthly rate is
 * 0.72%/12 = 0.6%, so instalment 1 (due 15 February) is 1,000.00 principal + 72.00 interest =
 * 1,072.00, and instalment 2 (due 15 March) 1,000.00 + 11,000 × 0.6% = 66.00.
 * Penalty rate 7.20% × 1.5 = 10.80% a year, 0.03% a day (/360): on 1,000.00 overdue, 0.30 a day.
 */
const simple = (terms: ServicingTerms = TERMS): LoanContract => ({
  principalFen: 1_200_000,
  annualRateBps: 720,
  termMonths: 12,
  method: 'equal_principal',
  disbursementDate: '2026-01-15',
  terms,
});
const pay = (id: string, valueDate: string, amountFen: number): LedgerTransaction => ({ kind: 'repayment', id, valueDate, amountFen });

describe('the schedule the ledger starts from', () => {
  test('instalments 1 and 2 as worked out by hand', () => {
    const p = computeLedger(simple(), [], '2026-01-15');
    expect(p.lines[0]).toMatchObject({ seq: 1, dueDate: '2026-02-15', due: { principalFen: 100_000, interestFen: 7_200, penaltyFen: 0 }, status: 'scheduled' });
    expect(p.lines[1]).toMatchObject({ seq: 2, dueDate: '2026-03-15', due: { principalFen: 100_000, interestFen: 6_600 } });
    expect(p.totals).toMatchObject({ principalOutstandingFen: 1_200_000, balanceFen: 1_200_000, creditFen: 0 });
  });
});

describe('penalty interest (罚息) with 3 grace days', () => {
  test('paid 10 days late: exactly 10 days of penalty on the overdue principal, 3.00', () => {
    // Due 15 Feb, paid 25 Feb: 10 days late (16..25 Feb), beyond the 3 grace days, so penalty
    // counts from the due date: 100,000 fen × 10.80% / 360 × 10 = 100,000 × 0.0003 × 10 = 300 fen.
    const late = [pay('bank-1', '2026-02-25', 107_200 + 300)];
    const p = computeLedger(simple(), late, '2026-02-25');
    const line = p.lines[0]!;
    expect(line.due.penaltyFen).toBe(300);
    expect(line.penaltyRanges).toEqual([
      { from: '2026-02-16', to: '2026-02-25', days: 10, baseFen: 100_000, annualRateBps: 1080, penaltyFen: 300, capped: false, forgiven: false },
    ]);
    expect(line).toMatchObject({ status: 'paid', settledOn: '2026-02-25', paid: { principalFen: 100_000, interestFen: 7_200, penaltyFen: 300 } });
    expect(p.totals.creditFen).toBe(0);
    expect(conservationGap(p)).toBe(0);
  });

  test('paid within the grace days (3 days late): no penalty owed, the 0.90 that accrued is forgiven', () => {
    // 16, 17, 18 Feb accrue 3 × 30 = 90 fen, forgiven because the principal is paid by day 3.
    const p = computeLedger(simple(), [pay('bank-1', '2026-02-18', 107_200)], '2026-02-28');
    const line = p.lines[0]!;
    expect(line).toMatchObject({ status: 'paid', settledOn: '2026-02-18', due: { penaltyFen: 0 }, outstanding: { principalFen: 0, interestFen: 0, penaltyFen: 0 } });
    expect(line.penaltyRanges).toEqual([
      { from: '2026-02-16', to: '2026-02-18', days: 3, baseFen: 100_000, annualRateBps: 1080, penaltyFen: 90, capped: false, forgiven: true },
    ]);
    expect(p.totals.creditFen).toBe(0);
  });

  test('paid on day 4: the grace is lost and the penalty counts from the due date', () => {
    // 4 days × 30 = 120 fen owed. 1,072.00 pays penalty 1.20, interest 72.00, principal 998.80:
    // 1.20 of principal stays overdue.
    const p = computeLedger(simple(), [pay('bank-1', '2026-02-19', 107_200)], '2026-02-19');
    expect(p.lines[0]).toMatchObject({
      status: 'overdue',
      due: { penaltyFen: 120 },
      paid: { principalFen: 99_880, interestFen: 7_200, penaltyFen: 120 },
      outstanding: { principalFen: 120, interestFen: 0, penaltyFen: 0 },
    });
    expect(p.delinquency).toEqual({ seq: 1, dueDate: '2026-02-15', daysPastDue: 4 });
  });

  test('nothing paid: the penalty is 0 during the grace days and all of it from day 4', () => {
    const at = (date: string) => computeLedger(simple(), [], date).lines[0]!.due.penaltyFen;
    expect(at('2026-02-15')).toBe(0);
    expect(at('2026-02-18')).toBe(0); // 3 days late: within grace
    expect(at('2026-02-19')).toBe(120); // 4 × 30
    expect(at('2026-03-15')).toBe(28 * 30); // 16 Feb .. 15 Mar: 28 days
  });
});

describe('allocation in the configured order', () => {
  test('a part payment pays penalty, then interest, then principal of the oldest instalment', () => {
    // 500.00 on 25 Feb (10 days late, penalty 3.00): penalty 3.00, interest 72.00, principal 425.00.
    const p = computeLedger(simple(), [pay('part', '2026-02-25', 50_000)], '2026-02-25');
    expect(p.allocations).toEqual([
      { txnId: 'part', date: '2026-02-25', seq: 1, component: 'penalty', amountFen: 300 },
      { txnId: 'part', date: '2026-02-25', seq: 1, component: 'interest', amountFen: 7_200 },
      { txnId: 'part', date: '2026-02-25', seq: 1, component: 'principal', amountFen: 42_500 },
    ]);
    expect(p.lines[0]!.outstanding).toEqual({ principalFen: 57_500, interestFen: 0, penaltyFen: 0 });
    // The statement's components add up to the payment.
    const paid = p.lines[0]!.paid;
    expect(paid.principalFen + paid.interestFen + paid.penaltyFen).toBe(50_000);
  });

  test('across components: every instalment\'s interest before any principal', () => {
    // Both instalments overdue on 20 March (2 and 5 days late: #1 past grace, #2 within).
    // Penalty of #1: 16 Feb..20 Mar = 33 days × 30 = 990. With order interest → principal → penalty
    // across components, 200.00 pays interest 72.00 + 66.00, then 62.00 of #1's principal.
    const terms: ServicingTerms = { ...TERMS, allocation: { order: ['interest', 'principal', 'penalty'], across: 'component' } };
    const p = computeLedger(simple(terms), [pay('x', '2026-03-20', 20_000)], '2026-03-20');
    expect(p.allocations.map((a) => [a.seq, a.component, a.amountFen])).toEqual([
      [1, 'interest', 7_200],
      [2, 'interest', 6_600],
      [1, 'principal', 6_200],
    ]);
    expect(p.lines[0]!.outstanding.penaltyFen).toBe(990);
  });

  test('money beyond what is due is credit, paid to the next instalment on its due date', () => {
    const p = computeLedger(simple(), [pay('ahead', '2026-02-10', 107_200 + 106_600)], '2026-02-20');
    expect(p.lines[0]).toMatchObject({ status: 'paid', settledOn: '2026-02-15' });
    expect(p.lines[1]).toMatchObject({ status: 'paid', creditEarmarkedFen: 106_600 });
    expect(p.totals.creditFen).toBe(106_600);
    const later = computeLedger(simple(), [pay('ahead', '2026-02-10', 107_200 + 106_600)], '2026-03-15');
    expect(later.lines[1]).toMatchObject({ status: 'paid', settledOn: '2026-03-15' });
    expect(later.totals.creditFen).toBe(0);
  });
});

describe('the annualised cost cap (24%)', () => {
  test('holds the penalty back once interest and penalty reach 24% a year on the principal outstanding', () => {
    // 15,000 CNY for one month at 18%: one instalment on 15 Feb, 15,000.00 + 225.00 interest.
    // Allowance: 1,500,000 × 24% / 360 = 1,000 fen a day from 16 Jan; penalty 1,500,000 × 27% / 360
    // = 1,125 a day from 16 Feb. Before penalty day n the allowance is 1,000 × (31 + n) and the cost
    // 22,500 + 1,125 × (n − 1): headroom 9,625 − 125n, enough for 1,125 up to n = 68; on day 69 it
    // is 1,000, and from then on the penalty grows with the allowance, 1,000 a day.
    // 80 days late (6 May): 68 × 1,125 + 12 × 1,000 = 76,500 + 12,000 = 88,500.
    const contract: LoanContract = { principalFen: 1_500_000, annualRateBps: 1800, termMonths: 1, method: 'equal_installment', disbursementDate: '2026-01-15', terms: TERMS };
    const line = computeLedger(contract, [], '2026-05-06').lines[0]!;
    expect(line.due).toEqual({ principalFen: 1_500_000, interestFen: 22_500, penaltyFen: 88_500 });
    expect(line.penaltyRanges).toEqual([
      { from: '2026-02-16', to: '2026-04-24', days: 68, baseFen: 1_500_000, annualRateBps: 2700, penaltyFen: 76_500, capped: false, forgiven: false },
      { from: '2026-04-25', to: '2026-05-06', days: 12, baseFen: 1_500_000, annualRateBps: 2700, penaltyFen: 12_000, capped: true, forgiven: false },
    ]);
    const uncapped = computeLedger({ ...contract, terms: noCap }, [], '2026-05-06').lines[0]!;
    expect(uncapped.due.penaltyFen).toBe(80 * 1_125);
  });
});

describe('payoff quote and early payoff', () => {
  const firstPaid = [pay('bank-1', '2026-02-15', 107_200)];

  test('on 1 March after instalment 1: principal, half a period of interest, the 3% fee (no cap)', () => {
    // Principal not yet due 11,000.00; period 15 Feb–15 Mar is 28 days, 14 elapsed:
    // 1,100,000 × 0.6% × 14/28 = 3,300. Fee 3% (first year) of 1,100,000 = 33,000.
    const q = payoffQuote(simple(noCap), firstPaid, '2026-03-01');
    expect(q).toEqual({
      asOfDate: '2026-03-01',
      validUntil: '2026-03-01',
      principalFen: 1_100_000,
      interestDueFen: 0,
      accruedInterestFen: 3_300,
      penaltyFen: 0,
      feeFen: 33_000,
      feeBps: 300,
      creditFen: 0,
      totalFen: 1_136_300,
    });
  });

  test('with the 24% cap the fee is what the cap leaves, and paying the quote on its date closes the loan', () => {
    // Allowance to 1 March: 31 days × 800 (on 12,000.00) + 14 days × 733.33 (on 11,000.00)
    // = 24,800 + 10,266.67 = 35,066.67; charged so far: interest 7,200 and the accrued 3,300.
    // The fee may be at most 35,066.67 − 10,500 = 24,566.67 → 24,566. Quote 1,127,866.
    const q = payoffQuote(simple(), firstPaid, '2026-03-01');
    expect(q).toMatchObject({ principalFen: 1_100_000, accruedInterestFen: 3_300, feeFen: 24_566, totalFen: 1_127_866 });
    const paid = [...firstPaid, pay('payoff', '2026-03-01', q.totalFen)];
    const p = computeLedger(simple(), paid, '2026-03-01');
    expect(p.settled).toEqual({ on: '2026-03-01', how: 'early_payoff' });
    expect(p.totals.creditFen).toBe(0);
    expect(p.transactions[1]).toMatchObject({ prepaidPrincipalFen: 1_100_000, prepaymentInterestFen: 3_300, feeFen: 24_566, createdVersion: 2 });
    expect(p.versions[1]).toMatchObject({ reason: 'payoff', fromSeq: 2, principalFen: 0 });
    expect(p.lines).toHaveLength(1);
    expect(conservationGap(p)).toBe(0);
    // One fen less is not a payoff: it is credit for instalment 2.
    const short = computeLedger(simple(), [...firstPaid, pay('short', '2026-03-01', q.totalFen - 1)], '2026-03-01');
    expect(short.settled).toBeNull();
    expect(short.totals.creditFen).toBe(q.totalFen - 1);
  });

  test('the fee falls to 1% in the second year and to nothing after it', () => {
    const c: LoanContract = { ...simple(noCap), termMonths: 36 };
    expect(payoffQuote(c, [], '2027-01-14').feeBps).toBe(300);
    expect(payoffQuote(c, [], '2027-01-15').feeBps).toBe(100);
    expect(payoffQuote(c, [], '2028-01-14').feeBps).toBe(100);
    expect(payoffQuote(c, [], '2028-01-15').feeBps).toBe(0);
  });

  test('a fee waiver approved before the payoff takes that much off the fee', () => {
    const waived: LedgerTransaction[] = [...firstPaid, { kind: 'waiver', id: 'w-fee', valueDate: '2026-02-20', component: 'fee', amountFen: 10_000 }];
    expect(payoffQuote(simple(noCap), waived, '2026-03-01')).toMatchObject({ feeFen: 23_000, totalFen: 1_126_300 });
  });
});

/** The level payment M = P·r(1+r)^n/((1+r)^n − 1), r = bps/120,000, exactly, rounded half-up: independent of the code. */
function level(principal: number, bps: number, n: number): number {
  const a = (120_000n + BigInt(bps)) ** BigInt(n);
  const d = 120_000n ** BigInt(n);
  const num = BigInt(principal) * BigInt(bps) * a;
  const den = 120_000n * (a - d);
  return Number((2n * num + den) / (2n * den));
}

describe('partial prepayment with re-amortisation', () => {
  // 120,000 CNY, 12 months 等额本息 at 6.50%; instalment 1 paid on time, then 50,000 CNY prepaid on
  // 1 March with no fee (fee schedule emptied to check the principal arithmetic alone).
  const contract: LoanContract = {
    principalFen: 12_000_000,
    annualRateBps: 650,
    termMonths: 12,
    method: 'equal_installment',
    disbursementDate: '2026-01-15',
    terms: { ...noCap, earlyRepaymentFee: [] },
  };
  const first = computeLedger(contract, [], '2026-01-15').lines[0]!;
  const opening2 = 12_000_000 - first.due.principalFen;

  for (const mode of ['reduce_installment', 'reduce_term'] as const) {
    test(`${mode}: the new principal parts sum to the principal left, and the instalments follow the formula`, () => {
      const txns: LedgerTransaction[] = [pay('bank-1', '2026-02-15', first.totalFen), { kind: 'prepayment', id: 'pre', valueDate: '2026-03-01', amountFen: 5_000_000, mode }];
      const p = computeLedger(contract, txns, '2026-03-01');
      const effect = p.transactions[1]!;
      // The current period's interest on the prepaid principal to the day: P' × 6.5%/12 × 14/28.
      expect(effect.prepaymentInterestFen).toBe(Math.round((effect.prepaidPrincipalFen * 650 * 14) / (120_000 * 28)));
      expect(effect.prepaidPrincipalFen + effect.prepaymentInterestFen).toBe(5_000_000);
      const left = opening2 - effect.prepaidPrincipalFen;
      const version = p.versions[1]!;
      expect(version).toMatchObject({ version: 2, reason: 'prepayment', fromSeq: 2, mode, principalFen: left, effectiveDate: '2026-03-01' });
      const newLines = version.lines.filter((l) => l.seq >= 2);
      expect(newLines.reduce((s, l) => s + l.principalFen, 0)).toBe(left);
      const n = newLines.length;
      if (mode === 'reduce_installment') expect(n).toBe(11);
      else {
        // As few instalments as keep the payment at most the old one.
        expect(level(left, 650, n)).toBeLessThanOrEqual(first.totalFen);
        expect(level(left, 650, n - 1)).toBeGreaterThan(first.totalFen);
      }
      const m = level(left, 650, n);
      for (const l of newLines.slice(0, -1)) expect(l.totalFen).toBe(m);
      for (const l of newLines) expect(l.interestFen).toBe(Math.round((l.openingBalanceFen * 650) / 120_000));
      expect(newLines[0]!.openingBalanceFen).toBe(left);
      expect(newLines[n - 1]!.closingBalanceFen).toBe(0);
      // The old schedule is kept as version 1.
      expect(p.versions[0]!.lines).toHaveLength(12);
      expect(p.lines.map((l) => l.version)).toEqual([1, ...newLines.map(() => 2)]);
    });
  }

  test('等额本金 reduce_term keeps the principal part and shortens the term', () => {
    const c = { ...simple(noCap), terms: { ...noCap, earlyRepaymentFee: [] } };
    const txns: LedgerTransaction[] = [pay('bank-1', '2026-02-15', 107_200), { kind: 'prepayment', id: 'pre', valueDate: '2026-02-15', amountFen: 300_000, mode: 'reduce_term' }];
    const p = computeLedger(c, txns, '2026-02-15');
    // On the due date nothing of period 2 has elapsed: 300,000 is all principal, 800,000 left,
    // at 1,000.00 a month: 8 instalments of P/n = 100,000 + balance × 0.6%.
    const lines = p.versions[1]!.lines.filter((l) => l.seq >= 2);
    expect(lines).toHaveLength(8);
    lines.forEach((l, i) => expect(l).toMatchObject({ principalFen: 100_000, interestFen: (800_000 - i * 100_000) * 6 / 1000 }));
  });
});

describe('reversals, waivers and refunds', () => {
  test('a reversed repayment leaves the loan as if it had never been paid, penalties re-accrued', () => {
    // Paid on the due date, reversed on 10 March: #1 overdue since 16 Feb, 23 days × 30 = 690.
    const paid = [pay('bank-1', '2026-02-15', 107_200)];
    const reversed: LedgerTransaction[] = [...paid, { kind: 'reversal', id: 'rv-1', valueDate: '2026-03-10', targetId: 'bank-1' }];
    const p = computeLedger(simple(), reversed, '2026-03-10');
    const never = computeLedger(simple(), [], '2026-03-10');
    expect(p.lines).toEqual(never.lines);
    expect(p.totals).toEqual(never.totals);
    expect(p.lines[0]!.due.penaltyFen).toBe(690);
    expect(p.transactions.map((t) => t.status)).toEqual(['reversed', 'applied']);
  });

  test('a penalty waiver takes the penalty off; what is left is paid by the instalment amount', () => {
    const txns: LedgerTransaction[] = [{ kind: 'waiver', id: 'w1', valueDate: '2026-02-25', component: 'penalty', amountFen: 300 }, pay('bank-1', '2026-02-25', 107_200)];
    const p = computeLedger(simple(), txns, '2026-02-25');
    expect(p.lines[0]).toMatchObject({ status: 'paid', waived: { penaltyFen: 300 }, paid: { penaltyFen: 0, principalFen: 100_000 } });
    // Waiving more than is owed waives what is owed.
    const more = computeLedger(simple(), [{ kind: 'waiver', id: 'w2', valueDate: '2026-02-25', component: 'penalty', amountFen: 5_000 }], '2026-02-25');
    expect(more.transactions[0]!.waivedFen).toBe(300);
  });

  test('an overpayment is credit; a refund of it leaves nothing, and no fen is lost', () => {
    const txns: LedgerTransaction[] = [pay('bank-1', '2026-02-15', 107_200 + 5_000), { kind: 'refund', id: 'rf-1', valueDate: '2026-02-20', amountFen: 5_000 }];
    expect(computeLedger(simple(), txns.slice(0, 1), '2026-02-16').totals.creditFen).toBe(5_000);
    const p = computeLedger(simple(), txns, '2026-02-20');
    expect(p.totals).toMatchObject({ creditFen: 0, refundedFen: 5_000, receivedFen: 112_200 });
    expect(p.transactions[0]).toMatchObject({ allocatedFen: 107_200, refundedFen: 5_000, creditFen: 0 });
    expect(conservationGap(p)).toBe(0);
  });
});

describe('LedgerBook', () => {
  test('a backdated repayment is replayed into place: the penalty it prevents is never charged', () => {
    const book = new LedgerBook(simple());
    expect(book.positionAt('2026-03-01').lines[0]!.due.penaltyFen).toBe(14 * 30);
    book.record(pay('late-feed', '2026-02-15', 107_200)); // arrives on 1 March, paid on the due date
    const p = book.positionAt('2026-03-01');
    expect(p.lines[0]).toMatchObject({ status: 'paid', due: { penaltyFen: 0 } });
    expect(p).toEqual(computeLedger(simple(), book.transactions, '2026-03-01'));
  });

  test('quotes ahead of the state it keeps, or behind it, as payoffQuote does', () => {
    const book = new LedgerBook(simple(), [pay('bank-1', '2026-02-15', 107_200)]);
    expect(book.day).toBe('2026-02-15');
    expect(book.payoffQuoteAt('2026-03-01')).toEqual(payoffQuote(simple(), book.transactions, '2026-03-01'));
    expect(book.day).toBe('2026-02-15'); // quoting ahead does not move it
    book.positionAt('2026-04-01');
    expect(book.payoffQuoteAt('2026-03-01')).toEqual(payoffQuote(simple(), book.transactions, '2026-03-01'));
    expect(book.positionAt('2026-03-01')).toEqual(computeLedger(simple(), book.transactions, '2026-03-01'));
  });
});

describe('the next day something changes by the calendar', () => {
  test('window, due date, first overdue day and bucket starts of the oldest unpaid instalment', () => {
    const p = computeLedger(simple(), [], '2026-02-01');
    expect(nextLedgerChange(p, [1, 31, 61, 91])).toBe('2026-02-12');
    const late = computeLedger(simple(), [], '2026-02-16');
    expect(nextLedgerChange(late, [1, 31, 61, 91])).toBe('2026-03-12'); // #2 enters its window before #1 reaches M2 (18 Mar)
    // Paid ahead: #1 is paid from the credit on its due date, then #2's window opens on 12 March.
    const ahead = computeLedger(simple(), [pay('ahead', '2026-02-10', 107_200)], '2026-02-10');
    expect(nextLedgerChange(ahead, [1, 31, 61, 91])).toBe('2026-02-15');
    expect(nextLedgerChange(computeLedger(simple(), [pay('ahead', '2026-02-10', 107_200)], '2026-02-15'), [1, 31, 61, 91])).toBe('2026-03-12');
  });
});
