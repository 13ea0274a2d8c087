import fc from 'fast-check';
import {
  type DecisionInput,
  REASON_CATALOG,
  REASON_CODES,
  buildOffer,
  debtToIncomeBps,
  decide,
  downgrade,
  evaluateApproval,
  gradeForScore,
  isReasonCode,
  offerChangeProblems,
  reason,
} from '../../../src/domain/decision';
import { DEFAULT_POLICY, definePolicy } from '../../../src/domain/policy';

// The SPEC's example application: a 250,000 CNY BYD Han, 150,000 CNY over 36 months.
const application: DecisionInput = {
  creditScore: 720,
  monthlyIncomeFen: 2_000_000,
  existingMonthlyDebtFen: 0,
  requestedAmountFen: 15_000_000,
  termMonths: 36,
  method: 'equal_installment',
  priceFen: 25_000_000,
  valuationFen: 25_000_000,
  vehicle: { usage: 'personal', energy: 'new_energy', condition: 'new' },
  vin: 'LFV2A21K2A3010006',
};

const codes = (r: { reasons: { code: string }[] }) => r.reasons.map((x) => x.code);

describe('decide', () => {
  test('a good application goes to manual review with grade, price and offer', () => {
    const r = decide(application);
    expect(r.recommendation).toBe('manual_review');
    expect(r.grade).toBe('B');
    expect(r.annualRateBps).toBe(650);
    expect(r.reasons).toEqual([]);
    expect(r.ltv).toMatchObject({ capBps: 8500, maxLoanFen: 21_250_000, requestedLtvBps: 6000, withinCap: true });
    // 150,000 at 6.5% over 36 months: M = 4,597.35 (exact 4,597.3504...).
    expect(r.offer).toEqual({
      amountFen: 15_000_000,
      termMonths: 36,
      repaymentMethod: 'equal_installment',
      annualRateBps: 650,
      aprBps: 670, // (1 + 0.065/12)^12 − 1 = 6.697%
      monthlyPaymentFen: 459_735,
      upfrontFeeFen: 0,
    });
    expect(r.dtiBps).toBe(2299); // 4,597.35 / 20,000 = 22.99%
    expect(r.requiresFourEyes).toBe(false);
    expect(r.humanReviewAvailable).toBe(true);
  });

  test('below the score floor: auto-decline, still reviewable', () => {
    const r = decide({ ...application, creditScore: 549 });
    expect(r.recommendation).toBe('auto_decline');
    expect(codes(r)).toContain('CREDIT_SCORE_BELOW_FLOOR');
    expect(r.reasons[0]?.message).toMatch(/549 < floor 550/);
    expect(r.grade).toBe('E');
    expect(r.humanReviewAvailable).toBe(true);
    expect(decide({ ...application, creditScore: 550 }).recommendation).toBe('manual_review');
  });

  test('no score: thin file graded D for review', () => {
    const r = decide({ ...application, creditScore: null });
    expect(r).toMatchObject({ recommendation: 'manual_review', grade: 'D', annualRateBps: 1150 });
    expect(codes(r)).toEqual(['CREDIT_SCORE_MISSING']);
  });

  test('debt-to-income above the limit is flagged and costs a grade', () => {
    const r = decide({ ...application, monthlyIncomeFen: 800_000, existingMonthlyDebtFen: 200_000 });
    expect(codes(r)).toEqual(['DTI_ELEVATED', 'DTI_ABOVE_LIMIT']);
    expect(r.grade).toBe('C');
    expect(r.annualRateBps).toBe(850);
    // Worked by hand: 150,000 at grade C's 8.5% over 36 months, r = 0.085/12, M = P·r(1+r)^36/((1+r)^36 − 1)
    // = 4,735.1306… → 4,735.13 CNY; (4,735.13 + 2,000 existing) / 8,000 income = 84.189125% → 8,419 bps (rounded up).
    expect(r.offer?.monthlyPaymentFen).toBe(473_513);
    expect(r.dtiBps).toBe(8419);
    expect(r.recommendation).toBe('manual_review');
  });

  test('DTI between the downgrade threshold and the limit only costs a grade', () => {
    const r = decide({ ...application, monthlyIncomeFen: 1_000_000 }); // ≈ 46-47%
    expect(codes(r)).toEqual(['DTI_ELEVATED']);
    expect(r.grade).toBe('C');
  });

  test('no income: flagged, no DTI', () => {
    const r = decide({ ...application, monthlyIncomeFen: 0 });
    expect(r.dtiBps).toBeNull();
    expect(codes(r)).toContain('INCOME_MISSING');
    expect(() => decide({ ...application, monthlyIncomeFen: -1 })).toThrow();
  });

  test('over the LTV cap: counter-offer at the cap, a grade lower for the high LTV', () => {
    const r = decide({ ...application, requestedAmountFen: 23_000_000, vehicle: { usage: 'personal', energy: 'conventional', condition: 'new' }, valuationFen: 24_444_444 });
    expect(r.ltv).toMatchObject({ collateralValueFen: 24_444_444, maxLoanFen: 19_555_555, withinCap: false, counterOfferFen: 19_550_000 });
    expect(r.offer?.amountFen).toBe(19_550_000);
    expect(codes(r)).toEqual(['VALUATION_BELOW_PRICE', 'LTV_ABOVE_CAP', 'LTV_ELEVATED']);
    expect(r.reasons.find((x) => x.code === 'LTV_ABOVE_CAP')?.message).toMatch(/counter-offer 195,500.00 CNY/);
    expect(r.grade).toBe('C');
    expect(r.requiresFourEyes).toBe(false); // the counter-offer is below 200,000
  });

  test('a worthless vehicle: no offer', () => {
    const r = decide({ ...application, valuationFen: 0 });
    expect(r.offer).toBeNull();
    expect(codes(r)).toEqual(['VALUATION_BELOW_PRICE', 'COLLATERAL_VALUE_ZERO']);
    expect(r.dtiBps).toBeNull();
  });

  test('a counter-offer below the product minimum is no offer', () => {
    const r = decide({ ...application, priceFen: 1_000_000, valuationFen: 1_000_000, requestedAmountFen: 1_000_000 });
    expect(r.ltv.counterOfferFen).toBeNull();
    expect(r.offer).toBeNull();
    expect(r.reasons.find((x) => x.code === 'LTV_ABOVE_CAP')?.message).toMatch(/no counter-offer possible/);
  });

  test('a VIN failing its check digit goes to review, never auto-decline', () => {
    const r = decide({ ...application, vin: 'LFV2A21K9A3010006' });
    expect(r.recommendation).toBe('manual_review');
    expect(codes(r)).toEqual(['VIN_CHECK_DIGIT_MISMATCH']);
    expect(r.reasons[0]?.message).toMatch(/position 9 is 9, expected 2/);
    expect(codes(decide({ ...application, vin: 'LFV2A21K9A30100O6' }))).toEqual(['VIN_INVALID']);
  });

  test('four eyes at or above 200,000 CNY', () => {
    const r = decide({ ...application, requestedAmountFen: 20_000_000 });
    expect(r.requiresFourEyes).toBe(true);
    expect(codes(r)).toContain('FOUR_EYES_REQUIRED');
  });

  test('product limits', () => {
    expect(codes(decide({ ...application, termMonths: 18 }))).toEqual(['TERM_NOT_ALLOWED']);
    expect(decide({ ...application, termMonths: 18 }).offer).toBeNull();
    expect(codes(decide({ ...application, requestedAmountFen: 500_000 }))).toEqual(['AMOUNT_BELOW_MINIMUM']);
    const big = decide({ ...application, requestedAmountFen: 250_000_000, priceFen: 400_000_000, valuationFen: 400_000_000 });
    expect(codes(big)).toContain('AMOUNT_ABOVE_MAXIMUM');
    expect(big.offer?.amountFen).toBe(200_000_000);
  });

  test('age limits with birth date and as-of date', () => {
    expect(codes(decide({ ...application, applicantBirthDate: '1949-12-31', asOfDate: '2026-01-01' }))).toEqual(['APPLICANT_TOO_OLD_AT_MATURITY']);
    expect(codes(decide({ ...application, applicantBirthDate: '2008-06-01', asOfDate: '2026-01-01' }))).toEqual(['APPLICANT_TOO_YOUNG']);
    expect(codes(decide({ ...application, applicantBirthDate: '1990-01-01', asOfDate: '2026-01-01' }))).toEqual([]);
  });

  test('reasons from earlier stages are carried; the policy decides which decline', () => {
    const flags = [reason('PHONE_RECENTLY_CHANGED', 'changed 5 days ago'), reason('BLACKLISTED')];
    expect(decide({ ...application, additionalReasons: flags }).recommendation).toBe('manual_review');
    const strict = definePolicy({ autoDeclineReasons: ['CREDIT_SCORE_BELOW_FLOOR', 'BLACKLISTED'] });
    const r = decide({ ...application, additionalReasons: flags }, strict);
    expect(r.recommendation).toBe('auto_decline');
    expect(r.reasons.map((x) => x.message)).toEqual(['The phone number was changed recently: changed 5 days ago', 'The applicant is on the blacklist']);
  });

  test('an upfront fee from policy shows in the offer APR', () => {
    const r = decide(application, definePolicy({ fees: { upfrontFeeBps: 100 } }));
    expect(r.offer?.upfrontFeeFen).toBe(150_000);
    expect(r.offer?.aprBps).toBeGreaterThan(670);
  });

  test('property: offers respect the caps, the price follows the grade, the floor alone auto-declines', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 300, max: 900 }), { nil: null }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 1_000_000, max: 300_000_000 }),
        fc.constantFrom(12, 24, 36, 48, 60),
        fc.constantFrom('equal_installment' as const, 'equal_principal' as const),
        fc.integer({ min: 1_000_000, max: 400_000_000 }),
        fc.integer({ min: 0, max: 400_000_000 }),
        (creditScore, monthlyIncomeFen, existingMonthlyDebtFen, requestedAmountFen, termMonths, method, priceFen, valuationFen) => {
          const r = decide({ ...application, creditScore, monthlyIncomeFen, existingMonthlyDebtFen, requestedAmountFen, termMonths, method, priceFen, valuationFen });
          expect(r.annualRateBps).toBe(DEFAULT_POLICY.ratesByGradeBps[r.grade]);
          expect(r.recommendation === 'auto_decline').toBe(creditScore !== null && creditScore < 550);
          if (r.offer) {
            expect(r.offer.amountFen).toBeLessThanOrEqual(Math.min(r.ltv.maxLoanFen, DEFAULT_POLICY.loan.maxAmountFen));
            expect(r.offer.amountFen).toBeGreaterThanOrEqual(DEFAULT_POLICY.loan.minAmountFen);
            expect(r.offer.annualRateBps).toBe(r.annualRateBps);
          }
          for (const x of r.reasons) expect(x.message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('grading helpers', () => {
  test('score bands and downgrades', () => {
    expect([800, 750, 749, 700, 650, 600, 599, 550, 300].map((s) => gradeForScore(s))).toEqual(['A', 'A', 'B', 'B', 'C', 'D', 'E', 'E', 'E']);
    expect(downgrade('A')).toBe('B');
    expect(downgrade('E')).toBe('E');
    expect(downgrade('B', 10)).toBe('E');
  });

  test('debt-to-income rounds up', () => {
    expect(debtToIncomeBps(300_000, 100_000, 1_000_000)).toBe(4000);
    expect(debtToIncomeBps(300_001, 100_000, 1_000_000)).toBe(4001);
    expect(debtToIncomeBps(1, 0, 0)).toBeNull();
  });

  test('every reason code has messages in both languages', () => {
    for (const code of REASON_CODES) {
      expect(isReasonCode(code)).toBe(true);
      expect(REASON_CATALOG[code].en.length).toBeGreaterThan(0);
      expect(REASON_CATALOG[code].zh.length).toBeGreaterThan(0);
    }
    expect(isReasonCode('NOPE')).toBe(false);
    expect(isReasonCode('toString')).toBe(false);
    expect(reason('DTI_ABOVE_LIMIT')).toEqual({ code: 'DTI_ABOVE_LIMIT', severity: 'review', message: 'Debt-to-income ratio is above the limit' });
  });

  test('buildOffer', () => {
    expect(buildOffer({ amountFen: 10_000_000, termMonths: 12, repaymentMethod: 'equal_installment', annualRateBps: 600 })).toEqual({
      amountFen: 10_000_000,
      termMonths: 12,
      repaymentMethod: 'equal_installment',
      annualRateBps: 600,
      aprBps: 617,
      monthlyPaymentFen: 860_664,
      upfrontFeeFen: 0,
    });
  });
});

describe('approver changes to the offer', () => {
  test('within limits there are no problems', () => {
    expect(offerChangeProblems({ amountFen: 14_000_000, termMonths: 36, annualRateBps: 650 }, { maxLoanFen: 21_250_000 })).toEqual([]);
    expect(offerChangeProblems({}, { maxLoanFen: 0 })).toEqual([]);
  });

  test('each field outside its limits is named', () => {
    const problems = offerChangeProblems({ amountFen: 21_250_001, termMonths: 18, annualRateBps: 2401 }, { maxLoanFen: 21_250_000 });
    expect(problems.map((p) => p.field)).toEqual(['amountFen', 'termMonths', 'annualRateBps']);
    expect(problems[0]?.message).toMatch(/10,000.00 CNY and 212,500.00 CNY/);
    expect(offerChangeProblems({ amountFen: 999_999, annualRateBps: 299 }, { maxLoanFen: 21_250_000 }).map((p) => p.field)).toEqual(['amountFen', 'annualRateBps']);
    expect(offerChangeProblems({ amountFen: 1.5, annualRateBps: 6.5 }, { maxLoanFen: 21_250_000 })).toHaveLength(2);
  });

  test('a rate whose APR would exceed the 24% cap on the annualised cost is refused (checked at signing)', () => {
    // No upfront fee: the APR of a level-payment loan is (1 + r/12)^12 − 1. At 21.5%:
    // (1 + 0.215/12)^12 − 1 = 23.75% ≤ 24%; at 21.8%: (1 + 0.218/12)^12 − 1 = 24.12% > 24%.
    expect(offerChangeProblems({ annualRateBps: 2150 }, { maxLoanFen: 21_250_000 })).toEqual([]);
    expect(offerChangeProblems({ annualRateBps: 2180 }, { maxLoanFen: 21_250_000 })).toEqual([
      { field: 'annualRateBps', message: 'the APR at this rate would exceed the 24.00% cap on the annualised cost of a loan' },
    ]);
    const noCap = definePolicy({ servicing: { terms: { costCapBps: null } } });
    expect(offerChangeProblems({ annualRateBps: 2180 }, { maxLoanFen: 21_250_000 }, noCap)).toEqual([]);
  });
});

describe('four eyes', () => {
  const big = 20_000_000;
  const small = 19_999_999;

  test('below the threshold one approver who is not the submitter decides', () => {
    expect(evaluateApproval({ amountFen: small, submittedBy: 'officer-1', priorApprovals: [], approverId: 'approver-1' })).toEqual({
      counts: true,
      refusal: null,
      approvals: ['approver-1'],
      requiredApprovals: 1,
      complete: true,
    });
    expect(evaluateApproval({ amountFen: small, submittedBy: 'officer-1', priorApprovals: [], approverId: 'officer-1' })).toMatchObject({
      counts: false,
      refusal: 'SUBMITTER_CANNOT_APPROVE',
      complete: false,
    });
  });

  test('at the threshold two different approvers are needed, never the submitter', () => {
    const first = evaluateApproval({ amountFen: big, submittedBy: 'officer-1', priorApprovals: [], approverId: 'approver-1' });
    expect(first).toMatchObject({ counts: true, requiredApprovals: 2, complete: false, approvals: ['approver-1'] });
    const same = evaluateApproval({ amountFen: big, submittedBy: 'officer-1', priorApprovals: first.approvals, approverId: 'approver-1' });
    expect(same).toMatchObject({ counts: false, refusal: 'ALREADY_APPROVED_BY_THIS_APPROVER', complete: false });
    const submitter = evaluateApproval({ amountFen: big, submittedBy: 'officer-1', priorApprovals: first.approvals, approverId: 'officer-1' });
    expect(submitter).toMatchObject({ counts: false, refusal: 'SUBMITTER_CANNOT_APPROVE', complete: false });
    const second = evaluateApproval({ amountFen: big, submittedBy: 'officer-1', priorApprovals: first.approvals, approverId: 'approver-2' });
    expect(second).toMatchObject({ counts: true, complete: true, approvals: ['approver-1', 'approver-2'] });
    const third = evaluateApproval({ amountFen: big, submittedBy: 'officer-1', priorApprovals: second.approvals, approverId: 'approver-3' });
    expect(third).toMatchObject({ counts: false, refusal: 'ALREADY_COMPLETE', complete: true });
  });

  test('tainted prior approvals (the submitter, duplicates) are not trusted', () => {
    const r = evaluateApproval({ amountFen: big, submittedBy: 'officer-1', priorApprovals: ['officer-1', 'approver-1', 'approver-1'], approverId: 'approver-2' });
    expect(r).toMatchObject({ counts: true, complete: true, approvals: ['approver-1', 'approver-2'] });
  });

  test('property: complete only with enough distinct non-submitter approvers', () => {
    const id = fc.constantFrom('s', 'a', 'b', 'c');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40_000_000 }), fc.array(id, { maxLength: 5 }), id, (amountFen, prior, approverId) => {
        const r = evaluateApproval({ amountFen, submittedBy: 's', priorApprovals: prior, approverId }, DEFAULT_POLICY);
        const distinct = new Set(r.approvals);
        expect(distinct.size).toBe(r.approvals.length);
        expect(distinct.has('s')).toBe(false);
        expect(r.complete).toBe(r.approvals.length >= r.requiredApprovals);
        expect(r.requiredApprovals).toBe(amountFen >= 20_000_000 ? 2 : 1);
      }),
      { numRuns: 1000 },
    );
  });
});
