import fc from 'fast-check';
import {
  IRR_SCALE,
  aprBps,
  aprFigures,
  disclosure,
  loanCashFlows,
  periodicIrr,
  periodicIrrScaled,
  simpleInterestRateBps,
  xirr,
} from '../../../src/domain/apr';
import { type RepaymentMethod, buildSchedule, scheduleAmounts } from '../../../src/domain/schedule';
import { addMonths } from '../../../src/domain/dates';

function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** (1 + bps/120000)^12 − 1 in bps, exactly, as a float for tolerance checks. */
function compoundedNominalBps(annualRateBps: number): number {
  return ((1 + annualRateBps / 120_000) ** 12 - 1) * 10_000;
}

describe('PBOC Announcement [2021] No. 3 example', () => {
  // 100,000 lent, 1,000 upfront fee (99,000 received), 12 monthly payments of 8,833.30.
  // Independent check: the monthly IRR i solving 99000 = 8833.30·(1 − (1+i)^−12)/i is 1.066983%;
  // compounded (1+i)^12 − 1 = 13.5826%; simple 12·i = 12.8038%.
  const input = { principalFen: 10_000_000, upfrontFeeFen: 100_000, payments: Array<number>(12).fill(883_330) };

  test('APR on an IRR basis is 13.58% compounded', () => {
    expect(aprBps(input)).toBe(1358);
  });

  test('the simple-interest annualisation is 12.80% and labelled as such', () => {
    expect(simpleInterestRateBps(input)).toBe(1280);
    const d = aprFigures(input);
    expect(d.periodicIrr).toBeCloseTo(0.010669834876, 9);
  });

  test('without the fee the same payments cost less', () => {
    expect(aprBps({ ...input, upfrontFeeFen: 0 })).toBeLessThan(1358);
  });

  test('cash flows are the principal received, then the payments', () => {
    expect(loanCashFlows(input)).toEqual([-9_900_000, ...input.payments]);
    expect(() => loanCashFlows({ ...input, upfrontFeeFen: 10_000_000 })).toThrow(/less than principal/);
    expect(() => loanCashFlows({ ...input, payments: [] })).toThrow(/empty/);
    expect(() => loanCashFlows({ ...input, payments: [-1] })).toThrow();
    expect(() => aprFigures({ ...input, periodsPerYear: 0 })).toThrow(/periodsPerYear/);
  });
});

describe('periodic IRR', () => {
  test('simple cases', () => {
    expect(periodicIrr([-100, 110])).toBeCloseTo(0.1, 11);
    expect(periodicIrr([-100, 100])).toBe(0);
    expect(periodicIrr([-100, 50])).toBeCloseTo(-0.5, 11);
    expect(periodicIrr([100, -110])).toBeCloseTo(0.1, 11); // the sign convention does not matter
    expect(periodicIrr([-1, 0, 0, 0, 0, 1_000_000_000])).toBeCloseTo(62.0957, 3); // needs a wide bracket
    expect(() => periodicIrr([100, 100])).toThrow(/positive and one negative/);
    expect(() => periodicIrr([-1.5, 3])).toThrow();
    expect(() => periodicIrr([-100, -100])).toThrow();
    // Several sign changes: bisection still returns a rate that zeroes the NPV.
    const r = periodicIrr([-100, 1, -100, 500]) as number;
    expect(-100 + 1 / (1 + r) - 100 / (1 + r) ** 2 + 500 / (1 + r) ** 3).toBeCloseTo(0, 6);
  });

  test('flows with no IRR in range give null', () => {
    // −100 + 300x − 300x² (x = 1/(1+r)) is negative for every x, so no rate zeroes it.
    expect(periodicIrrScaled([-100, 300, -300])).toBeNull();
  });

  test('property: the IRR of cash flows generated at a known rate recovers it to 1 bp', () => {
    // Payments of any size pattern; the amount lent is their present value at monthly rate
    // bps/120000, computed exactly and rounded to the fen. Annualised ×12 the IRR must give bps.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6000 }),
        fc.array(fc.integer({ min: 1_000_000, max: 100_000_000 }), { minLength: 1, maxLength: 60 }),
        (bps, payments) => {
          const d = 120_000n;
          const a = 120_000n + BigInt(bps);
          const n = payments.length;
          // PV = Σ p_k · d^k / a^k = Σ p_k · d^k · a^(n−k) / a^n
          let num = 0n;
          payments.forEach((p, i) => {
            const k = BigInt(i + 1);
            num += BigInt(p) * d ** k * a ** (BigInt(n) - k);
          });
          const den = a ** BigInt(n);
          const pv = Number((2n * num + den) / (2n * den));
          const figures = aprFigures({ principalFen: pv, payments });
          invariant(Math.abs(figures.simpleInterestRateBps - bps) <= 1, `IRR×12 ${figures.simpleInterestRateBps} vs ${bps}`);
          invariant(Math.abs(figures.aprBps - compoundedNominalBps(bps)) <= 1, `APR ${figures.aprBps} vs ${compoundedNominalBps(bps)}`);
          const m = periodicIrrScaled([-pv, ...payments]);
          invariant(m !== null && Math.abs(Number(m) / Number(IRR_SCALE) - bps / 120_000) < 1e-6, 'periodic rate');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('APR of fee-free loans', () => {
  test('property: a fee-free loan’s APR is its nominal rate compounded, and ×12 its nominal rate, within 1 bp', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10_000_00, max: 5_000_000_00 }),
        fc.integer({ min: 0, max: 3600 }),
        fc.constantFrom(12, 24, 36, 48, 60),
        fc.constantFrom<RepaymentMethod>('equal_installment', 'equal_principal'),
        (principalFen, annualRateBps, termMonths, method) => {
          const payments = scheduleAmounts({ principalFen, annualRateBps, termMonths, method });
          const f = aprFigures({ principalFen, payments });
          invariant(Math.abs(f.simpleInterestRateBps - annualRateBps) <= 1, `simple ${f.simpleInterestRateBps} vs nominal ${annualRateBps}`);
          invariant(Math.abs(f.aprBps - compoundedNominalBps(annualRateBps)) <= 1, `APR ${f.aprBps} vs compounded ${compoundedNominalBps(annualRateBps)}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('6% nominal is 6.17% APR compounded', () => {
    const payments = scheduleAmounts({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment' });
    expect(aprFigures({ principalFen: 10_000_000, payments })).toMatchObject({ aprBps: 617, simpleInterestRateBps: 600 });
  });

  test('any fee raises the APR', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10_000_00, max: 1_000_000_00 }), fc.integer({ min: 0, max: 2400 }), fc.integer({ min: 1, max: 500 }), (principalFen, annualRateBps, feeBps) => {
        const payments = scheduleAmounts({ principalFen, annualRateBps, termMonths: 36, method: 'equal_installment' });
        const fee = Math.floor((principalFen * feeBps) / 10_000);
        invariant(aprBps({ principalFen, upfrontFeeFen: fee, payments }) >= aprBps({ principalFen, payments }), 'fee raises APR');
      }),
      { numRuns: 300 },
    );
  });
});

describe('XIRR on dated cash flows', () => {
  test('one year at 10%', () => {
    expect(xirr([{ date: '2023-01-01', amountFen: -10_000 }, { date: '2024-01-01', amountFen: 11_000 }])).toBeCloseTo(0.1, 9);
  });

  test('refuses degenerate input', () => {
    expect(() => xirr([])).toThrow(/no cash flows/);
    expect(() => xirr([{ date: '2023-01-01', amountFen: 5 }])).toThrow(/positive and one negative/);
    expect(xirr([{ date: '2023-01-01', amountFen: -100 }, { date: '2023-06-01', amountFen: 300 }, { date: '2024-01-01', amountFen: -300 }])).toBeNull();
  });

  test('property: XIRR of flows generated at a known annual rate recovers it to 1 bp', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.integer({ min: 100_000, max: 50_000_000 }), { minLength: 1, maxLength: 60 }),
        (rateBps, startOffset, payments) => {
          const rate = rateBps / 10_000;
          const start = new Date(Date.UTC(2000, 0, 1) + startOffset * 86_400_000).toISOString().slice(0, 10);
          const startMs = Date.parse(start);
          const flows = payments.map((p, i) => ({ date: addMonths(start, i + 1), amountFen: p }));
          const pv = flows.reduce((acc, f) => acc + f.amountFen / (1 + rate) ** ((Date.parse(f.date) - startMs) / 86_400_000 / 365), 0);
          const got = xirr([{ date: start, amountFen: -Math.round(pv) }, ...flows]);
          invariant(got !== null && Math.abs(got - rate) * 10_000 <= 1, `xirr ${got} vs ${rate}`);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('monthly instalments on real dates: XIRR is close to the compounded APR', () => {
    const s = buildSchedule({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment', disbursementDate: '2024-01-15' });
    const r = xirr([{ date: '2024-01-15', amountFen: -10_000_000 }, ...s.map((i) => ({ date: i.dueDate, amountFen: i.totalFen }))]);
    expect(Math.abs((r as number) * 10_000 - 617)).toBeLessThan(5);
  });
});

describe('贷款须知 disclosure', () => {
  test('carries every figure the contract needs', () => {
    const d = disclosure({
      principalFen: 15_000_000,
      annualRateBps: 650,
      termMonths: 36,
      method: 'equal_installment',
      disbursementDate: '2026-11-22',
      upfrontFeeFen: 150_000,
    });
    expect(d).toMatchObject({
      amountFen: 15_000_000,
      amountYuan: '150,000.00',
      termMonths: 36,
      method: 'equal_installment',
      methodLabelZh: '等额本息',
      annualRateBps: 650,
      annualRatePercent: '6.50%',
      upfrontFeeFen: 150_000,
      amountReceivedFen: 14_850_000,
    });
    expect(d.installments).toHaveLength(36);
    expect(d.installments[0]?.dueDate).toBe('2026-12-22');
    expect(d.firstPaymentFen).toBe(d.installments[0]?.totalFen);
    expect(d.totalRepaymentFen).toBe(d.installments.reduce((a, i) => a + i.totalFen, 0));
    expect(d.totalInterestFen).toBe(d.totalRepaymentFen - 15_000_000);
    expect(d.totalCostFen).toBe(d.totalInterestFen + 150_000);
    // A 1% fee on a 3-year 6.5% loan: the APR is well above the nominal 6.70% (6.5% compounded).
    expect(d.aprBps).toBeGreaterThan(700);
    expect(d.aprPercent).toBe(`${(d.aprBps / 100).toFixed(2)}%`);
    expect(d.aprBasis).toMatch(/复利/);
    expect(d.simpleInterestRateBasis).toMatch(/单利/);
    expect(d.simpleInterestRateBps).toBeLessThan(d.aprBps);
  });

  test('without a fee: APR is the nominal rate compounded', () => {
    const d = disclosure({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_principal', disbursementDate: '2024-01-31' });
    expect(d.upfrontFeeFen).toBe(0);
    expect(d.aprBps).toBe(617);
    expect(d.simpleInterestRateBps).toBe(600);
    expect(d.methodLabelZh).toBe('等额本金');
  });
});
