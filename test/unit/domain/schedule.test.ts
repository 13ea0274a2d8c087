import fc from 'fast-check';
import {
  type Installment,
  type RepaymentMethod,
  buildSchedule,
  dueDates,
  earlyPayoffAmount,
  levelPaymentFen,
  monthlyPaymentFen,
  scheduleAmounts,
  scheduleTotals,
} from '../../../src/domain/schedule';
import { DomainValueError } from '../../../src/domain/money';

const base = { disbursementDate: '2024-01-15' };

/** Σ over an exact BigInt evaluation of M = P·r(1+r)^n/((1+r)^n − 1) in fen, r = bps/120000, as a fraction. */
function exactLevel(principalFen: number, bps: number, n: number): { num: bigint; den: bigint } {
  const a = (120_000n + BigInt(bps)) ** BigInt(n);
  const d = 120_000n ** BigInt(n);
  return { num: BigInt(principalFen) * BigInt(bps) * a, den: 120_000n * (a - d) };
}

describe('known-answer schedules', () => {
  test('100,000 CNY at 6% over 12 months, 等额本息: 8,606.64 a month', () => {
    // Source: the textbook annuity example, e.g. Excel/LibreOffice PMT(6%/12, 12, -100000) = 8,606.64,
    // reproduced by every Chinese 房贷/车贷 calculator for 10万 6% 1年.
    // Independent derivation: r = 0.005, 1.005^12 = 1.061677811864..., M = 100000·0.005·1.0616778/0.0616778
    // = 8,606.6429707... → 8,606.64. Checked here with exact rationals:
    const { num, den } = exactLevel(10_000_000, 600, 12);
    expect(num / den).toBe(860_664n); // floor
    expect((num * 2n) / den % 2n).toBe(0n); // fractional part < 0.5 → rounds down to 8,606.64
    const s = buildSchedule({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment', ...base });
    expect(s.slice(0, 11).every((i) => i.totalFen === 860_664)).toBe(true);
    expect(s[0]).toMatchObject({ interestFen: 50_000, principalFen: 810_664, openingBalanceFen: 10_000_000, closingBalanceFen: 9_189_336 });
    // 12 × 8,606.64 = 103,279.68; the last instalment absorbs the rounding: 8,606.69.
    expect(s[11]?.totalFen).toBe(860_669);
    expect(scheduleTotals(s)).toEqual({ principalFen: 10_000_000, interestFen: 327_973, totalFen: 10_327_973 });
    expect(monthlyPaymentFen({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment' })).toBe(860_664);
  });

  test('1,000,000 CNY at 4.9% over 30 years: 等额本息 5,307.27, 等额本金 6,861.11 falling by 11.34', () => {
    // Source: the standard Chinese mortgage example at the PBOC 5-year-plus benchmark rate of 4.9%
    // (2015-10 to 2019): 100万 30年 等额本息 月供 5,307.27; 等额本金 首月 6,861.11, 每月递减 11.34.
    // Derivation: r = 0.049/12 = 0.00408333..., (1+r)^360 = 4.3296...;
    // 等额本息 M = 1e6·r·(1+r)^360/((1+r)^360 − 1) = 5,307.2672... → 5,307.27;
    // 等额本金 first = 1e6/360 + 1e6·r = 2,777.78 + 4,083.33 = 6,861.11; step = (1e6/360)·r = 11.3426.
    const { num, den } = exactLevel(100_000_000, 490, 360);
    expect(num / den).toBe(530_726n);
    expect(levelPaymentFen(100_000_000, 490, 360)).toBe(530_727);

    const ep = buildSchedule({ principalFen: 100_000_000, annualRateBps: 490, termMonths: 360, method: 'equal_principal', ...base });
    expect(ep[0]?.totalFen).toBe(686_111);
    expect(ep[0]?.principalFen).toBe(277_778);
    expect(ep[0]?.interestFen).toBe(408_333);
    expect((ep[0]?.totalFen ?? 0) - (ep[1]?.totalFen ?? 0)).toBe(1134);
    // Total interest of 等额本金 = P·r·(n+1)/2 = 1e6 × 0.049/12 × 180.5 = 737,041.67 (to rounding of each month).
    expect(Math.abs(scheduleTotals(ep).interestFen - 73_704_167)).toBeLessThanOrEqual(180);
  });

  test('USD 200,000 at 6% over 30 years: 1,199.10 a month', () => {
    // Source: the classic US mortgage textbook example (e.g. CFPB and bank amortisation calculators:
    // $200,000, 6%, 30-year fixed → $1,199.10). Derivation: 1.005^360 = 6.022575212..., M = 200000·0.005·
    // 6.0225752/5.0225752 = 1,199.1010503... → 1,199.10. Currency does not matter to the arithmetic.
    const s = buildSchedule({ principalFen: 20_000_000, annualRateBps: 600, termMonths: 360, method: 'equal_installment', ...base });
    expect(s[0]?.totalFen).toBe(119_910);
    expect(s[0]?.interestFen).toBe(100_000);
    expect(s.at(-1)?.closingBalanceFen).toBe(0);
  });

  test('120,000 CNY at 6% over 12 months, 等额本金: 10,600 down to 10,050', () => {
    // Derived: principal 10,000 a month; interest on the opening balance at 0.5%: 600, 550, ... 50.
    const s = buildSchedule({ principalFen: 12_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_principal', ...base });
    expect(s.map((i) => i.totalFen)).toEqual([1_060_000, 1_055_000, 1_050_000, 1_045_000, 1_040_000, 1_035_000, 1_030_000, 1_025_000, 1_020_000, 1_015_000, 1_010_000, 1_005_000]);
    expect(scheduleTotals(s).interestFen).toBe(390_000);
  });

  test('a zero-rate loan still works', () => {
    const s = buildSchedule({ principalFen: 10_000_000, annualRateBps: 0, termMonths: 12, method: 'equal_installment', ...base });
    expect(s.slice(0, 11).every((i) => i.totalFen === 833_333 && i.interestFen === 0)).toBe(true);
    expect(s[11]?.totalFen).toBe(833_337);
    const ep = buildSchedule({ principalFen: 10_000_000, annualRateBps: 0, termMonths: 12, method: 'equal_principal', ...base });
    expect(ep.map((i) => i.totalFen)).toEqual(s.map((i) => i.totalFen));
    expect(levelPaymentFen(100, 0, 3)).toBe(33);
  });

  test('a one-month loan is principal plus one month of interest', () => {
    const s = buildSchedule({ principalFen: 1_000_000, annualRateBps: 1200, termMonths: 1, method: 'equal_installment', ...base });
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ principalFen: 1_000_000, interestFen: 10_000, totalFen: 1_010_000, closingBalanceFen: 0 });
  });

  test('tiny loans never overpay principal', () => {
    const s = buildSchedule({ principalFen: 30, annualRateBps: 0, termMonths: 60, method: 'equal_installment', ...base });
    expect(s.reduce((a, i) => a + i.principalFen, 0)).toBe(30);
    expect(s.every((i) => i.principalFen >= 0 && i.closingBalanceFen >= 0)).toBe(true);
    const ep = buildSchedule({ principalFen: 100, annualRateBps: 0, termMonths: 60, method: 'equal_principal', ...base });
    expect(ep.reduce((a, i) => a + i.principalFen, 0)).toBe(100);
    expect(ep.every((i) => i.principalFen >= 0)).toBe(true);
  });
});

describe('due dates', () => {
  test('drawn on 31 January: due 29 February (leap year), then 31 March, 30 April', () => {
    const s = buildSchedule({ principalFen: 1_000_000, annualRateBps: 600, termMonths: 4, method: 'equal_principal', disbursementDate: '2024-01-31' });
    expect(s.map((i) => i.dueDate)).toEqual(['2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31']);
    expect(s.map((i) => i.periodStartDate)).toEqual(['2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30']);
    expect(dueDates({ disbursementDate: '2023-01-31', termMonths: 2 })).toEqual(['2023-02-28', '2023-03-31']);
  });

  test('crosses the year end', () => {
    expect(dueDates({ disbursementDate: '2024-11-30', termMonths: 4 })).toEqual(['2024-12-30', '2025-01-30', '2025-02-28', '2025-03-30']);
  });

  test('firstDueDate sets the payment day', () => {
    expect(dueDates({ disbursementDate: '2024-01-20', termMonths: 3, firstDueDate: '2024-02-28' })).toEqual(['2024-02-28', '2024-03-28', '2024-04-28']);
    expect(dueDates({ disbursementDate: '2024-01-05', termMonths: 3, firstDueDate: '2024-01-31' })).toEqual(['2024-01-31', '2024-02-29', '2024-03-31']);
    expect(() => dueDates({ disbursementDate: '2024-01-20', termMonths: 3, firstDueDate: '2024-01-20' })).toThrow(/after disbursementDate/);
    expect(() => dueDates({ disbursementDate: '2024-01-20', termMonths: 3, firstDueDate: '2024-03-21' })).toThrow(/two months/);
    expect(() => dueDates({ disbursementDate: '2024-02-30', termMonths: 3 })).toThrow(/disbursementDate/);
  });
});

describe('input validation', () => {
  const ok = { principalFen: 1_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment' as RepaymentMethod, ...base };
  test.each([
    [{ principalFen: 0 }, /principalFen/],
    [{ principalFen: 1.5 }, /principalFen/],
    [{ annualRateBps: -1 }, /annualRateBps/],
    [{ termMonths: 0 }, /termMonths/],
    [{ termMonths: 601 }, /termMonths/],
    [{ termMonths: 12.5 }, /termMonths/],
    [{ method: 'balloon' as RepaymentMethod }, /unknown repayment method/],
  ])('refuses %p', (patch, message) => {
    expect(() => buildSchedule({ ...ok, ...patch })).toThrow(message);
    expect(() => buildSchedule({ ...ok, ...patch })).toThrow(DomainValueError);
  });
});

// --- properties over thousands of generated loans ------------------------------------------------

const realisticLoan = fc.record({
  principalFen: fc.integer({ min: 10_000_00, max: 5_000_000_00 }), // 10,000 to 5,000,000 CNY
  annualRateBps: fc.integer({ min: 0, max: 3600 }),
  termMonths: fc.constantFrom(12, 24, 36, 48, 60),
  method: fc.constantFrom<RepaymentMethod>('equal_installment', 'equal_principal'),
});

const anyLoan = fc.record({
  principalFen: fc.integer({ min: 1, max: 1e12 }),
  annualRateBps: fc.integer({ min: 0, max: 10_000 }),
  termMonths: fc.integer({ min: 1, max: 120 }),
  method: fc.constantFrom<RepaymentMethod>('equal_installment', 'equal_principal'),
});

/** A plain assertion: jest's expect is too slow for millions of checks inside properties. */
function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function checkStructure(s: Installment[], principalFen: number, termMonths: number): void {
  invariant(s.length === termMonths, 'one instalment a month');
  invariant(s.reduce((a, i) => a + i.principalFen, 0) === principalFen, 'principal parts sum to the amount');
  invariant(s[0]?.openingBalanceFen === principalFen, 'opens at the principal');
  invariant(s.at(-1)?.closingBalanceFen === 0, 'closes at zero');
  s.forEach((inst, k) => {
    invariant(inst.seq === k + 1, 'seq');
    invariant(inst.principalFen >= 0 && inst.interestFen >= 0, `instalment ${k + 1} non-negative`);
    invariant(inst.totalFen === inst.principalFen + inst.interestFen, 'total = principal + interest');
    invariant(inst.closingBalanceFen === inst.openingBalanceFen - inst.principalFen, 'closing = opening − principal');
    invariant(inst.closingBalanceFen <= inst.openingBalanceFen, 'balance never rises');
    if (k > 0) {
      const prev = s[k - 1] as Installment;
      invariant(inst.openingBalanceFen === prev.closingBalanceFen, 'balances chain');
      invariant(inst.dueDate > prev.dueDate, 'due dates increase');
      invariant(inst.periodStartDate === prev.dueDate, 'periods are contiguous');
    }
  });
}

describe('schedule properties', () => {
  test('any loan: principal sums to the amount, nothing negative, balances never rise', () => {
    fc.assert(
      fc.property(anyLoan, (loan) => {
        checkStructure(buildSchedule({ ...loan, ...base }), loan.principalFen, loan.termMonths);
      }),
      { numRuns: 1500 },
    );
  });

  test('realistic loans: balances strictly decrease, 等额本息 equal but the last, 等额本金 interest decreasing', () => {
    fc.assert(
      fc.property(realisticLoan, fc.integer({ min: 0, max: 20_000 }), (loan, dayOffset) => {
        const disbursementDate = new Date(Date.UTC(2000, 0, 1) + dayOffset * 86_400_000).toISOString().slice(0, 10);
        const s = buildSchedule({ ...loan, disbursementDate });
        checkStructure(s, loan.principalFen, loan.termMonths);
        s.forEach((inst) => invariant(inst.closingBalanceFen < inst.openingBalanceFen, 'balance strictly decreases'));
        const last = s.at(-1) as Installment;
        if (loan.method === 'equal_installment') {
          const m = (s[0] as Installment).totalFen;
          invariant(s.slice(0, -1).every((i) => i.totalFen === m), 'equal instalments except the last');
          invariant(m === levelPaymentFen(loan.principalFen, loan.annualRateBps, loan.termMonths), 'first = level payment');
          // The last instalment differs from the others only by the rounding carried through the
          // schedule: at most ½ fen of payment rounding and ½ fen of interest rounding a period,
          // compounded at r, i.e. ((1+r)^n − 1)/r fen.
          const r = loan.annualRateBps / 120_000;
          const bound = r === 0 ? loan.termMonths : ((1 + r) ** loan.termMonths - 1) / r;
          invariant(Math.abs(last.totalFen - m) <= Math.ceil(bound), `last instalment within ${bound} fen of the others`);
          for (let k = 1; k < s.length; k++) {
            invariant((s[k] as Installment).interestFen <= (s[k - 1] as Installment).interestFen, 'interest falls');
            if (k < s.length - 1) invariant((s[k] as Installment).principalFen >= (s[k - 1] as Installment).principalFen, 'principal rises');
          }
        } else {
          const p = (s[0] as Installment).principalFen;
          invariant(s.slice(0, -1).every((i) => i.principalFen === p), 'equal principal parts except the last');
          for (let k = 1; k < s.length; k++) {
            invariant((s[k] as Installment).interestFen <= (s[k - 1] as Installment).interestFen, 'interest decreases');
            invariant((s[k] as Installment).totalFen <= (s[k - 1] as Installment).totalFen || k === s.length - 1, 'payments decrease');
          }
          if (loan.annualRateBps >= 100) invariant(last.interestFen < (s[0] as Installment).interestFen, 'interest strictly lower at the end');
        }
        invariant(monthlyPaymentFen(loan) === (s[0] as Installment).totalFen, 'monthlyPaymentFen is the first instalment');
        const amounts = scheduleAmounts(loan);
        invariant(amounts.every((a, i) => a === (s[i] as Installment).totalFen), 'scheduleAmounts matches');
        // Due dates: one per calendar month on the disbursement day or the month's last day.
        const day = Number(disbursementDate.slice(8));
        s.forEach((inst) => {
          const [y, mo, dueDay] = inst.dueDate.split('-').map(Number) as [number, number, number];
          const monthEnd = new Date(Date.UTC(y, mo, 0)).getUTCDate();
          invariant(dueDay === Math.min(day, monthEnd), `due day ${inst.dueDate} for a loan drawn on ${disbursementDate}`);
        });
      }),
      { numRuns: 2500 },
    );
  });

  test('the level payment is the exact formula rounded half-up', () => {
    fc.assert(
      fc.property(realisticLoan, (loan) => {
        fc.pre(loan.annualRateBps > 0);
        const { num, den } = exactLevel(loan.principalFen, loan.annualRateBps, loan.termMonths);
        const m = BigInt(levelPaymentFen(loan.principalFen, loan.annualRateBps, loan.termMonths));
        // |num/den − m| ≤ 1/2
        const diff = 2n * num - 2n * m * den;
        expect(diff <= den && diff > -den).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('early payoff', () => {
  const s = buildSchedule({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment', disbursementDate: '2024-01-31' });

  test('on the disbursement day it is the principal', () => {
    const p = earlyPayoffAmount(s, { asOfDate: '2024-01-31', paidThroughSeq: 0 });
    expect(p).toMatchObject({ totalFen: 10_000_000, accruedInterestFen: 0, currentSeq: 1, dueUnpaidFen: 0, accrualDays: 0, periodDays: 29 });
  });

  test('mid-period: remaining principal plus interest by days elapsed, plus the fee', () => {
    // Period 2 runs 29 Feb → 31 Mar (31 days); 15 days in: 459.47 × 15/31 = 222.32.
    const p = earlyPayoffAmount(s, { asOfDate: '2024-03-15', paidThroughSeq: 1, prepaymentFeeBps: 100 });
    expect(p.principalNotYetDueFen).toBe(9_189_336);
    expect(p.accruedInterestFen).toBe(22_232);
    expect(p.prepaymentFeeFen).toBe(91_893);
    expect(p.totalFen).toBe(9_189_336 + 22_232 + 91_893);
    expect(p.currentSeq).toBe(2);
  });

  test('an unpaid instalment that is already due is owed in full', () => {
    const p = earlyPayoffAmount(s, { asOfDate: '2024-02-29', paidThroughSeq: 0 });
    expect(p.dueUnpaidFen).toBe(860_664);
    expect(p.dueUnpaidPrincipalFen).toBe(810_664);
    expect(p.dueUnpaidInterestFen).toBe(50_000);
    expect(p.principalNotYetDueFen).toBe(9_189_336);
    expect(p.accruedInterestFen).toBe(0);
    expect(p.totalFen).toBe(860_664 + 9_189_336);
  });

  test('after maturity everything unpaid is due; when all is paid nothing is owed', () => {
    const p = earlyPayoffAmount(s, { asOfDate: '2025-06-01', paidThroughSeq: 10 });
    expect(p.currentSeq).toBeNull();
    expect(p.totalFen).toBe((s[10]?.totalFen ?? 0) + (s[11]?.totalFen ?? 0));
    expect(earlyPayoffAmount(s, { asOfDate: '2025-06-01', paidThroughSeq: 12 }).totalFen).toBe(0);
  });

  test('paid ahead: no interest accrues for a period that has not started', () => {
    const p = earlyPayoffAmount(s, { asOfDate: '2024-02-10', paidThroughSeq: 3 });
    expect(p.currentSeq).toBe(4);
    expect(p.accruedInterestFen).toBe(0);
    expect(p.totalFen).toBe(s[3]?.openingBalanceFen);
  });

  test('refuses nonsense', () => {
    expect(() => earlyPayoffAmount([], { asOfDate: '2024-01-01', paidThroughSeq: 0 })).toThrow(/empty/);
    expect(() => earlyPayoffAmount(s, { asOfDate: '2024-01-30', paidThroughSeq: 0 })).toThrow(/before the loan/);
    expect(() => earlyPayoffAmount(s, { asOfDate: '2024-03-01', paidThroughSeq: 13 })).toThrow(/paidThroughSeq/);
    expect(() => earlyPayoffAmount(s, { asOfDate: '2024-03-01', paidThroughSeq: -1 })).toThrow(/paidThroughSeq/);
    expect(() => earlyPayoffAmount(s, { asOfDate: '2024-03-01', paidThroughSeq: 0, prepaymentFeeBps: -5 })).toThrow();
  });

  test('property: payoff lies between the principal outstanding and that plus one full period of interest', () => {
    fc.assert(
      fc.property(realisticLoan, fc.integer({ min: 0, max: 2000 }), fc.nat(), (loan, day, paid) => {
        const sched = buildSchedule({ ...loan, disbursementDate: '2024-01-31' });
        const paidThroughSeq = paid % (loan.termMonths + 1);
        const asOfDate = new Date(Date.UTC(2024, 0, 31) + day * 86_400_000).toISOString().slice(0, 10);
        const p = earlyPayoffAmount(sched, { asOfDate, paidThroughSeq });
        const principalLeft = paidThroughSeq === 0 ? loan.principalFen : (sched[paidThroughSeq - 1] as Installment).closingBalanceFen;
        expect(p.dueUnpaidPrincipalFen + p.principalNotYetDueFen).toBe(principalLeft);
        expect(p.totalFen).toBeGreaterThanOrEqual(principalLeft);
        if (p.currentSeq !== null) {
          const current = sched[p.currentSeq - 1] as Installment;
          expect(p.accruedInterestFen).toBeGreaterThanOrEqual(0);
          expect(p.accruedInterestFen).toBeLessThanOrEqual(current.interestFen);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
