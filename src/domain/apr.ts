// Annualised rate disclosure on an IRR basis (PBOC Announcement [2021] No. 3).
//
// The announcement asks for the rate that discounts every cash flow, fees included, back to the
// principal the borrower actually received, annualised either with compound interest (复利) or
// with simple interest (单利), saying which. With a monthly IRR i:
//   compound (the figure this module calls the APR):  (1 + i)^12 − 1
//   simple (labelled as such):                         12 · i
// The announcement's check: 100,000 lent, a 1,000 upfront fee (99,000 received) and 12 monthly
// payments of 8,833.30 give i = 1.06698%/month, so 13.58% compound and 12.80% simple.
// For a fee-free loan at nominal annual rate R (monthly rate R/12) the simple figure equals R and
// the compound figure equals (1 + R/12)^12 − 1, both within the rounding of payments to the fen.
//
// The periodic IRR is found by bisection on an exact BigInt evaluation of the NPV's sign, so it
// is deterministic everywhere and accurate to 1e-12 per period.

import { type Bps, type Fen, DomainValueError, assertFen, assertNonNegativeFen, assertPositiveFen, bpsToPercentString, fenToYuanString, roundHalfUp } from './money';
import { type IsoDate, dayNumber } from './dates';
import { type Installment, type RepaymentMethod, type ScheduleInput, REPAYMENT_METHOD_LABELS_ZH, buildSchedule, scheduleTotals } from './schedule';

/** IRR precision: rates per period are found as m / IRR_SCALE for an integer m. */
export const IRR_SCALE = 1_000_000_000_000n;

function signOf(x: bigint): number {
  return x > 0n ? 1 : x < 0n ? -1 : 0;
}

/** Sign of Σ cf_k (1+r)^(n−k) for r = m / IRR_SCALE, i.e. the sign of the NPV at rate r. */
function npvSign(flows: readonly bigint[], powers: readonly bigint[], m: bigint): number {
  const growth = IRR_SCALE + m;
  let acc = 0n;
  for (let k = 0; k < flows.length; k++) acc = acc * growth + (flows[k] as bigint) * (powers[k] as bigint);
  return signOf(acc);
}

/**
 * The periodic internal rate of return, scaled: the integer m such that m / IRR_SCALE is the
 * rate per period (rounded toward the lower end of a 1e-12 bracket). flows[k] happens at the end
 * of period k (flows[0] now). Needs at least one positive and one negative flow; returns null
 * when no rate between −99.9% and 10^6 per period zeroes the NPV.
 * With one sign change (a loan: money out, then money back) the rate is unique.
 */
export function periodicIrrScaled(cashFlows: readonly Fen[]): bigint | null {
  const flows = cashFlows.map((f, i) => BigInt(assertFen(f, `cash flow ${i}`)));
  if (!flows.some((f) => f > 0n) || !flows.some((f) => f < 0n)) {
    throw new DomainValueError('an IRR needs at least one positive and one negative cash flow');
  }
  const powers: bigint[] = [];
  let p = 1n;
  for (let k = 0; k < flows.length; k++) {
    powers.push(p);
    p *= IRR_SCALE;
  }
  let lo = -(IRR_SCALE - IRR_SCALE / 1000n); // −99.9% per period
  let hi = IRR_SCALE; // +100% per period, widened below if needed
  const loSign = npvSign(flows, powers, lo);
  if (loSign === 0) return lo;
  let hiSign = npvSign(flows, powers, hi);
  while (hiSign === loSign) {
    if (hi > IRR_SCALE * 1_000_000n) return null;
    hi *= 4n;
    hiSign = npvSign(flows, powers, hi);
  }
  if (hiSign === 0) return hi;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    const s = npvSign(flows, powers, mid);
    if (s === 0) return mid;
    if (s === loSign) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The periodic IRR as a plain number (for display and tests; amounts never come from it). */
export function periodicIrr(cashFlows: readonly Fen[]): number | null {
  const m = periodicIrrScaled(cashFlows);
  return m === null ? null : Number(m) / Number(IRR_SCALE);
}

/** (1 + m/S)^periods − 1 in basis points, rounded half-up, exactly. */
function compoundBps(m: bigint, periods: number): Bps {
  const n = BigInt(periods);
  const base = IRR_SCALE ** n;
  return Number(roundHalfUp(((IRR_SCALE + m) ** n - base) * 10_000n, base));
}

/** periods · m/S in basis points, rounded half-up. */
function simpleBps(m: bigint, periods: number): Bps {
  return Number(roundHalfUp(m * BigInt(periods) * 10_000n, IRR_SCALE));
}

export interface AprInput {
  /** The contract principal. */
  principalFen: Fen;
  /** Fees taken at drawdown (deducted or paid up front): the borrower receives principal − fee. */
  upfrontFeeFen?: Fen;
  /** Every later payment, one per period (instalments plus any periodic fees), in order. */
  payments: readonly Fen[];
  /** Periods per year; 12 for monthly instalments. */
  periodsPerYear?: number;
}

/** The borrower's cash flows: −(principal actually received) now, then each payment. */
export function loanCashFlows(input: AprInput): Fen[] {
  const principal = assertPositiveFen(input.principalFen, 'principalFen');
  const fee = assertNonNegativeFen(input.upfrontFeeFen ?? 0, 'upfrontFeeFen');
  if (fee >= principal) throw new DomainValueError('upfrontFeeFen must be less than principalFen');
  if (input.payments.length === 0) throw new DomainValueError('payments must not be empty');
  return [-(principal - fee), ...input.payments.map((p, i) => assertNonNegativeFen(p, `payment ${i + 1}`))];
}

export interface AprFigures {
  /** The IRR per period (a month for monthly instalments). */
  periodicIrr: number;
  /** APR, IRR basis compounded: (1 + i)^12 − 1 (复利). This is the disclosed APR. */
  aprBps: Bps;
  /** IRR basis annualised with simple interest: 12 · i (单利). Must be labelled as such. */
  simpleInterestRateBps: Bps;
}

export function aprFigures(input: AprInput): AprFigures {
  const periods = input.periodsPerYear ?? 12;
  if (!Number.isSafeInteger(periods) || periods < 1) throw new DomainValueError('periodsPerYear must be a positive whole number');
  const m = periodicIrrScaled(loanCashFlows(input));
  /* istanbul ignore next -- a positive receipt repaid by non-negative payments always has an IRR in range */
  if (m === null) throw new DomainValueError('these cash flows have no IRR');
  return {
    periodicIrr: Number(m) / Number(IRR_SCALE),
    aprBps: compoundBps(m, periods),
    simpleInterestRateBps: simpleBps(m, periods),
  };
}

/** APR on an IRR basis, compounded (复利): the 13.58% of the PBOC example. */
export function aprBps(input: AprInput): Bps {
  return aprFigures(input).aprBps;
}

/**
 * The IRR annualised with simple interest (单利), monthly IRR × 12: the 12.80% of the PBOC example.
 * Disclose it only labelled as simple interest.
 */
export function simpleInterestRateBps(input: AprInput): Bps {
  return aprFigures(input).simpleInterestRateBps;
}

export interface DatedCashFlow {
  date: IsoDate;
  amountFen: Fen;
}

/**
 * The annual effective IRR of dated cash flows (XIRR, actual/365: each flow discounted by
 * (1+R)^(days/365)). Bisection in plain IEEE arithmetic, so deterministic; accurate to 1e-10.
 * Returns null if no rate between −99% and 10^6 a year fits.
 */
export function xirr(flows: readonly DatedCashFlow[]): number | null {
  if (flows.length === 0) throw new DomainValueError('no cash flows');
  const first = Math.min(...flows.map((f) => dayNumber(f.date)));
  const points = flows.map((f) => ({ t: (dayNumber(f.date) - first) / 365, amount: assertFen(f.amountFen) }));
  if (!points.some((p) => p.amount > 0) || !points.some((p) => p.amount < 0)) {
    throw new DomainValueError('an IRR needs at least one positive and one negative cash flow');
  }
  const npv = (rate: number): number => {
    const logGrowth = Math.log1p(rate);
    let sum = 0;
    for (const p of points) sum += p.amount * Math.exp(-p.t * logGrowth);
    return sum;
  };
  let lo = -0.99;
  let hi = 1;
  const loSign = Math.sign(npv(lo));
  let hiSign = Math.sign(npv(hi));
  while (hiSign === loSign) {
    if (hi >= 1e6) return null;
    hi *= 4;
    hiSign = Math.sign(npv(hi));
  }
  for (let i = 0; i < 200 && hi - lo > 1e-10; i++) {
    const mid = (lo + hi) / 2;
    const s = Math.sign(npv(mid));
    if (s === 0) return mid;
    if (s === loSign) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface DisclosureInput extends ScheduleInput {
  upfrontFeeFen?: Fen;
}

/** The 贷款须知 figures, as plain data for the contract template and the API. */
export interface Disclosure {
  amountFen: Fen;
  amountYuan: string;
  termMonths: number;
  method: RepaymentMethod;
  methodLabelZh: string;
  annualRateBps: Bps;
  annualRatePercent: string;
  upfrontFeeFen: Fen;
  amountReceivedFen: Fen;
  aprBps: Bps;
  aprPercent: string;
  aprBasis: string;
  simpleInterestRateBps: Bps;
  simpleInterestRatePercent: string;
  simpleInterestRateBasis: string;
  firstPaymentFen: Fen;
  totalInterestFen: Fen;
  totalRepaymentFen: Fen;
  /** Interest plus fees: everything paid beyond the principal received. */
  totalCostFen: Fen;
  installments: Installment[];
}

export function disclosure(input: DisclosureInput): Disclosure {
  const schedule = buildSchedule(input);
  const fee = input.upfrontFeeFen ?? 0;
  const figures = aprFigures({ principalFen: input.principalFen, upfrontFeeFen: fee, payments: schedule.map((i) => i.totalFen) });
  const totals = scheduleTotals(schedule);
  return {
    amountFen: input.principalFen,
    amountYuan: fenToYuanString(input.principalFen, { grouping: true }),
    termMonths: input.termMonths,
    method: input.method,
    methodLabelZh: REPAYMENT_METHOD_LABELS_ZH[input.method],
    annualRateBps: input.annualRateBps,
    annualRatePercent: bpsToPercentString(input.annualRateBps),
    upfrontFeeFen: fee,
    amountReceivedFen: input.principalFen - fee,
    aprBps: figures.aprBps,
    aprPercent: bpsToPercentString(figures.aprBps),
    aprBasis: 'IRR of all cash flows including fees over the principal received, compounded monthly (复利)',
    simpleInterestRateBps: figures.simpleInterestRateBps,
    simpleInterestRatePercent: bpsToPercentString(figures.simpleInterestRateBps),
    simpleInterestRateBasis: 'same IRR annualised with simple interest, monthly IRR × 12 (单利)',
    firstPaymentFen: (schedule[0] as Installment).totalFen,
    totalInterestFen: totals.interestFen,
    totalRepaymentFen: totals.totalFen,
    totalCostFen: totals.interestFen + fee,
    installments: schedule,
  };
}
