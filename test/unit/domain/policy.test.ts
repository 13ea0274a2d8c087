import {
  DAY_MS,
  DEFAULT_POLICY,
  HOUR_MS,
  definePolicy,
  overdueBucket,
  overdueBucketRule,
  policyProblems,
  requiresFourEyes,
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
