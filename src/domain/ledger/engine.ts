// The servicing ledger: the loan's state, replayed day by day from its contract and its
// transactions, each applied on its value date. Nothing is ever patched: a backdated repayment or
// a reversal replays the loan again (LedgerBook does it), so every balance is a pure function of
// the contract, the transactions and the as-of date.
//
// A day d, in this order:
//   1. the cost cap's allowance grows by the principal outstanding that day × cap / basis;
//   2. instalments already past due accrue a day's penalty on their overdue base (capped by the
//      allowance not yet used by interest, penalties and fees charged so far);
//   3. instalments due on d fall due (their interest counts as charged);
//   4. credit held pays what is due, in the allocation order;
//   5. the transactions dated d, in the order they were booked.
// A payment on the due date is on time; paid k days late it has borne k days of penalty. Penalty
// that accrued while an instalment was within its grace days is forgiven if the overdue base is
// paid off within them, and owed (from the due date) otherwise.
//
// Amounts are integer fen; penalties and the cap accrue exactly (BigInt over a common
// denominator) and are rounded half-up only where they become money owed, so the sum of the
// rounded day ranges is the rounded total and no fen appears from repeated rounding.

import { type Fen, applyBps, DomainValueError, floorDiv, roundHalfUp, toFen } from '../money';
import { type IsoDate, addMonths, civilFromDays, dayNumber, formatDate } from '../dates';
import { amortizationRows, buildSchedule, levelPaymentFen } from '../schedule';
import type { AllocationComponent } from '../policy';
import type {
  Allocation,
  ChargeComponent,
  LedgerTransaction,
  LoanContract,
  PrepaymentMode,
  ScheduleVersion,
} from './types';
import { scheduleLineOf } from './types';

const MONTHLY_RATE_DENOMINATOR = 120_000n; // 12 months × 10,000 bps

export interface RangeState {
  from: number;
  to: number;
  base: Fen;
  capped: boolean;
  cumStart: bigint;
  cumEnd: bigint;
}

export interface LineState {
  seq: number;
  version: number;
  start: number;
  due: number;
  principal: Fen;
  interest: Fen;
  opening: Fen;
  closing: Fen;
  principalPaid: Fen;
  interestPaid: Fen;
  interestWaived: Fen;
  penaltyPaid: Fen;
  penaltyWaived: Fen;
  /** Penalty accrued, exact, in units of 1/den fen. */
  penaltyExact: bigint;
  /** The overdue base was paid off within the grace days: the accrued penalty is not owed. */
  forgiven: boolean;
  ranges: RangeState[];
  settledOn: number | null;
}

export interface Lot {
  txnId: string;
  remaining: Fen;
}

export interface Effect {
  allocated: Fen;
  refunded: Fen;
  waived: Fen;
  uncovered: Fen;
  prepaidPrincipal: Fen;
  prepaymentInterest: Fen;
  fee: Fen;
  createdVersion: number | null;
}

/** Day numbers ↔ ISO dates (day numbers keep the daily loop cheap). */
export const toDay = (date: IsoDate): number => dayNumber(date);
let lastDay = Number.NaN;
let lastDate = '';
/** The ISO date of a day number (the last one is kept: allocations of one day ask for it again and again). */
export const toDate = (day: number): IsoDate => {
  if (day !== lastDay) {
    lastDate = formatDate(civilFromDays(day));
    lastDay = day;
  }
  return lastDate;
};

export class LedgerEngine {
  /** The last day fully processed. */
  day: number;
  lines: LineState[];
  versions: ScheduleVersion[] = [];
  lots: Lot[] = [];
  allocations: Allocation[] = [];
  effects: Record<string, Effect> = {};
  feeAllowance: Fen = 0;
  principalOutstanding: Fen;
  /** Cost cap: allowance earned so far and cost charged so far, exact, in 1/den fen. */
  allowance = 0n;
  cost = 0n;
  settledOn: number | null = null;
  closedHow: 'repaid' | 'early_payoff' | null = null;

  readonly den: bigint;
  private readonly penaltyPerFenDay: bigint;
  private readonly allowancePerFenDay: bigint;
  private readonly feeBands: { until: number | null; bps: number }[];
  private readonly order: readonly AllocationComponent[];

  /** `dayByDay`: no bulk accrual (tests compare the two). */
  constructor(
    readonly contract: LoanContract,
    private readonly dayByDay = false,
  ) {
    const t = contract.terms;
    this.den = 10_000n * 1_000n * BigInt(t.penalty.dayCountBasis);
    this.penaltyPerFenDay = BigInt(contract.annualRateBps) * BigInt(t.penalty.rateMultiplePermille);
    this.allowancePerFenDay = t.costCapBps === null ? 0n : BigInt(t.costCapBps) * 1_000n;
    this.feeBands = t.earlyRepaymentFee.map((b) => ({
      until: b.beforeMonth === null ? null : toDay(addMonths(contract.disbursementDate, b.beforeMonth)),
      bps: b.bps,
    }));
    this.order = t.allocation.order;
    const schedule = buildSchedule({
      principalFen: contract.principalFen,
      annualRateBps: contract.annualRateBps,
      termMonths: contract.termMonths,
      method: contract.method,
      disbursementDate: contract.disbursementDate,
      ...(contract.firstDueDate ? { firstDueDate: contract.firstDueDate } : {}),
    });
    this.day = toDay(contract.disbursementDate);
    this.lines = schedule.map((row) =>
      newLine(row.seq, 1, toDay(row.periodStartDate), toDay(row.dueDate), row.principalFen, row.interestFen, row.openingBalanceFen, row.closingBalanceFen),
    );
    this.principalOutstanding = contract.principalFen;
    this.versions.push({
      version: 1,
      reason: 'origination',
      createdBy: null,
      effectiveDate: contract.disbursementDate,
      fromSeq: 1,
      mode: null,
      principalFen: contract.principalFen,
      lines: schedule.map(scheduleLineOf),
    });
  }

  /** A deep copy: advancing or applying on it leaves this one as it was. */
  clone(): LedgerEngine {
    const copy = Object.create(LedgerEngine.prototype) as LedgerEngine;
    Object.assign(copy, this);
    // Versions and allocations are only ever appended to, never changed: copying the arrays is enough.
    copy.lines = this.lines.map((l) => ({ ...l, ranges: l.ranges.map((r) => ({ ...r })) }));
    copy.versions = [...this.versions];
    copy.lots = this.lots.map((l) => ({ ...l }));
    copy.allocations = [...this.allocations];
    copy.effects = Object.fromEntries(Object.entries(this.effects).map(([k, e]) => [k, { ...e }]));
    return copy;
  }

  // ---- reading the state ------------------------------------------------------------------------

  get graceDays(): number {
    return this.contract.terms.penalty.graceDays;
  }

  creditFen(): Fen {
    let c = 0;
    for (const lot of this.lots) c += lot.remaining;
    return c;
  }

  /** Penalty owed for a line on `day` (0 while it is within its grace days, or forgiven). */
  penaltyCharged(line: LineState, day = this.day): Fen {
    if (line.forgiven || line.penaltyExact === 0n || day - line.due <= this.graceDays) return 0;
    return toFen(roundHalfUp(line.penaltyExact, this.den));
  }

  outstanding(line: LineState, component: AllocationComponent, day = this.day): Fen {
    if (component === 'principal') return line.principal - line.principalPaid;
    if (component === 'interest') return line.interest - line.interestPaid - line.interestWaived;
    return this.penaltyCharged(line, day) - line.penaltyPaid - line.penaltyWaived;
  }

  private penaltyBase(line: LineState): Fen {
    const principal = line.principal - line.principalPaid;
    if (this.contract.terms.penalty.base === 'principal') return principal;
    return principal + line.interest - line.interestPaid - line.interestWaived;
  }

  private isSettled(line: LineState, day: number): boolean {
    return line.due <= day && this.outstanding(line, 'principal', day) === 0 && this.outstanding(line, 'interest', day) === 0 && this.outstanding(line, 'penalty', day) === 0;
  }

  /** Index of the first instalment not yet due on `day` (lines.length when all are due). */
  firstNotYetDue(day = this.day): number {
    let i = this.lines.length;
    while (i > 0 && (this.lines[i - 1] as LineState).due > day) i--;
    return i;
  }

  feeBpsOn(day: number): number {
    for (const band of this.feeBands) if (band.until === null || day < band.until) return band.bps;
    return 0;
  }

  // ---- moving through time ----------------------------------------------------------------------

  /** Processes every day after `this.day` up to and including `target`. */
  advanceTo(target: number): void {
    while (this.day < target) {
      if (this.anythingAccruing()) {
        // Days before the next due date change nothing but the accruals: in bulk while the cap
        // cannot bind, one by one once it might.
        let end = target;
        for (const line of this.lines) {
          if (line.due > this.day) {
            end = Math.min(end, line.due - 1);
            break;
          }
        }
        if (!this.dayByDay && end > this.day && this.accrueInBulk(end - this.day) > 0) continue;
        this.processDay(this.day + 1);
        continue;
      }
      // Nothing overdue: the days before the next due date only earn cap allowance.
      let next = target;
      for (const line of this.lines) {
        if (line.due > this.day) {
          next = Math.min(next, line.due);
          break;
        }
      }
      const quiet = next - this.day - 1;
      if (quiet > 0) {
        this.allowance += BigInt(this.principalOutstanding) * this.allowancePerFenDay * BigInt(quiet);
        this.day += quiet;
      }
      this.processDay(next);
    }
  }

  private anythingAccruing(): boolean {
    if (this.penaltyPerFenDay === 0n) return false;
    for (const line of this.lines) {
      if (line.due > this.day) break;
      if (this.penaltyBase(line) > 0) return true;
    }
    return false;
  }

  private processDay(d: number): void {
    this.allowance += BigInt(this.principalOutstanding) * this.allowancePerFenDay;
    if (this.penaltyPerFenDay > 0n) {
      for (const line of this.lines) {
        if (line.due >= d) break;
        const base = this.penaltyBase(line);
        if (base > 0) this.accrue(line, base, d);
      }
    }
    for (const line of this.lines) {
      if (line.due === d) this.cost += BigInt(line.interest) * this.den;
      if (line.due > d) break;
    }
    this.day = d;
    this.settle();
  }

  /**
   * Up to `days` days with no due date among them at once, as long as every one of them accrues
   * the same amounts. With H the headroom now (allowance − cost), a the allowance of a day and S
   * the penalty of a day, the headroom before day j is H + j·a − (what accrued on days 1..j−1):
   *   - H ≥ 0 and S ≤ a, or no cap: every day accrues S;
   *   - H ≥ 0 and S > a: S while H ≥ j·(S − a); once a day has used all the headroom (H = 0),
   *     every day accrues exactly a, shared oldest instalment first;
   *   - H < 0 (the cap is below the interest already charged): nothing while H + j·a ≤ 0.
   * A day in between (the one that uses up the headroom) goes day by day. Answers the days done.
   */
  private accrueInBulk(days: number): number {
    const accruing: { line: LineState; base: Fen; perDay: bigint }[] = [];
    let perDay = 0n;
    for (const line of this.lines) {
      if (line.due > this.day) break;
      const base = this.penaltyBase(line);
      if (base > 0) {
        const n = BigInt(base) * this.penaltyPerFenDay;
        accruing.push({ line, base, perDay: n });
        perDay += n;
      }
    }
    const allowancePerDay = BigInt(this.principalOutstanding) * this.allowancePerFenDay;
    let safe = BigInt(days);
    let daily = perDay;
    if (this.contract.terms.costCapBps !== null) {
      const headroom = this.allowance - this.cost;
      if (headroom >= 0n) {
        if (perDay > allowancePerDay) {
          if (headroom === 0n) daily = allowancePerDay;
          else {
            const most = headroom / (perDay - allowancePerDay);
            if (most < safe) safe = most;
          }
        }
      } else {
        daily = 0n;
        if (allowancePerDay > 0n) {
          const most = -headroom / allowancePerDay;
          if (most < safe) safe = most;
        }
      }
    }
    if (safe === 0n) return 0;
    const from = this.day + 1;
    const to = this.day + Number(safe);
    this.allowance += allowancePerDay * safe;
    this.cost += daily * safe;
    let left = daily;
    for (const { line, base, perDay: n } of accruing) {
      const give = n < left ? n : left;
      left -= give;
      const capped = give < n;
      const before = line.penaltyExact;
      line.penaltyExact += give * safe;
      const last = line.ranges[line.ranges.length - 1];
      if (last && last.to === from - 1 && last.base === base && last.capped === capped) {
        last.to = to;
        last.cumEnd = line.penaltyExact;
      } else {
        line.ranges.push({ from, to, base, capped, cumStart: before, cumEnd: line.penaltyExact });
      }
    }
    this.day = to;
    return Number(safe);
  }

  private accrue(line: LineState, base: Fen, d: number): void {
    const nominal = BigInt(base) * this.penaltyPerFenDay;
    let amount = nominal;
    if (this.contract.terms.costCapBps !== null) {
      const headroom = this.allowance - this.cost;
      if (headroom < amount) amount = headroom > 0n ? headroom : 0n;
    }
    const capped = amount < nominal;
    const before = line.penaltyExact;
    line.penaltyExact += amount;
    this.cost += amount;
    const last = line.ranges[line.ranges.length - 1];
    if (last && last.to === d - 1 && last.base === base && last.capped === capped) {
      last.to = d;
      last.cumEnd = line.penaltyExact;
    } else {
      line.ranges.push({ from: d, to: d, base, capped, cumStart: before, cumEnd: line.penaltyExact });
    }
  }

  // ---- paying -----------------------------------------------------------------------------------

  /** Takes up to `amount` from the credit lots, oldest first, recording what it paid. */
  private take(amount: Fen, seq: number | null, component: ChargeComponent, lots: Lot[] = this.lots): Fen {
    let left = amount;
    for (const lot of lots) {
      if (left === 0) break;
      if (lot.remaining === 0) continue;
      const x = Math.min(left, lot.remaining);
      lot.remaining -= x;
      left -= x;
      this.allocations.push({ txnId: lot.txnId, date: toDate(this.day), seq, component, amountFen: x });
      this.effect(lot.txnId).allocated += x;
    }
    return amount - left;
  }

  private payLine(line: LineState, component: AllocationComponent): void {
    const owed = this.outstanding(line, component);
    if (owed <= 0) return;
    const paid = this.take(owed, line.seq, component);
    if (paid === 0) return;
    if (component === 'principal') {
      line.principalPaid += paid;
      this.principalOutstanding -= paid;
    } else if (component === 'interest') line.interestPaid += paid;
    else line.penaltyPaid += paid;
    this.afterPaid(line);
  }

  /** The overdue base paid off within the grace days: the penalty that accrued is forgiven. */
  private afterPaid(line: LineState): void {
    if (!line.forgiven && this.penaltyBase(line) === 0 && this.day - line.due <= this.graceDays) {
      line.forgiven = true;
      this.cost -= line.penaltyExact;
    }
    if (line.settledOn === null && this.isSettled(line, this.day)) line.settledOn = this.day;
  }

  /** Credit pays what is due, in the allocation order. */
  private settle(): void {
    if (this.creditFen() > 0) {
      const due = this.lines.filter((l) => l.due <= this.day && l.settledOn === null);
      if (this.contract.terms.allocation.across === 'instalment') {
        for (const line of due) for (const c of this.order) this.payLine(line, c);
      } else {
        for (const c of this.order) for (const line of due) this.payLine(line, c);
      }
    }
    this.checkSettled();
  }

  /** Marks instalments with nothing left to pay, and the loan once every one is. */
  private checkSettled(): void {
    if (this.settledOn !== null) return;
    for (const line of this.lines) {
      if (line.settledOn !== null) continue;
      if (!this.isSettled(line, this.day)) return;
      line.settledOn = this.day;
    }
    this.settledOn = this.day;
    this.closedHow = this.versions[this.versions.length - 1]?.reason === 'payoff' ? 'early_payoff' : 'repaid';
  }

  effect(txnId: string): Effect {
    let e = this.effects[txnId];
    if (!e) {
      e = { allocated: 0, refunded: 0, waived: 0, uncovered: 0, prepaidPrincipal: 0, prepaymentInterest: 0, fee: 0, createdVersion: null };
      this.effects[txnId] = e;
    }
    return e;
  }

  // ---- early repayment --------------------------------------------------------------------------

  /**
   * What repaying `principal` of the instalments not yet due costs on `this.day`: the principal,
   * the current period's interest on it to the day (the period's rate × days elapsed / days in the
   * period, so that the re-amortised instalment's interest on the rest is exactly the period's
   * interest on the balance left), and the fee of the band the day falls in, less fee waivers and
   * held to the cost cap.
   */
  prepaymentCost(principal: Fen): { accrued: Fen; fee: Fen; feeBeforeWaiver: Fen; total: Fen } {
    const k = this.firstNotYetDue();
    const line = this.lines[k];
    if (!line || principal === 0) return { accrued: 0, fee: 0, feeBeforeWaiver: 0, total: principal };
    const elapsed = BigInt(Math.max(0, this.day - line.start));
    const length = BigInt(Math.max(1, line.due - line.start));
    const accrued = toFen(roundHalfUp(BigInt(principal) * BigInt(this.contract.annualRateBps) * elapsed, MONTHLY_RATE_DENOMINATOR * length));
    const feeBeforeWaiver = applyBps(principal, this.feeBpsOn(this.day));
    let fee = Math.max(0, feeBeforeWaiver - this.feeAllowance);
    if (this.contract.terms.costCapBps !== null) {
      const headroom = floorDiv(this.allowance - this.cost - BigInt(accrued) * this.den, this.den);
      if (headroom < BigInt(fee)) fee = headroom > 0n ? Number(headroom) : 0;
    }
    return { accrued, fee, feeBeforeWaiver, total: principal + accrued + fee };
  }

  principalNotYetDue(): Fen {
    let b = 0;
    for (let i = this.firstNotYetDue(); i < this.lines.length; i++) b += (this.lines[i] as LineState).principal;
    return b;
  }

  /**
   * What a repayment today must be to close the loan, net of the credit held: found by paying
   * what is due from a boundless amount on a copy, exactly as the repayment would (paying within
   * the grace days forgives their penalty, which changes the cap's headroom for the fee).
   */
  payoffAmount(): Fen {
    const copy = this.clone();
    const probe: Lot = { txnId: '\u0000payoff-probe', remaining: Number.MAX_SAFE_INTEGER };
    copy.lots.push(probe);
    copy.settle();
    const fromProbe = Number.MAX_SAFE_INTEGER - probe.remaining;
    let held = 0;
    for (const lot of copy.lots) if (lot !== probe) held += lot.remaining;
    const ahead = copy.firstNotYetDue() < copy.lines.length ? copy.prepaymentCost(copy.principalNotYetDue()).total : 0;
    return fromProbe + Math.max(0, ahead - held);
  }

  /** The most principal that `available` fen repays ahead of schedule (cost is increasing in it). */
  private prepayable(available: Fen): Fen {
    const all = this.principalNotYetDue();
    if (this.prepaymentCost(all).total <= available) return all;
    let lo = 0;
    let hi = all;
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      if (this.prepaymentCost(mid).total <= available) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private prepay(txnId: string, principal: Fen, mode: PrepaymentMode | null, lots: Lot[]): void {
    const cost = this.prepaymentCost(principal);
    this.take(principal, null, 'principal', lots);
    this.take(cost.accrued, null, 'interest', lots);
    this.take(cost.fee, null, 'fee', lots);
    this.cost += BigInt(cost.accrued + cost.fee) * this.den;
    this.feeAllowance -= Math.min(this.feeAllowance, cost.feeBeforeWaiver);
    this.principalOutstanding -= principal;
    const e = this.effect(txnId);
    e.prepaidPrincipal += principal;
    e.prepaymentInterest += cost.accrued;
    e.fee += cost.fee;
    e.createdVersion = this.reamortise(txnId, this.principalNotYetDue() - principal, mode);
    this.checkSettled();
  }

  /**
   * Replaces the instalments not yet due by a schedule of `principal` by the loan's method from
   * the next due date: the same number of instalments (reduce_installment) or as few as keep the
   * instalment at most what it was (reduce_term). None when nothing is left (a payoff).
   */
  private reamortise(txnId: string, principal: Fen, mode: PrepaymentMode | null): number {
    const k = this.firstNotYetDue();
    const old = this.lines.slice(k);
    const first = old[0] as LineState;
    const rate = this.contract.annualRateBps;
    const method = this.contract.method;
    let count = old.length;
    if (principal > 0 && mode === 'reduce_term') {
      if (method === 'equal_installment') {
        const current = first.principal + first.interest;
        count = 1;
        while (count < old.length && levelPaymentFen(principal, rate, count) > current) count++;
      } else {
        count = Math.min(old.length, Math.max(1, Math.ceil(principal / Math.max(1, first.principal))));
      }
    }
    const version = this.versions.length + 1;
    const rows = principal > 0 ? amortizationRows({ principalFen: principal, annualRateBps: rate, termMonths: count, method }) : [];
    const replaced = rows.map((row, i) => {
      const dates = old[i] as LineState;
      const start = i === 0 ? first.start : (old[i - 1] as LineState).due;
      return newLine(dates.seq, version, start, dates.due, row.principalFen, row.interestFen, row.openingBalanceFen, row.closingBalanceFen);
    });
    this.lines = [...this.lines.slice(0, k), ...replaced];
    this.versions.push({
      version,
      reason: principal > 0 ? 'prepayment' : 'payoff',
      createdBy: txnId,
      effectiveDate: toDate(this.day),
      fromSeq: first.seq,
      mode: principal > 0 ? mode : null,
      principalFen: principal,
      lines: this.lines.map((l) => ({
        seq: l.seq,
        periodStartDate: toDate(l.start),
        dueDate: toDate(l.due),
        principalFen: l.principal,
        interestFen: l.interest,
        totalFen: l.principal + l.interest,
        openingBalanceFen: l.opening,
        closingBalanceFen: l.closing,
      })),
    });
    return version;
  }

  // ---- transactions -----------------------------------------------------------------------------

  /** Applies one transaction dated `this.day` (advance to its value date first). */
  apply(txn: LedgerTransaction): void {
    const e = this.effect(txn.id);
    switch (txn.kind) {
      case 'repayment': {
        // Money that, with the credit held, covers the payoff closes the loan early, fee included;
        // otherwise what is not due stays credit.
        this.lots.push({ txnId: txn.id, remaining: txn.amountFen });
        this.settle();
        if (this.firstNotYetDue() < this.lines.length) {
          const all = this.principalNotYetDue();
          if (this.creditFen() >= this.prepaymentCost(all).total) this.prepay(txn.id, all, null, this.lots);
        }
        break;
      }
      case 'prepayment': {
        const lot = { txnId: txn.id, remaining: txn.amountFen };
        this.lots.push(lot);
        this.settle();
        if (this.firstNotYetDue() < this.lines.length) {
          const principal = this.prepayable(lot.remaining);
          if (principal > 0) this.prepay(txn.id, principal, txn.mode, [lot]);
        }
        break;
      }
      case 'waiver':
        e.waived += this.waive(txn.component, txn.amountFen);
        this.checkSettled();
        break;
      case 'refund': {
        let left = txn.amountFen;
        for (const lot of this.lots) {
          const x = Math.min(left, lot.remaining);
          if (x === 0) continue;
          lot.remaining -= x;
          left -= x;
          this.effect(lot.txnId).refunded += x;
        }
        e.uncovered += left;
        break;
      }
      case 'reversal':
        // Reversals are applied by leaving their target out of the replay (see replay()).
        break;
      default:
        throw new DomainValueError(`unknown transaction kind ${String((txn as { kind: unknown }).kind)}`);
    }
  }

  private waive(component: 'penalty' | 'interest' | 'fee', amount: Fen): Fen {
    if (component === 'fee') {
      this.feeAllowance += amount;
      return amount;
    }
    let left = amount;
    for (const line of this.lines) {
      if (line.due > this.day || left === 0) break;
      const x = Math.min(left, this.outstanding(line, component));
      if (x <= 0) continue;
      if (component === 'penalty') line.penaltyWaived += x;
      else line.interestWaived += x;
      this.cost -= BigInt(x) * this.den;
      left -= x;
      this.afterPaid(line);
    }
    return amount - left;
  }
}

function newLine(seq: number, version: number, start: number, due: number, principal: Fen, interest: Fen, opening: Fen, closing: Fen): LineState {
  return {
    seq,
    version,
    start,
    due,
    principal,
    interest,
    opening,
    closing,
    principalPaid: 0,
    interestPaid: 0,
    interestWaived: 0,
    penaltyPaid: 0,
    penaltyWaived: 0,
    penaltyExact: 0n,
    forgiven: false,
    ranges: [],
    settledOn: null,
  };
}

/** The day a transaction is applied on: its value date, or the disbursement date if earlier. */
export function effectiveDay(contract: LoanContract, txn: LedgerTransaction): number {
  return Math.max(toDay(txn.valueDate), toDay(contract.disbursementDate));
}

/** Transactions in the order the ledger applies them: by value date, then as booked. */
export function appliedInOrder(contract: LoanContract, transactions: readonly LedgerTransaction[]): { txn: LedgerTransaction; day: number }[] {
  const reversed = reversedIds(transactions);
  return transactions
    .map((txn, i) => ({ txn, i, day: effectiveDay(contract, txn) }))
    .filter(({ txn }) => txn.kind !== 'reversal' && !reversed.has(txn.id))
    .sort((a, b) => a.day - b.day || a.i - b.i)
    .map(({ txn, day }) => ({ txn, day }));
}

/** Ids of money received that a reversal takes out (reversals of anything else do nothing). */
export function reversedIds(transactions: readonly LedgerTransaction[]): Set<string> {
  const money = new Set(transactions.filter((t) => t.kind === 'repayment' || t.kind === 'prepayment').map((t) => t.id));
  const out = new Set<string>();
  for (const t of transactions) if (t.kind === 'reversal' && money.has(t.targetId)) out.add(t.targetId);
  return out;
}

/** The ledger from scratch: every transaction dated up to `asOf` applied on its day, then on to `asOf`. */
export function replay(contract: LoanContract, transactions: readonly LedgerTransaction[], asOf: number, dayByDay = false): LedgerEngine {
  const engine = new LedgerEngine(contract, dayByDay);
  for (const { txn, day } of appliedInOrder(contract, transactions)) {
    if (day > asOf) break;
    engine.advanceTo(day);
    engine.apply(txn);
  }
  engine.advanceTo(asOf);
  return engine;
}
