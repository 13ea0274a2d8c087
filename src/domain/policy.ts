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
  let expectMin = 1;
  for (const b of policy.overdueBuckets) {
    if (b.minDays !== expectMin) problems.push(`overdue bucket ${b.bucket} should start at day ${expectMin}`);
    if (b.maxDays === null) break;
    expectMin = b.maxDays + 1;
  }
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
