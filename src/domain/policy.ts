// The product policy: every number a credit committee may change, in one object with the SPEC's
// defaults. Workflows receive it (or a version of it) as input so a running loan keeps the policy
// it started with; nothing here reads configuration itself.

import { type Bps, type Fen, DomainValueError } from './money';
import { type LtvTable, DEFAULT_LTV_TABLE } from './ltv';
import { type DocumentRules, ALLOWED_TERM_MONTHS, DEFAULT_DOCUMENT_RULES } from './validators';
import { type RepaymentMethod, REPAYMENT_METHODS } from './schedule';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const RISK_GRADES = ['A', 'B', 'C', 'D', 'E'] as const;
export type RiskGrade = (typeof RISK_GRADES)[number];

export const OVERDUE_BUCKETS = ['M1', 'M2', 'M3', 'M3+'] as const;
export type OverdueBucketName = (typeof OVERDUE_BUCKETS)[number];
export type CollectionAction = 'sms' | 'call_task' | 'collections_handoff';

export interface OverdueBucketRule {
  bucket: OverdueBucketName;
  /** Inclusive bounds in days past due; maxDays null means no upper bound. */
  minDays: number;
  maxDays: number | null;
  actions: readonly CollectionAction[];
}

/** What a payment pays, in this order (default 罚息 → 利息 → 本金). */
export const ALLOCATION_COMPONENTS = ['penalty', 'interest', 'principal'] as const;
export type AllocationComponent = (typeof ALLOCATION_COMPONENTS)[number];

/** One band of the early-repayment fee (提前还款违约金): months since disbursement, upper bound exclusive. */
export interface EarlyRepaymentFeeBand {
  /** The band applies while fewer than this many months have passed since disbursement; null: ever after. */
  beforeMonth: number | null;
  bps: Bps;
}

/**
 * The servicing terms a loan is signed with. They are copied onto the loan when it is booked
 * (`loans.servicing_terms`), so a later change of product policy never changes a running loan.
 */
export interface ServicingTerms {
  penalty: {
    /** Penalty rate as a multiple of the contract rate, in thousandths (1500 = 1.5×); 0 = no penalty. */
    rateMultiplePermille: number;
    /** What the penalty accrues on: the overdue principal, or overdue principal and interest. */
    base: 'principal' | 'principal_and_interest';
    /** An overdue amount paid within this many days of its due date owes no penalty; after it, penalty counts from the due date. */
    graceDays: number;
    /** Days per year of the daily rate (日利率 = 年利率 / 360). */
    dayCountBasis: 360 | 365;
  };
  /**
   * The total cost of the loan (interest, penalties, fees charged so far) may not exceed this
   * annual rate, simple, on the principal actually outstanding each day; null: no cap. Checked
   * at signing (the APR) and at every accrual (penalties and fees beyond it are not charged).
   */
  costCapBps: Bps | null;
  allocation: {
    order: readonly AllocationComponent[];
    /** `instalment`: every component of the oldest instalment before the next; `component`: each component across all instalments first. */
    across: 'instalment' | 'component';
  };
  /** Bands in increasing order of beforeMonth; past the last band no fee. */
  earlyRepaymentFee: readonly EarlyRepaymentFeeBand[];
}

export interface ServicingPolicy {
  terms: ServicingTerms;
  /** A payoff quote may be asked for today or up to this many days ahead, and is valid until its date. */
  payoffQuoteMaxDaysAhead: number;
  /** A payment's time may be at most this far in the future (clock skew between systems). */
  valueDateSkewMs: number;
  /** Reversals, waivers and refunds waiting for their second finance user, per loan. */
  maxPendingApprovals: number;
  /** A closed loan with unapplied credit waits this long for its refund before its workflow ends. */
  closedCreditRefundDays: number;
}

export interface ProductPolicy {
  loan: {
    minAmountFen: Fen;
    maxAmountFen: Fen;
    allowedTermMonths: readonly number[];
    repaymentMethods: readonly RepaymentMethod[];
    /** The range an approver may set the annual rate in. */
    minAnnualRateBps: Bps;
    maxAnnualRateBps: Bps;
  };
  /** Durations in milliseconds (Temporal accepts a number of ms wherever it takes a Duration). */
  deadlines: {
    /** Expire document_check after this long without a complete, consistent set. */
    documentSetMs: number;
    phoneVerification: { slaMs: number; expiryMs: number; maxUnreachableAttempts: number };
    approval: { slaMs: number; expiryMs: number };
    /** Void the envelope and expire the application if the offer is not signed by then. */
    offerExpiryMs: number;
  };
  /** At or above this amount two different approvers must approve (neither the submitter). */
  fourEyesThresholdFen: Fen;
  ltv: {
    table: LtvTable;
    /** Counter-offers are rounded down to a multiple of this. */
    counterOfferStepFen: Fen;
    /** An offer above this LTV costs one risk grade. */
    downgradeAboveBps: Bps;
  };
  credit: {
    /** Below this score the application is auto-declined (a human may review it: PIPL art. 24). */
    scoreFloor: number;
    /** Minimum score for each grade, best first; scores at or above the floor and below the last band get E. */
    gradeBands: readonly { grade: RiskGrade; minScore: number }[];
    /** The grade given when the bureau has no score (a thin file); always goes to review. */
    noScoreGrade: RiskGrade;
  };
  dti: {
    /** (new monthly payment + existing monthly debt) / monthly income above this goes to review flagged. */
    limitBps: Bps;
    /** Above this the risk grade drops one notch. */
    downgradeAboveBps: Bps;
  };
  ratesByGradeBps: Readonly<Record<RiskGrade, Bps>>;
  /** Reason codes that turn the recommendation into an auto-decline. */
  autoDeclineReasons: readonly string[];
  fees: { upfrontFeeBps: Bps };
  prepayment: { feeBps: Bps };
  applicantAge: { min: number; maxAtMaturity: number };
  documents: DocumentRules;
  overdueBuckets: readonly OverdueBucketRule[];
  reminders: { daysBeforeDue: readonly number[] };
  servicing: ServicingPolicy;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

export const DEFAULT_POLICY: ProductPolicy = deepFreeze<ProductPolicy>({
  loan: {
    minAmountFen: 1_000_000, // 10,000 CNY
    maxAmountFen: 200_000_000, // 2,000,000 CNY
    allowedTermMonths: ALLOWED_TERM_MONTHS,
    repaymentMethods: REPAYMENT_METHODS,
    minAnnualRateBps: 300,
    maxAnnualRateBps: 2400,
  },
  deadlines: {
    documentSetMs: 7 * DAY_MS,
    phoneVerification: { slaMs: 24 * HOUR_MS, expiryMs: 72 * HOUR_MS, maxUnreachableAttempts: 3 },
    approval: { slaMs: 24 * HOUR_MS, expiryMs: 7 * DAY_MS },
    offerExpiryMs: 7 * DAY_MS,
  },
  fourEyesThresholdFen: 20_000_000, // 200,000 CNY
  ltv: { table: DEFAULT_LTV_TABLE, counterOfferStepFen: 10_000, downgradeAboveBps: 7500 },
  credit: {
    scoreFloor: 550,
    gradeBands: [
      { grade: 'A', minScore: 750 },
      { grade: 'B', minScore: 700 },
      { grade: 'C', minScore: 650 },
      { grade: 'D', minScore: 600 },
    ],
    noScoreGrade: 'D',
  },
  dti: { limitBps: 5000, downgradeAboveBps: 4000 },
  ratesByGradeBps: { A: 450, B: 650, C: 850, D: 1150, E: 1500 },
  autoDeclineReasons: ['CREDIT_SCORE_BELOW_FLOOR'],
  fees: { upfrontFeeBps: 0 },
  prepayment: { feeBps: 0 },
  applicantAge: { min: 18, maxAtMaturity: 65 },
  documents: DEFAULT_DOCUMENT_RULES,
  overdueBuckets: [
    { bucket: 'M1', minDays: 1, maxDays: 30, actions: ['sms'] },
    { bucket: 'M2', minDays: 31, maxDays: 60, actions: ['sms', 'call_task'] },
    { bucket: 'M3', minDays: 61, maxDays: 90, actions: ['call_task'] },
    { bucket: 'M3+', minDays: 91, maxDays: null, actions: ['collections_handoff'] },
  ],
  reminders: { daysBeforeDue: [3, 0] },
  servicing: {
    terms: {
      penalty: { rateMultiplePermille: 1500, base: 'principal', graceDays: 3, dayCountBasis: 360 },
      costCapBps: 2400,
      allocation: { order: ['penalty', 'interest', 'principal'], across: 'instalment' },
      earlyRepaymentFee: [
        { beforeMonth: 12, bps: 300 },
        { beforeMonth: 24, bps: 100 },
      ],
    },
    payoffQuoteMaxDaysAhead: 30,
    valueDateSkewMs: 5 * MINUTE_MS,
    maxPendingApprovals: 20,
    closedCreditRefundDays: 90,
  },
});

/**
 * The terms of loans booked before the servicing ledger: their contracts said nothing of penalty
 * interest or early-repayment fees, so the ledger charges neither (the migration gives them these).
 */
export const LEGACY_SERVICING_TERMS: ServicingTerms = deepFreeze<ServicingTerms>({
  penalty: { rateMultiplePermille: 0, base: 'principal', graceDays: 3, dayCountBasis: 360 },
  costCapBps: 2400,
  allocation: { order: ['penalty', 'interest', 'principal'], across: 'instalment' },
  earlyRepaymentFee: [],
});

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type PolicyOverrides = DeepPartial<ProductPolicy>;

function merge<T>(base: T, overrides: unknown): T {
  if (overrides === undefined) return base;
  if (Array.isArray(overrides) || typeof overrides !== 'object' || overrides === null || typeof base !== 'object' || base === null) {
    return overrides as T;
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(overrides)) out[k] = merge((base as Record<string, unknown>)[k], v);
  return out as T;
}

/** The default policy with some values replaced (arrays replace, objects merge); validated and frozen. */
export function definePolicy(overrides: PolicyOverrides = {}, base: ProductPolicy = DEFAULT_POLICY): ProductPolicy {
  const policy = merge(base, overrides);
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new DomainValueError(`invalid product policy: ${problems.join('; ')}`);
  return deepFreeze(policy);
}

/** What is inconsistent in a policy (empty when it is usable). */
export function policyProblems(policy: ProductPolicy): string[] {
  const problems: string[] = [];
  const { loan, credit, dti } = policy;
  if (!(loan.minAmountFen > 0 && loan.minAmountFen <= loan.maxAmountFen)) problems.push('loan amounts: need 0 < min ≤ max');
  if (!(loan.minAnnualRateBps >= 0 && loan.minAnnualRateBps <= loan.maxAnnualRateBps)) problems.push('loan rates: need 0 ≤ min ≤ max');
  if (loan.allowedTermMonths.length === 0) problems.push('no allowed terms');
  for (let i = 1; i < credit.gradeBands.length; i++) {
    if ((credit.gradeBands[i] as { minScore: number }).minScore >= (credit.gradeBands[i - 1] as { minScore: number }).minScore) {
      problems.push('credit grade bands must be in descending score order');
    }
  }
  if (credit.gradeBands.some((b) => b.minScore < credit.scoreFloor)) problems.push('a grade band starts below the score floor');
  if (dti.downgradeAboveBps > dti.limitBps) problems.push('dti downgrade threshold above the limit');
  for (const grade of RISK_GRADES) {
    const rate = policy.ratesByGradeBps[grade];
    if (rate < loan.minAnnualRateBps || rate > loan.maxAnnualRateBps) problems.push(`rate for grade ${grade} outside the allowed range`);
  }
  problems.push(...servicingTermsProblems(policy.servicing.terms));
  const s = policy.servicing;
  if (!(Number.isSafeInteger(s.payoffQuoteMaxDaysAhead) && s.payoffQuoteMaxDaysAhead >= 0)) problems.push('payoff quote horizon must be a whole number of days');
  if (!(s.valueDateSkewMs >= 0)) problems.push('value date skew must not be negative');
  if (!(Number.isSafeInteger(s.maxPendingApprovals) && s.maxPendingApprovals >= 1)) problems.push('at least one pending approval must be allowed');
  let expectMin = 1;
  for (const b of policy.overdueBuckets) {
    if (b.minDays !== expectMin) problems.push(`overdue bucket ${b.bucket} should start at day ${expectMin}`);
    if (b.maxDays === null) break;
    expectMin = b.maxDays + 1;
  }
  return problems;
}

/** What is inconsistent in a loan's servicing terms (empty when usable). */
export function servicingTermsProblems(terms: ServicingTerms): string[] {
  const problems: string[] = [];
  const p = terms.penalty;
  if (!(Number.isSafeInteger(p.rateMultiplePermille) && p.rateMultiplePermille >= 0 && p.rateMultiplePermille <= 10_000)) {
    problems.push('penalty multiple must be 0 to 10× in thousandths');
  }
  if (p.base !== 'principal' && p.base !== 'principal_and_interest') problems.push('penalty base must be principal or principal_and_interest');
  if (!(Number.isSafeInteger(p.graceDays) && p.graceDays >= 0 && p.graceDays <= 90)) problems.push('grace days must be 0 to 90');
  if (p.dayCountBasis !== 360 && p.dayCountBasis !== 365) problems.push('day count basis must be 360 or 365');
  if (terms.costCapBps !== null && !(Number.isSafeInteger(terms.costCapBps) && terms.costCapBps > 0)) problems.push('cost cap must be a positive rate or null');
  const order = terms.allocation.order;
  if (order.length !== ALLOCATION_COMPONENTS.length || ALLOCATION_COMPONENTS.some((c) => !order.includes(c))) {
    problems.push('allocation order must name penalty, interest and principal once each');
  }
  if (terms.allocation.across !== 'instalment' && terms.allocation.across !== 'component') problems.push('allocation must be across instalment or component');
  let before = 0;
  terms.earlyRepaymentFee.forEach((band, i) => {
    if (!(Number.isSafeInteger(band.bps) && band.bps >= 0 && band.bps <= 10_000)) problems.push(`fee band ${i + 1}: bps must be 0 to 10,000`);
    if (band.beforeMonth === null) {
      if (i !== terms.earlyRepaymentFee.length - 1) problems.push('only the last fee band may be open-ended');
    } else if (!(Number.isSafeInteger(band.beforeMonth) && band.beforeMonth > before)) {
      problems.push('fee bands must be in increasing order of months');
    } else before = band.beforeMonth;
  });
  return problems;
}

/** The overdue bucket for a number of days past due: null when not overdue (0 or fewer days). */
export function overdueBucket(daysPastDue: number, policy: ProductPolicy = DEFAULT_POLICY): OverdueBucketName | null {
  return overdueBucketRule(daysPastDue, policy)?.bucket ?? null;
}

export function overdueBucketRule(daysPastDue: number, policy: ProductPolicy = DEFAULT_POLICY): OverdueBucketRule | null {
  if (!Number.isFinite(daysPastDue) || daysPastDue < 1) return null;
  const days = Math.floor(daysPastDue);
  return policy.overdueBuckets.find((b) => days >= b.minDays && (b.maxDays === null || days <= b.maxDays)) ?? null;
}

/** True when the amount needs two approvers (at or above the threshold). */
export function requiresFourEyes(amountFen: Fen, policy: ProductPolicy = DEFAULT_POLICY): boolean {
  return amountFen >= policy.fourEyesThresholdFen;
}
