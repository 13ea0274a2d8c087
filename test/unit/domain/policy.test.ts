import {
  DAY_MS,
  DEFAULT_POLICY,
  HOUR_MS,
  definePolicy,
  overdueBucket,
  overdueBucketRule,
  policyProblems,
  requiresFourEyes,
  servicingTermsProblems,
  LEGACY_SERVICING_TERMS,
} from '../../../src/domain/policy';

describe('product policy defaults', () => {
  test('deadlines from the SPEC', () => {
    expect(DEFAULT_POLICY.deadlines).toEqual({
      documentSetMs: 7 * DAY_MS,
      phoneVerification: { slaMs: 24 * HOUR_MS, expiryMs: 72 * HOUR_MS, maxUnreachableAttempts: 3 },
      approval: { slaMs: 24 * HOUR_MS, expiryMs: 7 * DAY_MS },
      offerExpiryMs: 7 * DAY_MS,
    });
  });

  test('four-eyes threshold is 200,000 CNY, at or above', () => {
    expect(DEFAULT_POLICY.fourEyesThresholdFen).toBe(20_000_000);
    expect(requiresFourEyes(19_999_999)).toBe(false);
    expect(requiresFourEyes(20_000_000)).toBe(true);
  });

  test('the default policy is consistent and frozen', () => {
    expect(policyProblems(DEFAULT_POLICY)).toEqual([]);
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
    expect(Object.isFrozen(DEFAULT_POLICY.ltv.table.new.personal)).toBe(true);
    expect(DEFAULT_POLICY.credit.scoreFloor).toBe(550);
    expect(DEFAULT_POLICY.loan.allowedTermMonths).toEqual([12, 24, 36, 48, 60]);
  });
});

describe('overdue buckets', () => {
  test.each([
    [-3, null],
    [0, null],
    [1, 'M1'],
    [30, 'M1'],
    [31, 'M2'],
    [60, 'M2'],
    [61, 'M3'],
    [90, 'M3'],
    [91, 'M3+'],
    [1000, 'M3+'],
    [Number.NaN, null],
  ])('%d days past due → %s', (days, bucket) => {
    expect(overdueBucket(days)).toBe(bucket);
  });

  test('each bucket has its action', () => {
    expect(overdueBucketRule(5)?.actions).toEqual(['sms']);
    expect(overdueBucketRule(45)?.actions).toContain('call_task');
    expect(overdueBucketRule(120)?.actions).toEqual(['collections_handoff']);
  });
});

describe('definePolicy', () => {
  test('overrides merge objects and replace arrays', () => {
    const p = definePolicy({ fourEyesThresholdFen: 10_000_000, loan: { allowedTermMonths: [12, 36] }, deadlines: { phoneVerification: { maxUnreachableAttempts: 5 } } });
    expect(p.fourEyesThresholdFen).toBe(10_000_000);
    expect(p.loan.allowedTermMonths).toEqual([12, 36]);
    expect(p.loan.maxAmountFen).toBe(DEFAULT_POLICY.loan.maxAmountFen);
    expect(p.deadlines.phoneVerification).toEqual({ slaMs: 24 * HOUR_MS, expiryMs: 72 * HOUR_MS, maxUnreachableAttempts: 5 });
    expect(Object.isFrozen(p)).toBe(true);
    expect(definePolicy()).toEqual(DEFAULT_POLICY);
  });

  test('inconsistent policies are refused with every problem named', () => {
    expect(() =>
      definePolicy({
        loan: { minAmountFen: 0, minAnnualRateBps: 3000, allowedTermMonths: [] },
        credit: { gradeBands: [{ grade: 'A', minScore: 600 }, { grade: 'B', minScore: 700 }, { grade: 'C', minScore: 500 }] },
        dti: { downgradeAboveBps: 9000 },
        overdueBuckets: [{ bucket: 'M1', minDays: 2, maxDays: null, actions: [] }],
      }),
    ).toThrow(/loan amounts.*loan rates.*no allowed terms.*descending.*below the score floor.*dti.*grade A.*M1 should start at day 1/);
  });
});

describe('servicing policy', () => {
  test('defaults of the SPEC: 1.5× penalty after 3 grace days, 24% cap, penalty → interest → principal, 3% / 1% / none', () => {
    expect(DEFAULT_POLICY.servicing.terms).toEqual({
      penalty: { rateMultiplePermille: 1500, base: 'principal', graceDays: 3, dayCountBasis: 360 },
      costCapBps: 2400,
      allocation: { order: ['penalty', 'interest', 'principal'], across: 'instalment' },
      earlyRepaymentFee: [
        { beforeMonth: 12, bps: 300 },
        { beforeMonth: 24, bps: 100 },
      ],
    });
    expect(DEFAULT_POLICY.servicing.payoffQuoteMaxDaysAhead).toBe(30);
    expect(servicingTermsProblems(LEGACY_SERVICING_TERMS)).toEqual([]);
    expect(LEGACY_SERVICING_TERMS.penalty.rateMultiplePermille).toBe(0);
  });

  test('inconsistent servicing terms are refused, each named', () => {
    const t = DEFAULT_POLICY.servicing.terms;
    const problems = servicingTermsProblems({
      penalty: { rateMultiplePermille: -1, base: 'everything' as never, graceDays: 400, dayCountBasis: 366 as never },
      costCapBps: 0,
      allocation: { order: ['penalty', 'penalty', 'interest'], across: 'sideways' as never },
      earlyRepaymentFee: [
        { beforeMonth: null, bps: 100 },
        { beforeMonth: 12, bps: 20_000 },
        { beforeMonth: 6, bps: 100 },
      ],
    });
    expect(problems).toEqual([
      'penalty multiple must be 0 to 10× in thousandths',
      'penalty base must be principal or principal_and_interest',
      'grace days must be 0 to 90',
      'day count basis must be 360 or 365',
      'cost cap must be a positive rate or null',
      'allocation order must name penalty, interest and principal once each',
      'allocation must be across instalment or component',
      'only the last fee band may be open-ended',
      'fee band 2: bps must be 0 to 10,000',
      'fee bands must be in increasing order of months',
    ]);
    expect(servicingTermsProblems({ ...t, costCapBps: null })).toEqual([]);
    expect(() => definePolicy({ servicing: { payoffQuoteMaxDaysAhead: -1, valueDateSkewMs: -5, maxPendingApprovals: 0 } })).toThrow(
      /payoff quote horizon.*value date skew.*pending approval/,
    );
  });
});
