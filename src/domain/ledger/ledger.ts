// The ledger's answers: the position of a loan on an as-of date (per instalment and component,
// penalties by day range, credit, what each transaction did), a payoff quote, and LedgerBook, which
// keeps a replayed state and applies later transactions to it incrementally (and replays again
// from scratch for a backdated one or a reversal).

import { type Fen, roundHalfUp, toFen } from '../money';
import { type IsoDate, addDays } from '../dates';
import type { InstallmentStatus } from '../servicing';
import { DEFAULT_POLICY } from '../policy';
import { type LedgerEngine, type LineState, effectiveDay, replay, reversedIds, toDate, toDay } from './engine';
import type {
  ComponentAmounts,
  LedgerPosition,
  LedgerTransaction,
  LineView,
  LoanContract,
  PayoffQuote,
  PenaltyRange,
  TransactionEffect,
} from './types';

export interface LedgerOptions {
  /** Instalments falling due within this many days are `due` (default: the reminder window, 3). */
  reminderWindowDays?: number;
  /** Accrue penalties one day at a time instead of in bulk (the property tests compare both). */
  dayByDay?: boolean;
}

const DEFAULT_WINDOW = Math.max(0, ...DEFAULT_POLICY.reminders.daysBeforeDue);

/** The loan on `asOfDate`: every transaction dated up to it applied on its value date. */
export function computeLedger(contract: LoanContract, transactions: readonly LedgerTransaction[], asOfDate: IsoDate, options: LedgerOptions = {}): LedgerPosition {
  const asOf = Math.max(toDay(asOfDate), toDay(contract.disbursementDate));
  return positionOf(replay(contract, transactions, asOf, options.dayByDay), transactions, options);
}

/** What closes the loan on `asOfDate` (today or a day ahead, assuming nothing else happens before it). */
export function payoffQuote(contract: LoanContract, transactions: readonly LedgerTransaction[], asOfDate: IsoDate): PayoffQuote {
  const engine = replay(contract, transactions, Math.max(toDay(asOfDate), toDay(contract.disbursementDate)));
  return quoteOf(engine);
}

export function quoteOf(engine: LedgerEngine): PayoffQuote {
  let principal = 0;
  let interestDue = 0;
  let penalty = 0;
  for (const line of engine.lines) {
    if (line.due > engine.day) break;
    principal += engine.outstanding(line, 'principal');
    interestDue += engine.outstanding(line, 'interest');
    penalty += engine.outstanding(line, 'penalty');
  }
  const ahead = engine.principalNotYetDue();
  const cost = engine.prepaymentCost(ahead);
  const date = toDate(engine.day);
  return {
    asOfDate: date,
    validUntil: date,
    principalFen: principal + ahead,
    interestDueFen: interestDue,
    accruedInterestFen: cost.accrued,
    penaltyFen: penalty,
    feeFen: cost.fee,
    feeBps: ahead > 0 ? engine.feeBpsOn(engine.day) : 0,
    creditFen: engine.creditFen(),
    totalFen: engine.payoffAmount(),
  };
}

function rangesOf(engine: LedgerEngine, line: LineState): PenaltyRange[] {
  const t = engine.contract.terms.penalty;
  const rate = (engine.contract.annualRateBps * t.rateMultiplePermille) / 1000;
  const round = (x: bigint) => toFen(roundHalfUp(x, engine.den));
  const owed = engine.penaltyCharged(line) > 0;
  return line.ranges.map((r) => ({
    from: toDate(r.from),
    to: toDate(r.to),
    days: r.to - r.from + 1,
    baseFen: r.base,
    annualRateBps: rate,
    penaltyFen: round(r.cumEnd) - round(r.cumStart),
    capped: r.capped,
    forgiven: line.forgiven || !owed,
  }));
}

function statusOf(engine: LedgerEngine, line: LineState, earmarked: Fen, window: number): InstallmentStatus {
  const d = engine.day;
  if (line.due <= d) {
    if (line.settledOn !== null) return 'paid';
    return line.due < d ? 'overdue' : 'due';
  }
  if (earmarked >= line.principal + line.interest) return 'paid';
  return line.due - d <= window ? 'due' : 'scheduled';
}

export function positionOf(engine: LedgerEngine, transactions: readonly LedgerTransaction[], options: LedgerOptions = {}): LedgerPosition {
  const window = options.reminderWindowDays ?? DEFAULT_WINDOW;
  const d = engine.day;
  let credit = engine.creditFen();
  let earmarkLeft = credit;
  const dueTotals: ComponentAmounts = { principalFen: 0, interestFen: 0, penaltyFen: 0 };
  const paidTotals = { principalFen: 0, interestFen: 0, penaltyFen: 0, feeFen: 0 };
  const waivedTotals: ComponentAmounts = { principalFen: 0, interestFen: 0, penaltyFen: 0 };
  let overdue = 0;
  let notYetDue = 0;
  let delinquency: LedgerPosition['delinquency'] = null;
  let nextDue: LedgerPosition['nextDue'] = null;

  const lines: LineView[] = engine.lines.map((line) => {
    const charged = engine.penaltyCharged(line);
    const outstanding: ComponentAmounts = {
      principalFen: engine.outstanding(line, 'principal'),
      interestFen: engine.outstanding(line, 'interest'),
      penaltyFen: engine.outstanding(line, 'penalty'),
    };
    const owed = outstanding.principalFen + outstanding.interestFen + outstanding.penaltyFen;
    let earmarked = 0;
    if (line.due > d) {
      earmarked = Math.min(earmarkLeft, owed);
      earmarkLeft -= earmarked;
      notYetDue += outstanding.principalFen;
    } else {
      dueTotals.principalFen += outstanding.principalFen;
      dueTotals.interestFen += outstanding.interestFen;
      dueTotals.penaltyFen += outstanding.penaltyFen;
      if (line.due < d) overdue += owed;
      if (line.due < d && owed > 0 && delinquency === null) delinquency = { seq: line.seq, dueDate: toDate(line.due), daysPastDue: d - line.due };
    }
    if (nextDue === null && owed - earmarked > 0) nextDue = { seq: line.seq, dueDate: toDate(line.due), amountFen: owed - earmarked };
    paidTotals.principalFen += line.principalPaid;
    paidTotals.interestFen += line.interestPaid;
    paidTotals.penaltyFen += line.penaltyPaid;
    waivedTotals.interestFen += line.interestWaived;
    waivedTotals.penaltyFen += line.penaltyWaived;
    return {
      seq: line.seq,
      version: line.version,
      periodStartDate: toDate(line.start),
      dueDate: toDate(line.due),
      totalFen: line.principal + line.interest,
      openingBalanceFen: line.opening,
      status: statusOf(engine, line, earmarked, window),
      due: { principalFen: line.principal, interestFen: line.interest, penaltyFen: charged },
      paid: { principalFen: line.principalPaid, interestFen: line.interestPaid, penaltyFen: line.penaltyPaid },
      waived: { principalFen: 0, interestFen: line.interestWaived, penaltyFen: line.penaltyWaived },
      outstanding,
      creditEarmarkedFen: earmarked,
      penaltyRanges: rangesOf(engine, line),
      daysPastDue: line.due < d && owed > 0 ? d - line.due : 0,
      settledOn: line.settledOn === null ? null : toDate(line.settledOn),
    };
  });

  // Prepayments pay outside the instalments: principal ahead of schedule, its interest, the fee.
  for (const a of engine.allocations) {
    if (a.seq !== null) continue;
    if (a.component === 'principal') paidTotals.principalFen += a.amountFen;
    else if (a.component === 'interest') paidTotals.interestFen += a.amountFen;
    else if (a.component === 'fee') paidTotals.feeFen += a.amountFen;
  }

  const reversed = reversedIds(transactions);
  const lotsById = new Map(engine.lots.map((l) => [l.txnId, l.remaining]));
  let received = 0;
  let refunded = 0;
  const effects: TransactionEffect[] = transactions.map((t) => {
    const e = engine.effects[t.id];
    const amount = t.kind === 'reversal' ? 0 : t.amountFen;
    const status: TransactionEffect['status'] = reversed.has(t.id)
      ? 'reversed'
      : effectiveDay(engine.contract, t) > d
        ? 'after_as_of'
        : t.kind === 'reversal' && !reversed.has(t.targetId)
          ? 'ignored'
          : 'applied';
    const money = (t.kind === 'repayment' || t.kind === 'prepayment') && status === 'applied';
    if (money) received += t.amountFen;
    if (t.kind === 'refund' && status === 'applied') refunded += t.amountFen - (e?.uncovered ?? 0);
    const lotLeft = money ? (lotsById.get(t.id) ?? 0) : 0;
    return {
      id: t.id,
      kind: t.kind,
      valueDate: t.valueDate,
      amountFen: amount,
      status,
      allocatedFen: e?.allocated ?? 0,
      creditFen: lotLeft,
      refundedFen: e?.refunded ?? 0,
      waivedFen: e?.waived ?? 0,
      uncoveredFen: e?.uncovered ?? 0,
      prepaidPrincipalFen: e?.prepaidPrincipal ?? 0,
      prepaymentInterestFen: e?.prepaymentInterest ?? 0,
      feeFen: e?.fee ?? 0,
      createdVersion: e?.createdVersion ?? null,
    };
  });

  credit = engine.creditFen();
  return {
    asOfDate: toDate(d),
    lines,
    versions: engine.versions,
    allocations: engine.allocations,
    transactions: effects,
    totals: {
      principalOutstandingFen: engine.principalOutstanding,
      principalNotYetDueFen: notYetDue,
      due: dueTotals,
      overdueFen: overdue,
      balanceFen: dueTotals.principalFen + dueTotals.interestFen + dueTotals.penaltyFen + notYetDue,
      creditFen: credit,
      feeAllowanceFen: engine.feeAllowance,
      paidFen: paidTotals,
      waivedFen: waivedTotals,
      refundedFen: refunded,
      receivedFen: received,
    },
    delinquency,
    nextDue,
    settled: engine.settledOn === null ? null : { on: toDate(engine.settledOn), how: engine.closedHow ?? 'repaid' },
  };
}

/**
 * A loan's ledger kept up to date transaction by transaction. A transaction dated on or after the
 * day the state has reached is applied to it; a backdated one, or a reversal, replays the loan from
 * scratch. Either way the answer equals computeLedger over the same transactions (property-tested).
 */
export class LedgerBook {
  private readonly txns: LedgerTransaction[] = [];
  private engine: LedgerEngine;

  constructor(
    readonly contract: LoanContract,
    transactions: readonly LedgerTransaction[] = [],
    private readonly options: LedgerOptions = {},
  ) {
    this.txns.push(...transactions);
    const last = this.txns.reduce((m, t) => Math.max(m, effectiveDay(contract, t)), toDay(contract.disbursementDate));
    this.engine = replay(contract, this.txns, last);
  }

  get transactions(): readonly LedgerTransaction[] {
    return this.txns;
  }

  /** The day the kept state has reached. */
  get day(): IsoDate {
    return toDate(this.engine.day);
  }

  record(txn: LedgerTransaction): void {
    this.txns.push(txn);
    const d = effectiveDay(this.contract, txn);
    if (txn.kind === 'reversal' || d < this.engine.day) {
      this.engine = replay(this.contract, this.txns, Math.max(d, this.engine.day));
      return;
    }
    this.engine.advanceTo(d);
    this.engine.apply(txn);
  }

  positionAt(asOfDate: IsoDate): LedgerPosition {
    const d = Math.max(toDay(asOfDate), toDay(this.contract.disbursementDate));
    if (d < this.engine.day) return computeLedger(this.contract, this.txns, asOfDate, this.options);
    this.engine.advanceTo(d);
    return positionOf(this.engine, this.txns, this.options);
  }

  payoffQuoteAt(asOfDate: IsoDate): PayoffQuote {
    const d = toDay(asOfDate);
    if (d < this.engine.day) return payoffQuote(this.contract, this.txns, asOfDate);
    const copy = this.engine.clone();
    copy.advanceTo(d);
    return quoteOf(copy);
  }
}

/** No fen created or lost: money received = what it paid + credit held + refunds paid from it. */
export function conservationGap(position: LedgerPosition): Fen {
  const allocated = position.allocations.reduce((s, a) => s + a.amountFen, 0);
  const covered = position.transactions.filter((t) => t.kind === 'refund' && t.status === 'applied').reduce((s, t) => s + t.amountFen - t.uncoveredFen, 0);
  return position.totals.receivedFen - allocated - position.totals.creditFen - covered;
}

/** The first day after the position's date on which an instalment enters its reminder window, falls due (paid ahead: is paid from credit), falls overdue or moves bucket. */
export function nextLedgerChange(position: LedgerPosition, bucketStarts: readonly number[], window = DEFAULT_WINDOW): IsoDate | null {
  const today = position.asOfDate;
  let best: IsoDate | null = null;
  const consider = (date: IsoDate) => {
    if (date > today && (best === null || date < best)) best = date;
  };
  let oldest = true;
  for (const line of position.lines) {
    if (line.settledOn !== null) continue;
    // Paid ahead: the credit held pays it on its due date (the projection changes that day).
    if (line.status === 'paid') {
      consider(line.dueDate);
      continue;
    }
    consider(addDays(line.dueDate, -window));
    consider(line.dueDate);
    consider(addDays(line.dueDate, 1));
    if (oldest) {
      oldest = false;
      for (const start of bucketStarts) consider(addDays(line.dueDate, start));
    }
    if (addDays(line.dueDate, -window) > today) break;
  }
  return best;
}
