// Decision rules: credit score, debt-to-income and loan-to-value to a risk grade, a price and a
// recommendation, with reasons a person can read. The machine never approves: it either
// auto-declines (below the score floor; a human can still review it, PIPL art. 24) or recommends
// manual review with the reasons it found. Four-eyes approval is counted here too.

import { type Bps, type Fen, BPS_PER_UNIT, applyBps, assertNonNegativeFen, assertPositiveFen, bpsToPercentString, ceilDiv, fenToYuanString, toFen } from './money';
import { type IsoDate, addMonths, ageInYears } from './dates';
import { type LtvAssessment, type VehicleClass, assessLtv } from './ltv';
import { type RepaymentMethod, buildSchedule, monthlyPaymentFen } from './schedule';
import { aprBps } from './apr';
import { type ProductPolicy, type RiskGrade, DEFAULT_POLICY, RISK_GRADES, requiresFourEyes } from './policy';
import { isAllowedTermMonths, validateVin } from './validators';

// ---------------------------------------------------------------------------------------------
// Reason codes

export type ReasonSeverity = 'decline' | 'review' | 'info';

/** Every reason code the system uses, with the default severity and a fixed description. */
export const REASON_CATALOG = {
  CREDIT_SCORE_BELOW_FLOOR: { severity: 'decline', en: 'Credit score is below the product floor', zh: '信用评分低于准入线' },
  CREDIT_SCORE_MISSING: { severity: 'review', en: 'No credit score is available (thin file)', zh: '无信用评分' },
  DTI_ABOVE_LIMIT: { severity: 'review', en: 'Debt-to-income ratio is above the limit', zh: '负债收入比超过上限' },
  DTI_ELEVATED: { severity: 'info', en: 'Debt-to-income ratio is elevated; risk grade lowered', zh: '负债收入比偏高，风险等级下调' },
  INCOME_MISSING: { severity: 'review', en: 'No monthly income was given', zh: '未提供月收入' },
  LTV_ABOVE_CAP: { severity: 'review', en: 'Requested amount exceeds the loan-to-value cap', zh: '申请金额超过贷款成数上限' },
  LTV_ELEVATED: { severity: 'info', en: 'Loan-to-value is high; risk grade lowered', zh: '贷款成数偏高，风险等级下调' },
  COLLATERAL_VALUE_ZERO: { severity: 'review', en: 'The vehicle has no collateral value', zh: '车辆无抵押价值' },
  VALUATION_BELOW_PRICE: { severity: 'info', en: 'The valuation is below the purchase price', zh: '评估价低于成交价' },
  VIN_CHECK_DIGIT_MISMATCH: { severity: 'review', en: 'VIN check digit (position 9) does not match', zh: '车架号校验位不符' },
  VIN_INVALID: { severity: 'review', en: 'VIN is not 17 valid characters', zh: '车架号格式错误' },
  TERM_NOT_ALLOWED: { severity: 'review', en: 'The term is not one the product offers', zh: '贷款期限不在产品范围内' },
  AMOUNT_BELOW_MINIMUM: { severity: 'review', en: 'The amount is below the product minimum', zh: '贷款金额低于产品下限' },
  AMOUNT_ABOVE_MAXIMUM: { severity: 'review', en: 'The amount is above the product maximum', zh: '贷款金额高于产品上限' },
  APPLICANT_TOO_YOUNG: { severity: 'review', en: 'The applicant is younger than the minimum age', zh: '申请人未达最低年龄' },
  APPLICANT_TOO_OLD_AT_MATURITY: { severity: 'review', en: 'The applicant would be over the maximum age at maturity', zh: '贷款到期时申请人超龄' },
  FOUR_EYES_REQUIRED: { severity: 'info', en: 'Two different approvers are required for this amount', zh: '该金额需双人审批' },
  // Raised by other stages and by approvers; listed here so every code has one description.
  BLACKLISTED: { severity: 'decline', en: 'The applicant is on the blacklist', zh: '申请人在黑名单中' },
  DUPLICATE_APPLICATION: { severity: 'decline', en: 'The applicant already has an open application', zh: '申请人已有在途申请' },
  DOCUMENTS_MISSING: { severity: 'review', en: 'Required documents are missing', zh: '缺少必备资料' },
  DOCUMENTS_INCONSISTENT: { severity: 'review', en: 'Documents do not match the application', zh: '资料与申请信息不一致' },
  ID_CARD_EXPIRED: { severity: 'review', en: 'The identity card has expired', zh: '身份证已过期' },
  DRIVER_LICENSE_EXPIRED: { severity: 'review', en: 'The driving licence has expired', zh: '驾驶证已过期' },
  PHONE_VERIFICATION_FAILED: { severity: 'decline', en: 'Phone verification failed', zh: '电话核实未通过' },
  PHONE_UNREACHABLE: { severity: 'review', en: 'The applicant could not be reached by phone', zh: '电话无法联系申请人' },
  PHONE_RECENTLY_CHANGED: { severity: 'review', en: 'The phone number was changed recently', zh: '手机号近期变更' },
  INCOME_INSUFFICIENT: { severity: 'decline', en: 'Income is insufficient for the repayments', zh: '收入不足以覆盖还款' },
  FRAUD_SUSPECTED: { severity: 'decline', en: 'Fraud is suspected', zh: '疑似欺诈' },
  COLLATERAL_UNACCEPTABLE: { severity: 'decline', en: 'The vehicle is not acceptable as collateral', zh: '车辆不符合抵押要求' },
  OTHER: { severity: 'review', en: 'Other reason (see comment)', zh: '其他原因（见备注）' },
} as const satisfies Record<string, { severity: ReasonSeverity; en: string; zh: string }>;

export type ReasonCode = keyof typeof REASON_CATALOG;
export const REASON_CODES = Object.keys(REASON_CATALOG) as ReasonCode[];

export function isReasonCode(value: unknown): value is ReasonCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(REASON_CATALOG, value);
}

export interface DecisionReason {
  code: ReasonCode;
  severity: ReasonSeverity;
  /** What was found, with the figures. */
  message: string;
}

export function reason(code: ReasonCode, detail?: string): DecisionReason {
  const entry = REASON_CATALOG[code];
  return { code, severity: entry.severity, message: detail ? `${entry.en}: ${detail}` : entry.en };
}

const pct = bpsToPercentString;

function yuan(fen: Fen): string {
  return `${fenToYuanString(fen, { grouping: true })} CNY`;
}

// ---------------------------------------------------------------------------------------------
// Offer

export interface Offer {
  amountFen: Fen;
  termMonths: number;
  repaymentMethod: RepaymentMethod;
  annualRateBps: Bps;
  /** APR on an IRR basis, compounded (see apr.ts), including the upfront fee. */
  aprBps: Bps;
  /** First instalment. */
  monthlyPaymentFen: Fen;
  upfrontFeeFen: Fen;
}

export function buildOffer(
  terms: { amountFen: Fen; termMonths: number; repaymentMethod: RepaymentMethod; annualRateBps: Bps },
  policy: ProductPolicy = DEFAULT_POLICY,
): Offer {
  const fee = applyBps(terms.amountFen, policy.fees.upfrontFeeBps);
  // Dates do not change the amounts; any disbursement date gives the same payments.
  const payments = buildSchedule({
    principalFen: terms.amountFen,
    annualRateBps: terms.annualRateBps,
    termMonths: terms.termMonths,
    method: terms.repaymentMethod,
    disbursementDate: '2000-01-01',
  }).map((i) => i.totalFen);
  return {
    amountFen: terms.amountFen,
    termMonths: terms.termMonths,
    repaymentMethod: terms.repaymentMethod,
    annualRateBps: terms.annualRateBps,
    aprBps: aprBps({ principalFen: terms.amountFen, upfrontFeeFen: fee, payments }),
    monthlyPaymentFen: payments[0] as Fen,
    upfrontFeeFen: fee,
  };
}

// ---------------------------------------------------------------------------------------------
// Grading and recommendation

export interface DecisionInput {
  /** From the credit bureau; null when there is no file. */
  creditScore: number | null;
  monthlyIncomeFen: Fen;
  /** Existing monthly debt service from the credit report (other loans, card minimums). */
  existingMonthlyDebtFen?: Fen;
  requestedAmountFen: Fen;
  termMonths: number;
  method: RepaymentMethod;
  priceFen: Fen;
  valuationFen?: Fen | null;
  vehicle: VehicleClass;
  vin?: string;
  /** With asOfDate, checks the age limits. */
  applicantBirthDate?: IsoDate;
  asOfDate?: IsoDate;
  /** Flags raised by earlier stages (e.g. PHONE_RECENTLY_CHANGED); an auto-decline code among them declines. */
  additionalReasons?: readonly DecisionReason[];
}

export type Recommendation = 'auto_decline' | 'manual_review';

export interface DecisionResult {
  recommendation: Recommendation;
  grade: RiskGrade;
  annualRateBps: Bps;
  reasons: DecisionReason[];
  ltv: LtvAssessment;
  /** (new monthly payment + existing debt) / income, rounded up; null without income. */
  dtiBps: Bps | null;
  /** The amount, term and price the approvers are asked to approve, or null if none can be made. */
  offer: Offer | null;
  requiresFourEyes: boolean;
  /** Every automated outcome can be put before a person (PIPL art. 24). */
  humanReviewAvailable: true;
}

/** The grade the score alone earns: the first band it reaches, else E. */
export function gradeForScore(score: number, policy: ProductPolicy = DEFAULT_POLICY): RiskGrade {
  for (const band of policy.credit.gradeBands) if (score >= band.minScore) return band.grade;
  return 'E';
}

/** One grade worse, E staying E. */
export function downgrade(grade: RiskGrade, notches = 1): RiskGrade {
  const i = Math.min(RISK_GRADES.indexOf(grade) + notches, RISK_GRADES.length - 1);
  return RISK_GRADES[i] as RiskGrade;
}

/** (monthly payment + existing monthly debt) / income in bps, rounded up; null when income is not positive. */
export function debtToIncomeBps(monthlyPaymentFen: Fen, existingMonthlyDebtFen: Fen, monthlyIncomeFen: Fen): Bps | null {
  const debt = BigInt(assertNonNegativeFen(monthlyPaymentFen)) + BigInt(assertNonNegativeFen(existingMonthlyDebtFen));
  if (assertNonNegativeFen(monthlyIncomeFen, 'monthlyIncomeFen') === 0) return null;
  return toFen(ceilDiv(debt * BigInt(BPS_PER_UNIT), BigInt(monthlyIncomeFen)));
}

export function decide(input: DecisionInput, policy: ProductPolicy = DEFAULT_POLICY): DecisionResult {
  assertPositiveFen(input.requestedAmountFen, 'requestedAmountFen');
  const reasons: DecisionReason[] = [];
  const existingDebt = assertNonNegativeFen(input.existingMonthlyDebtFen ?? 0, 'existingMonthlyDebtFen');

  // Score.
  let grade: RiskGrade;
  if (input.creditScore === null) {
    grade = policy.credit.noScoreGrade;
    reasons.push(reason('CREDIT_SCORE_MISSING', `graded ${grade} pending review`));
  } else {
    grade = gradeForScore(input.creditScore, policy);
    if (input.creditScore < policy.credit.scoreFloor) {
      reasons.push(reason('CREDIT_SCORE_BELOW_FLOOR', `score ${input.creditScore} < floor ${policy.credit.scoreFloor}`));
    }
  }

  // Product limits.
  const termOk = isAllowedTermMonths(input.termMonths, policy.loan.allowedTermMonths) && policy.loan.repaymentMethods.includes(input.method);
  if (!termOk) reasons.push(reason('TERM_NOT_ALLOWED', `${input.termMonths} months, ${input.method}`));
  if (input.requestedAmountFen < policy.loan.minAmountFen) {
    reasons.push(reason('AMOUNT_BELOW_MINIMUM', `${yuan(input.requestedAmountFen)} < ${yuan(policy.loan.minAmountFen)}`));
  }
  if (input.requestedAmountFen > policy.loan.maxAmountFen) {
    reasons.push(reason('AMOUNT_ABOVE_MAXIMUM', `${yuan(input.requestedAmountFen)} > ${yuan(policy.loan.maxAmountFen)}`));
  }

  // Vehicle.
  if (input.vin !== undefined) {
    const vin = validateVin(input.vin);
    if (!vin.valid) reasons.push(reason('VIN_INVALID', input.vin));
    else if (!vin.checkDigitOk) {
      reasons.push(reason('VIN_CHECK_DIGIT_MISMATCH', `position 9 is ${vin.normalized[8]}, expected ${vin.expectedCheckDigit}`));
    }
  }
  const ltv = assessLtv(
    { requestedFen: input.requestedAmountFen, priceFen: input.priceFen, valuationFen: input.valuationFen, vehicle: input.vehicle },
    { table: policy.ltv.table, counterOfferStepFen: policy.ltv.counterOfferStepFen, minLoanFen: policy.loan.minAmountFen },
  );
  if (input.valuationFen !== undefined && input.valuationFen !== null && input.valuationFen < input.priceFen) {
    reasons.push(reason('VALUATION_BELOW_PRICE', `valuation ${yuan(input.valuationFen)}, price ${yuan(input.priceFen)}`));
  }
  if (ltv.collateralValueFen === 0) reasons.push(reason('COLLATERAL_VALUE_ZERO'));
  else if (!ltv.withinCap) {
    reasons.push(
      reason(
        'LTV_ABOVE_CAP',
        `requested ${pct(ltv.requestedLtvBps as number)} of ${yuan(ltv.collateralValueFen)}, cap ${pct(ltv.capBps)} (max ${yuan(ltv.maxLoanFen)}); ` +
          (ltv.counterOfferFen === null ? 'no counter-offer possible' : `counter-offer ${yuan(ltv.counterOfferFen)}`),
      ),
    );
  }

  // The amount we can offer: the request, cut to the LTV counter-offer and the product maximum.
  let offerAmount: Fen | null = ltv.withinCap ? input.requestedAmountFen : ltv.counterOfferFen;
  if (offerAmount !== null && offerAmount > policy.loan.maxAmountFen) offerAmount = policy.loan.maxAmountFen;
  if (offerAmount !== null && offerAmount < policy.loan.minAmountFen) offerAmount = null;

  if (offerAmount !== null && ltv.collateralValueFen > 0) {
    const offerLtv = toFen(ceilDiv(BigInt(offerAmount) * 10_000n, BigInt(ltv.collateralValueFen)));
    if (offerLtv > policy.ltv.downgradeAboveBps) {
      grade = downgrade(grade);
      reasons.push(reason('LTV_ELEVATED', `${pct(offerLtv)} > ${pct(policy.ltv.downgradeAboveBps)}`));
    }
  }

  // Age.
  if (input.applicantBirthDate !== undefined && input.asOfDate !== undefined) {
    const age = ageInYears(input.applicantBirthDate, input.asOfDate);
    const maturity = addMonths(input.asOfDate, Math.max(input.termMonths, 0));
    const ageAtMaturity = ageInYears(input.applicantBirthDate, maturity);
    if (age < policy.applicantAge.min) reasons.push(reason('APPLICANT_TOO_YOUNG', `age ${age} < ${policy.applicantAge.min}`));
    if (ageAtMaturity > policy.applicantAge.maxAtMaturity) {
      reasons.push(reason('APPLICANT_TOO_OLD_AT_MATURITY', `age ${ageAtMaturity} at maturity > ${policy.applicantAge.maxAtMaturity}`));
    }
  }

  // Debt-to-income, priced at the grade so far; an elevated ratio costs a grade and is re-priced.
  // The payment is the first instalment, the largest under either method.
  const paymentAt = (rate: Bps): Fen =>
    offerAmount !== null && termOk
      ? monthlyPaymentFen({ principalFen: offerAmount, annualRateBps: rate, termMonths: input.termMonths, method: input.method })
      : 0;
  let dti: Bps | null = null;
  if (input.monthlyIncomeFen <= 0) {
    assertNonNegativeFen(input.monthlyIncomeFen, 'monthlyIncomeFen');
    reasons.push(reason('INCOME_MISSING'));
  } else if (offerAmount !== null && termOk) {
    dti = debtToIncomeBps(paymentAt(policy.ratesByGradeBps[grade]), existingDebt, input.monthlyIncomeFen);
    if ((dti as Bps) > policy.dti.downgradeAboveBps) {
      grade = downgrade(grade);
      dti = debtToIncomeBps(paymentAt(policy.ratesByGradeBps[grade]), existingDebt, input.monthlyIncomeFen) as Bps;
      reasons.push(reason('DTI_ELEVATED', `${pct(dti)} > ${pct(policy.dti.downgradeAboveBps)}`));
    }
    if ((dti as Bps) > policy.dti.limitBps) reasons.push(reason('DTI_ABOVE_LIMIT', `${pct(dti as Bps)} > ${pct(policy.dti.limitBps)}`));
  }

  const annualRateBps = policy.ratesByGradeBps[grade];
  const offer =
    offerAmount !== null && termOk
      ? buildOffer({ amountFen: offerAmount, termMonths: input.termMonths, repaymentMethod: input.method, annualRateBps }, policy)
      : null;
  const fourEyes = requiresFourEyes(offer ? offer.amountFen : input.requestedAmountFen, policy);
  if (fourEyes) reasons.push(reason('FOUR_EYES_REQUIRED', `at or above ${yuan(policy.fourEyesThresholdFen)}`));

  for (const extra of input.additionalReasons ?? []) reasons.push(extra);
  const declined = reasons.some((r) => policy.autoDeclineReasons.includes(r.code));

  return {
    recommendation: declined ? 'auto_decline' : 'manual_review',
    grade,
    annualRateBps,
    reasons,
    ltv,
    dtiBps: dti,
    offer,
    requiresFourEyes: fourEyes,
    humanReviewAvailable: true,
  };
}

// ---------------------------------------------------------------------------------------------
// Approver changes to the offer

export interface OfferChange {
  amountFen?: Fen;
  termMonths?: number;
  annualRateBps?: Bps;
}

export interface OfferChangeProblem {
  field: 'amountFen' | 'termMonths' | 'annualRateBps';
  message: string;
}

/**
 * Checks an approver's change to the offer against the limits: the amount within the product
 * range and the LTV maximum, an allowed term, a rate within the product range. Returns the
 * problems (empty when the change is acceptable).
 */
export function offerChangeProblems(change: OfferChange, context: { maxLoanFen: Fen }, policy: ProductPolicy = DEFAULT_POLICY): OfferChangeProblem[] {
  const problems: OfferChangeProblem[] = [];
  if (change.amountFen !== undefined) {
    const max = Math.min(context.maxLoanFen, policy.loan.maxAmountFen);
    if (!Number.isSafeInteger(change.amountFen) || change.amountFen < policy.loan.minAmountFen || change.amountFen > max) {
      problems.push({ field: 'amountFen', message: `amount must be between ${yuan(policy.loan.minAmountFen)} and ${yuan(max)}` });
    }
  }
  if (change.termMonths !== undefined && !isAllowedTermMonths(change.termMonths, policy.loan.allowedTermMonths)) {
    problems.push({ field: 'termMonths', message: `term must be one of ${policy.loan.allowedTermMonths.join(', ')} months` });
  }
  if (change.annualRateBps !== undefined) {
    const { minAnnualRateBps: lo, maxAnnualRateBps: hi } = policy.loan;
    const cap = policy.servicing.terms.costCapBps;
    if (!Number.isSafeInteger(change.annualRateBps) || change.annualRateBps < lo || change.annualRateBps > hi) {
      problems.push({ field: 'annualRateBps', message: `annual rate must be between ${lo} and ${hi} bps` });
    } else if (cap !== null && highestAprBps(change.annualRateBps, policy) > cap) {
      problems.push({ field: 'annualRateBps', message: `the APR at this rate would exceed the ${bpsToPercentString(cap)} cap on the annualised cost of a loan` });
    }
  }
  return problems;
}

/**
 * The highest APR a loan at this rate can have under the policy: the shortest allowed term (where
 * the upfront fee weighs most), either method. The annualised cost cap is checked against it
 * when an offer is made or changed, so no loan is signed above the cap.
 */
export function highestAprBps(annualRateBps: Bps, policy: ProductPolicy = DEFAULT_POLICY): Bps {
  const termMonths = Math.min(...policy.loan.allowedTermMonths);
  const principalFen = policy.loan.minAmountFen;
  let highest = 0;
  for (const method of policy.loan.repaymentMethods) {
    const payments = buildSchedule({ principalFen, annualRateBps, termMonths, method, disbursementDate: '2000-01-01' }).map((i) => i.totalFen);
    highest = Math.max(highest, aprBps({ principalFen, upfrontFeeFen: applyBps(principalFen, policy.fees.upfrontFeeBps), payments }));
  }
  return highest;
}

// ---------------------------------------------------------------------------------------------
// Four eyes

export type ApprovalRefusal = 'SUBMITTER_CANNOT_APPROVE' | 'ALREADY_APPROVED_BY_THIS_APPROVER' | 'ALREADY_COMPLETE';

export interface ApprovalEvaluation {
  /** Whether this approval is accepted and counted. */
  counts: boolean;
  refusal: ApprovalRefusal | null;
  /** The distinct approvers that count, including this one when it counts. */
  approvals: string[];
  requiredApprovals: 1 | 2;
  /** Enough distinct approvers have approved: the application is approved. */
  complete: boolean;
}

/** Staff ids name one person however they are cased or padded (`probe-case` is `PROBE-CASE `). */
export function sameStaffId(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/**
 * Whether `approverId`'s approval counts and whether it completes the decision. Nobody approves
 * an application they submitted; at or above the four-eyes threshold two different approvers are
 * needed. Prior approvals by the submitter or repeated ids are ignored rather than trusted.
 */
export function evaluateApproval(
  input: { amountFen: Fen; submittedBy: string; priorApprovals: readonly string[]; approverId: string },
  policy: ProductPolicy = DEFAULT_POLICY,
): ApprovalEvaluation {
  const required: 1 | 2 = requiresFourEyes(input.amountFen, policy) ? 2 : 1;
  const approvals: string[] = [];
  const counted = (id: string) => approvals.some((a) => sameStaffId(a, id));
  for (const id of input.priorApprovals) if (!sameStaffId(id, input.submittedBy) && !counted(id)) approvals.push(id);
  let refusal: ApprovalRefusal | null = null;
  if (approvals.length >= required) refusal = 'ALREADY_COMPLETE';
  else if (sameStaffId(input.approverId, input.submittedBy)) refusal = 'SUBMITTER_CANNOT_APPROVE';
  else if (counted(input.approverId)) refusal = 'ALREADY_APPROVED_BY_THIS_APPROVER';
  if (refusal === null) approvals.push(input.approverId);
  return { counts: refusal === null, refusal, approvals, requiredApprovals: required, complete: approvals.length >= required };
}
