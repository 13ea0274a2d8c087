// The servicing ledger's vocabulary: a loan's contract, its transactions and what the ledger
// answers about them on an as-of date. Plain data only, so workflows, activities and the API can
// pass it around.

import type { Fen } from '../money';
import type { IsoDate } from '../dates';
import type { InstallmentStatus } from '../servicing';
import type { RepaymentMethod } from '../schedule';
import type { AllocationComponent, ServicingTerms } from '../policy';

export const PREPAYMENT_MODES = ['reduce_installment', 'reduce_term'] as const;
/** `reduce_installment`: the same number of instalments, smaller; `reduce_term`: about the same instalment, fewer of them. */
export type PrepaymentMode = (typeof PREPAYMENT_MODES)[number];

export const WAIVER_COMPONENTS = ['penalty', 'interest', 'fee'] as const;
export type WaiverComponent = (typeof WAIVER_COMPONENTS)[number];

export const TRANSACTION_KINDS = ['repayment', 'prepayment', 'reversal', 'waiver', 'refund'] as const;
export type TransactionKind = (typeof TRANSACTION_KINDS)[number];

/** What the loan was signed for: the schedule's inputs and the servicing terms. */
export interface LoanContract {
  principalFen: Fen;
  annualRateBps: number;
  termMonths: number;
  method: RepaymentMethod;
  /** Asia/Shanghai date the money was paid out. */
  disbursementDate: IsoDate;
  firstDueDate?: IsoDate | undefined;
  terms: ServicingTerms;
}

interface TransactionBase {
  /** Unique within the loan, stable (a bank reference for money, a request id for the rest). */
  id: string;
  /** The day the transaction takes effect (Asia/Shanghai); the ledger applies it on that day whenever it was booked. */
  valueDate: IsoDate;
}

/** Money received: paid to what is due in the allocation order; beyond that held as credit. */
export interface RepaymentTransaction extends TransactionBase {
  kind: 'repayment';
  amountFen: Fen;
}

/** Money received to repay principal ahead of schedule, which is then re-amortised. */
export interface PrepaymentTransaction extends TransactionBase {
  kind: 'prepayment';
  amountFen: Fen;
  mode: PrepaymentMode;
}

/** A repayment or prepayment booked in error: the ledger is as if it had never been received. */
export interface ReversalTransaction extends TransactionBase {
  kind: 'reversal';
  targetId: string;
}

/** Forgives part of a component: penalty or interest owed, or early-repayment fees to come. */
export interface WaiverTransaction extends TransactionBase {
  kind: 'waiver';
  component: WaiverComponent;
  amountFen: Fen;
}

/** Unapplied credit paid back to the customer. */
export interface RefundTransaction extends TransactionBase {
  kind: 'refund';
  amountFen: Fen;
}

export type LedgerTransaction = RepaymentTransaction | PrepaymentTransaction | ReversalTransaction | WaiverTransaction | RefundTransaction;

/** What money pays: the allocation components, or the early-repayment fee. */
export type ChargeComponent = AllocationComponent | 'fee';

/** One piece of money applied: from which transaction, on which day, to what. */
export interface Allocation {
  txnId: string;
  date: IsoDate;
  /** The instalment; null for what a prepayment pays outside the instalments (principal ahead of schedule, its accrued interest, the fee). */
  seq: number | null;
  component: ChargeComponent;
  amountFen: Fen;
}

/** Days of one instalment's penalty at one base and rate. */
export interface PenaltyRange {
  from: IsoDate;
  to: IsoDate;
  days: number;
  /** The overdue amount the penalty accrued on during the range. */
  baseFen: Fen;
  /** Contract rate × the penalty multiple. */
  annualRateBps: number;
  penaltyFen: Fen;
  /** Less than the rate gives: the annualised cost cap held it back. */
  capped: boolean;
  /** Paid within the grace days: accrued but never owed. */
  forgiven: boolean;
}

export interface ComponentAmounts {
  principalFen: Fen;
  interestFen: Fen;
  penaltyFen: Fen;
}

export interface LineView {
  seq: number;
  /** The schedule version this instalment's amounts come from. */
  version: number;
  periodStartDate: IsoDate;
  dueDate: IsoDate;
  /** Principal + interest of the instalment as scheduled. */
  totalFen: Fen;
  openingBalanceFen: Fen;
  status: InstallmentStatus;
  /** What is owed for it: the scheduled principal and interest, and the penalty charged so far. */
  due: ComponentAmounts;
  paid: ComponentAmounts;
  waived: ComponentAmounts;
  outstanding: ComponentAmounts;
  /** Credit held that will pay this instalment when it falls due (paid ahead). */
  creditEarmarkedFen: Fen;
  penaltyRanges: PenaltyRange[];
  daysPastDue: number;
  /** The day it was paid in full (null while anything is owed). */
  settledOn: IsoDate | null;
}

export interface ScheduleVersionLine {
  seq: number;
  periodStartDate: IsoDate;
  dueDate: IsoDate;
  principalFen: Fen;
  interestFen: Fen;
  totalFen: Fen;
  openingBalanceFen: Fen;
  closingBalanceFen: Fen;
}

/** A schedule line's own fields, picked from a row that carries more (a stored instalment, an engine line). */
export function scheduleLineOf(r: ScheduleVersionLine): ScheduleVersionLine {
  return {
    seq: r.seq,
    periodStartDate: r.periodStartDate,
    dueDate: r.dueDate,
    principalFen: r.principalFen,
    interestFen: r.interestFen,
    totalFen: r.totalFen,
    openingBalanceFen: r.openingBalanceFen,
    closingBalanceFen: r.closingBalanceFen,
  };
}

export interface ScheduleVersion {
  version: number;
  /** `origination`, or the prepayment (or payoff) that re-amortised the principal. */
  reason: 'origination' | 'prepayment' | 'payoff';
  createdBy: string | null;
  effectiveDate: IsoDate;
  /** The first instalment the version changed. */
  fromSeq: number;
  mode: PrepaymentMode | null;
  /** Principal re-amortised from fromSeq (the loan's principal for version 1). */
  principalFen: Fen;
  lines: ScheduleVersionLine[];
}

export interface TransactionEffect {
  id: string;
  kind: TransactionKind;
  valueDate: IsoDate;
  amountFen: Fen;
  /** `after_as_of`: dated after the as-of date; `reversed`: a reversal took it out; `ignored`: nothing to act on (a reversal of an unknown id). */
  status: 'applied' | 'reversed' | 'after_as_of' | 'ignored';
  /** Money of this transaction applied to what was owed (allocations). */
  allocatedFen: Fen;
  /** Money of this transaction still held as credit. */
  creditFen: Fen;
  /** Money of this transaction paid back by refunds. */
  refundedFen: Fen;
  /** Waivers: what the waiver took off (fee waivers: the fee allowance granted). */
  waivedFen: Fen;
  /** Refunds: what was not covered by credit (only after a reversal took the credit away). */
  uncoveredFen: Fen;
  /** Prepayments and payoffs: principal repaid ahead of schedule, its accrued interest, the fee. */
  prepaidPrincipalFen: Fen;
  prepaymentInterestFen: Fen;
  feeFen: Fen;
  /** The schedule version it created. */
  createdVersion: number | null;
}

export interface LedgerDelinquency {
  /** The oldest instalment past its due date with something unpaid. */
  seq: number;
  dueDate: IsoDate;
  daysPastDue: number;
}

export interface LedgerTotals {
  /** Principal not yet repaid, due or not. */
  principalOutstandingFen: Fen;
  /** Principal of instalments not yet due. */
  principalNotYetDueFen: Fen;
  /** Outstanding on instalments already due, by component. */
  due: ComponentAmounts;
  /** Outstanding on instalments past their due date (principal, interest and penalty). */
  overdueFen: Fen;
  /** Everything owed if the schedule runs on: what is due plus the principal not yet due. */
  balanceFen: Fen;
  /** Money held for the customer, not applied (to the next instalments as they fall due, or to refund). */
  creditFen: Fen;
  /** Fee waivers not yet used by an early repayment. */
  feeAllowanceFen: Fen;
  paidFen: ComponentAmounts & { feeFen: Fen };
  waivedFen: ComponentAmounts;
  refundedFen: Fen;
  /** Money received and not reversed (repayments and prepayments). */
  receivedFen: Fen;
}

export interface LedgerPosition {
  asOfDate: IsoDate;
  lines: LineView[];
  versions: ScheduleVersion[];
  allocations: Allocation[];
  transactions: TransactionEffect[];
  totals: LedgerTotals;
  delinquency: LedgerDelinquency | null;
  /** The next instalment with something to pay, and what. */
  nextDue: { seq: number; dueDate: IsoDate; amountFen: Fen } | null;
  /** Every instalment paid: the day, and how. */
  settled: { on: IsoDate; how: 'repaid' | 'early_payoff' } | null;
}

export interface PayoffQuote {
  asOfDate: IsoDate;
  /** The quote holds for a payment on or before this day. */
  validUntil: IsoDate;
  /** Principal outstanding, due or not. */
  principalFen: Fen;
  /** Interest of instalments already due and unpaid. */
  interestDueFen: Fen;
  /** The current period's interest on the principal not yet due, to the date. */
  accruedInterestFen: Fen;
  penaltyFen: Fen;
  /** The early-repayment fee on the principal not yet due, after fee waivers and the cost cap. */
  feeFen: Fen;
  feeBps: number;
  creditFen: Fen;
  /** What a payment on the date must be to close the loan (net of credit). */
  totalFen: Fen;
}
