// Repayment schedules for 等额本息 (equal instalment) and 等额本金 (equal principal).
//
// Every amount is computed exactly with BigInt and rounded once to the fen, half-up:
// - the monthly rate is r = annualRateBps / 10,000 / 12 = annualRateBps / 120,000, so
//   (1+r)^n = (120,000 + bps)^n / 120,000^n is an exact rational and the level payment
//   M = P·r(1+r)^n / ((1+r)^n − 1) needs no floating point or fixed-point approximation;
// - each period's interest is the opening balance × r, rounded to the fen;
// - the last instalment takes whatever principal is left, so the principal parts sum to P exactly.
// Due dates are monthly on the disbursement day in Asia/Shanghai, clamped to the month's end.

import {
  type Bps,
  type Fen,
  DomainValueError,
  applyBps,
  assertBps,
  assertNonNegativeFen,
  assertPositiveFen,
  roundHalfUp,
  toFen,
} from './money';
import { type IsoDate, addMonths, compareDates, daysBetween, parseDate } from './dates';

// Callers turn the instant they were given (workflow time, request time) into a Shanghai date here.
export { shanghaiDate } from './dates';

export const REPAYMENT_METHODS = ['equal_installment', 'equal_principal'] as const;
export type RepaymentMethod = (typeof REPAYMENT_METHODS)[number];

export const REPAYMENT_METHOD_LABELS_ZH: Readonly<Record<RepaymentMethod, string>> = {
  equal_installment: '等额本息',
  equal_principal: '等额本金',
};

/** Schedules are generic (the product's allowed terms are a validator); this bounds the BigInt work. */
export const MAX_TERM_MONTHS = 600;

export interface LoanTerms {
  principalFen: Fen;
  annualRateBps: Bps;
  termMonths: number;
  method: RepaymentMethod;
}

export interface ScheduleInput extends LoanTerms {
  /** 'YYYY-MM-DD' in Asia/Shanghai: the day the money is paid out; interest runs from here. */
  disbursementDate: IsoDate;
  /**
   * Optional first due date (after disbursement, at most two months later); later instalments
   * fall on its day of the month. Each period still bears one month's interest whatever its
   * length, which is how Chinese lenders quote 月供.
   */
  firstDueDate?: IsoDate;
}

export interface Installment {
  seq: number; // 1-based
  /** The day this period's interest starts accruing: disbursement, or the previous due date. */
  periodStartDate: IsoDate;
  dueDate: IsoDate;
  principalFen: Fen;
  interestFen: Fen;
  totalFen: Fen;
  openingBalanceFen: Fen;
  closingBalanceFen: Fen;
}

/** An instalment's amounts without its dates. */
export type AmortizationRow = Omit<Installment, 'seq' | 'periodStartDate' | 'dueDate'>;
type Amounts = AmortizationRow;

const MONTHS_PER_YEAR_BPS = 120_000n; // 12 months × 10,000 bps

function checkTerms(terms: LoanTerms): void {
  assertPositiveFen(terms.principalFen, 'principalFen');
  assertBps(terms.annualRateBps, 'annualRateBps');
  if (!Number.isSafeInteger(terms.termMonths) || terms.termMonths < 1 || terms.termMonths > MAX_TERM_MONTHS) {
    throw new DomainValueError(`termMonths must be a whole number from 1 to ${MAX_TERM_MONTHS}, got ${terms.termMonths}`);
  }
  if (!REPAYMENT_METHODS.includes(terms.method)) {
    throw new DomainValueError(`unknown repayment method ${JSON.stringify(terms.method)}`);
  }
}

/**
 * The exact 等额本息 level payment rounded half-up to the fen. With a zero rate it is P/n.
 * (This is the payment of every instalment but the last, which absorbs the rounding.)
 */
export function levelPaymentFen(principalFen: Fen, annualRateBps: Bps, termMonths: number): Fen {
  checkTerms({ principalFen, annualRateBps, termMonths, method: 'equal_installment' });
  const p = BigInt(principalFen);
  const n = BigInt(termMonths);
  const b = BigInt(annualRateBps);
  if (b === 0n) return toFen(roundHalfUp(p, n));
  const growth = (MONTHS_PER_YEAR_BPS + b) ** n; // (1+r)^n × 120,000^n
  const base = MONTHS_PER_YEAR_BPS ** n;
  // M = P·(b/120000)·growth/base / ((growth − base)/base) = P·b·growth / (120000·(growth − base))
  return toFen(roundHalfUp(p * b * growth, MONTHS_PER_YEAR_BPS * (growth - base)));
}

function amortize(terms: LoanTerms): Amounts[] {
  checkTerms(terms);
  const n = terms.termMonths;
  const b = BigInt(terms.annualRateBps);
  const level =
    terms.method === 'equal_installment' ? BigInt(levelPaymentFen(terms.principalFen, terms.annualRateBps, n)) : 0n;
  const principalPart = terms.method === 'equal_principal' ? roundHalfUp(BigInt(terms.principalFen), BigInt(n)) : 0n;

  const rows: Amounts[] = [];
  let balance = BigInt(terms.principalFen);
  for (let seq = 1; seq <= n; seq++) {
    const interest = roundHalfUp(balance * b, MONTHS_PER_YEAR_BPS);
    let principal: bigint;
    if (seq === n) {
      principal = balance;
    } else if (terms.method === 'equal_installment') {
      // level ≥ interest always holds (level > P·r exactly and balances only fall), so this is
      // never negative; it can exceed the balance only for loans of a few fen, hence the cap.
      principal = level - interest;
    } else {
      principal = principalPart;
    }
    if (principal > balance) principal = balance;
    const closing = balance - principal;
    rows.push({
      principalFen: toFen(principal),
      interestFen: toFen(interest),
      totalFen: toFen(principal + interest),
      openingBalanceFen: toFen(balance),
      closingBalanceFen: toFen(closing),
    });
    balance = closing;
  }
  return rows;
}

/** The amounts of every instalment of `terms` (the servicing ledger re-amortises with it). */
export function amortizationRows(terms: LoanTerms): AmortizationRow[] {
  return amortize(terms);
}

/** The due date of every instalment: monthly, end-of-month safe. */
export function dueDates(input: {
  disbursementDate: IsoDate;
  termMonths: number;
  firstDueDate?: IsoDate;
}): IsoDate[] {
  parseDate(input.disbursementDate, 'disbursementDate');
  const dates: IsoDate[] = [];
  if (input.firstDueDate === undefined) {
    for (let k = 1; k <= input.termMonths; k++) dates.push(addMonths(input.disbursementDate, k));
    return dates;
  }
  const first = parseDate(input.firstDueDate, 'firstDueDate');
  if (compareDates(input.firstDueDate, input.disbursementDate) <= 0) {
    throw new DomainValueError('firstDueDate must be after disbursementDate');
  }
  if (compareDates(input.firstDueDate, addMonths(input.disbursementDate, 2)) > 0) {
    throw new DomainValueError('firstDueDate must be at most two months after disbursementDate');
  }
  for (let k = 0; k < input.termMonths; k++) dates.push(addMonths(input.firstDueDate, k, first.day));
  return dates;
}

/** The full repayment schedule. Pure: the same input always gives the same schedule. */
export function buildSchedule(input: ScheduleInput): Installment[] {
  const rows = amortize(input);
  const dates = dueDates(input);
  return rows.map((row, i) => ({
    seq: i + 1,
    periodStartDate: i === 0 ? input.disbursementDate : (dates[i - 1] as IsoDate),
    dueDate: dates[i] as IsoDate,
    ...row,
  }));
}

/**
 * The first instalment: the 月供 for 等额本息, the largest payment for 等额本金. This is the figure
 * to use for debt-to-income.
 */
export function monthlyPaymentFen(terms: LoanTerms): Fen {
  const first = amortize(terms)[0];
  /* istanbul ignore next -- amortize always returns termMonths ≥ 1 rows */
  if (!first) throw new DomainValueError('empty schedule');
  return first.totalFen;
}

/** The instalment amounts without dates, for pricing and tests. */
export function scheduleAmounts(terms: LoanTerms): Fen[] {
  return amortize(terms).map((row) => row.totalFen);
}

export interface ScheduleTotals {
  principalFen: Fen;
  interestFen: Fen;
  totalFen: Fen;
}

export function scheduleTotals(schedule: readonly Installment[]): ScheduleTotals {
  let principal = 0;
  let interest = 0;
  for (const inst of schedule) {
    principal += inst.principalFen;
    interest += inst.interestFen;
  }
  return { principalFen: principal, interestFen: interest, totalFen: principal + interest };
}

export interface EarlyPayoffInput {
  /** 'YYYY-MM-DD' (Asia/Shanghai) on which the borrower pays everything off. */
  asOfDate: IsoDate;
  /** Instalments 1..paidThroughSeq are fully paid (0 = none). */
  paidThroughSeq: number;
  /** Prepayment fee (提前还款违约金) on the principal repaid ahead of schedule; default none. */
  prepaymentFeeBps?: Bps;
}

export interface EarlyPayoff {
  asOfDate: IsoDate;
  /** Unpaid instalments whose due date is on or before asOfDate, in full. */
  dueUnpaidFen: Fen;
  dueUnpaidPrincipalFen: Fen;
  dueUnpaidInterestFen: Fen;
  /** Principal of the instalments not yet due: the amount repaid ahead of schedule. */
  principalNotYetDueFen: Fen;
  /** Interest of the current period accrued to asOfDate (see earlyPayoffAmount). */
  accruedInterestFen: Fen;
  prepaymentFeeFen: Fen;
  /** What the borrower pays to close the loan on asOfDate. */
  totalFen: Fen;
  /** The instalment whose period contains asOfDate, or null when every instalment is already due. */
  currentSeq: number | null;
  accrualDays: number;
  periodDays: number;
}

/**
 * The amount that closes the loan on `asOfDate`.
 *
 * Convention: unpaid instalments already due are owed in full (late-payment interest, 罚息, is
 * servicing's business and is not included). The principal not yet due is repaid at par. Interest
 * for the current period accrues linearly by calendar days: the period's scheduled interest ×
 * (days from the period start to asOfDate) / (days in the period), rounded half-up, so paying on
 * the period's first day costs no interest and paying on its due date costs the full instalment
 * interest. The prepayment fee is `prepaymentFeeBps` of the principal not yet due.
 */
export function earlyPayoffAmount(schedule: readonly Installment[], input: EarlyPayoffInput): EarlyPayoff {
  const first = schedule[0];
  if (!first) throw new DomainValueError('schedule is empty');
  parseDate(input.asOfDate, 'asOfDate');
  const feeBps = assertBps(input.prepaymentFeeBps ?? 0, 'prepaymentFeeBps');
  if (!Number.isSafeInteger(input.paidThroughSeq) || input.paidThroughSeq < 0 || input.paidThroughSeq > schedule.length) {
    throw new DomainValueError(`paidThroughSeq must be between 0 and ${schedule.length}, got ${input.paidThroughSeq}`);
  }
  if (compareDates(input.asOfDate, first.periodStartDate) < 0) {
    throw new DomainValueError('asOfDate is before the loan was disbursed');
  }

  let dueUnpaidPrincipal = 0;
  let dueUnpaidInterest = 0;
  let current: Installment | undefined;
  for (const inst of schedule) {
    if (inst.seq <= input.paidThroughSeq) continue;
    if (compareDates(inst.dueDate, input.asOfDate) <= 0) {
      dueUnpaidPrincipal += inst.principalFen;
      dueUnpaidInterest += inst.interestFen;
    } else {
      current = inst;
      break;
    }
  }

  let principalNotYetDue = 0;
  let accrued = 0;
  let accrualDays = 0;
  let periodDays = 0;
  if (current) {
    principalNotYetDue = current.openingBalanceFen;
    periodDays = daysBetween(current.periodStartDate, current.dueDate);
    accrualDays = Math.min(Math.max(daysBetween(current.periodStartDate, input.asOfDate), 0), periodDays);
    accrued = toFen(roundHalfUp(BigInt(current.interestFen) * BigInt(accrualDays), BigInt(periodDays)));
  }
  const fee = applyBps(principalNotYetDue, feeBps);
  const dueUnpaid = dueUnpaidPrincipal + dueUnpaidInterest;
  return {
    asOfDate: input.asOfDate,
    dueUnpaidFen: dueUnpaid,
    dueUnpaidPrincipalFen: dueUnpaidPrincipal,
    dueUnpaidInterestFen: dueUnpaidInterest,
    principalNotYetDueFen: principalNotYetDue,
    accruedInterestFen: accrued,
    prepaymentFeeFen: fee,
    totalFen: assertNonNegativeFen(dueUnpaid + principalNotYetDue + accrued + fee, 'totalFen'),
    currentSeq: current ? current.seq : null,
    accrualDays,
    periodDays,
  };
}
