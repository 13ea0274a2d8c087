import { ApplicationFailure } from '@temporalio/common';
import { and, count, eq, gt, inArray, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { CURRENT_SERVICING_TERMS, ledgerIds, readLedger, type StoredLedger, valueDateOf } from '../db/ledger';
import type { PiiCipher } from '../db/pii';
import { applicants, applications, installments, loans, loanTransactions, scheduleVersions } from '../db/schema';
import {
  type ChargeComponent,
  type Fen,
  type InstallmentStatus,
  type LedgerPosition,
  type LedgerTransaction,
  type Offer,
  type OverdueBucket,
  type PrepaymentMode,
  type RepaymentMethod,
  type WaiverComponent,
  buildSchedule,
  computeLedger,
  DEFAULT_POLICY,
  loanIdForApplication,
  nextLedgerChange,
  overdueBucket,
  payoffQuote,
  scheduleLineOf,
  shanghaiDate,
  type PayoffQuote,
  type ScheduleRow,
} from '../domain';
import { FailureType, refusalCode } from '../contracts/failures';
import type { CallCentreClient } from './providers';

/**
 * The loan's records in PostgreSQL. The transactions (loan_transactions) are the truth; every
 * balance is the servicing ledger (src/domain/ledger) over them, and the instalments, schedule
 * versions and the loan row's figures are its projection, rewritten here whenever a transaction is
 * booked or the servicing workflow asks for the day's position. This module is the one writer of
 * loans, installments, loan_transactions and schedule_versions. Every activity is idempotent:
 * createLoan by application id, money by the bank's reference, the other acts by their request id.
 */

export interface CreateLoanInput {
  applicationId: string;
  offer: Offer;
  /** Epoch ms the money was paid out (workflow time); due dates follow in Asia/Shanghai. */
  disbursedAtMs: number;
  transferId: string;
  /** Mortgage registration still owed after disbursement (also accepted as the servicing input). */
  collateralRegistrationOutstanding?: boolean | undefined;
}

/** What the servicing runs written before the ledger start each run from (kept for them). */
export interface ServicingSnapshot {
  loanId: string;
  applicationId: string;
  status: 'active' | 'closed';
  closedHow: 'repaid' | 'early_payoff' | null;
  closedAt: string | null;
  disbursementDate: string;
  principalFen: Fen;
  termMonths: number;
  schedule: ScheduleRow[];
  paidFen: Fen[];
  statuses: InstallmentStatus[];
  bucket: OverdueBucket | null;
  unappliedFen: Fen;
  repaymentCount: number;
  collateralRegistrationOutstanding: boolean;
}

/** The repayment of the servicing runs written before the ledger (their activity, kept for them). */
export interface ApplyRepaymentInput {
  loanId: string;
  reference: string;
  amountFen: number;
  paidAt: string;
  actor: string;
  /** Ignored: the ledger settles the loan whenever a repayment covers its payoff amount. */
  payoffAsOfDate?: string | null | undefined;
}

export interface ApplyRepaymentResult {
  outcome: 'applied' | 'duplicate' | 'rejected';
  reason: string | null;
  kind: 'regular' | 'early_payoff';
  allocations: { seq: number; amountFen: Fen }[];
  paidFen: Fen[];
  unappliedFen: Fen;
  repaymentCount: number;
  closedBy: 'repaid' | 'early_payoff' | null;
}

export interface MirrorServicingInput {
  loanId: string;
  statuses: { seq: number; status: Exclude<InstallmentStatus, 'paid'> }[];
  bucket: OverdueBucket | null;
}

export interface CollectionsCallInput {
  loanId: string;
  seq: number;
  bucket: OverdueBucket;
  /** The same key is the same call task (derived from the workflow id, instalment and bucket). */
  idempotencyKey: string;
}

export type CollectionsCallResult = { status: 'created'; taskId: string } | { status: 'refused'; code: string };

// ---------------------------------------------------------------------------------------------
// The ledger's position and its bookings, as the servicing workflow sees them (ids and figures)

/** The loan on a day, in the few figures the workflow decides by (bounded whatever the history). */
export interface ServicingPosition {
  loanId: string;
  applicationId: string;
  asOfDate: string;
  /** The loan row's status (the workflow closes it); `settled` is the ledger's view. */
  status: 'active' | 'closed';
  settled: { on: string; how: 'repaid' | 'early_payoff' } | null;
  disbursementDate: string;
  principalFen: Fen;
  termMonths: number;
  collateralRegistrationOutstanding: boolean;
  outstandingPrincipalFen: Fen;
  overdueFen: Fen;
  penaltyFen: Fen;
  creditFen: Fen;
  balanceFen: Fen;
  delinquency: { seq: number; dueDate: string; daysPastDue: number; bucket: OverdueBucket | null } | null;
  nextDue: { seq: number; dueDate: string; amountFen: Fen } | null;
  /** The next day the position changes by the calendar alone (window, due, overdue, bucket). */
  nextChangeDate: string | null;
  scheduleVersion: number;
  /** Due dates of the current schedule (to count instalments falling due within a run). */
  dueDates: string[];
  moneyTransactions: number;
}

export type ServicingRequest =
  | { kind: 'repayment'; reference: string; amountFen: Fen; paidAt: string; actor: string }
  | { kind: 'prepayment'; reference: string; amountFen: Fen; paidAt: string; mode: PrepaymentMode; actor: string }
  | { kind: 'reversal'; requestId: string; reference: string; reasonCode: string; actor: string; approvedBy?: string | undefined }
  | { kind: 'waiver'; requestId: string; component: WaiverComponent; amountFen: Fen; reasonCode: string; actor: string; approvedBy?: string | undefined }
  | { kind: 'refund'; requestId: string; amountFen: Fen; reasonCode: string; actor: string; approvedBy?: string | undefined; providerRef?: string | undefined };

export type ServicingRefusalReason =
  | 'REFERENCE_CONFLICT'
  | 'UNKNOWN_REFERENCE'
  | 'ALREADY_REVERSED'
  | 'REVERSAL_WOULD_UNCOVER_REFUND'
  | 'NOTHING_TO_WAIVE'
  | 'WAIVER_EXCEEDS_OUTSTANDING'
  | 'REFUND_EXCEEDS_CREDIT'
  | 'LOAN_CLOSED'
  | 'INVALID_PAID_AT';

/** What booking a transaction did (for a duplicate: what the first booking did). */
export interface BookingResult {
  outcome: 'applied' | 'duplicate' | 'conflict' | 'refused';
  code: ServicingRefusalReason | null;
  txnId: string;
  allocations: { seq: number | null; component: ChargeComponent; amountFen: Fen }[];
  creditFen: Fen;
  waivedFen: Fen;
  prepaidPrincipalFen: Fen;
  feeFen: Fen;
  /** A prepayment that re-amortised: the new schedule's first instalment and length. */
  newSchedule: { version: number; instalmentFen: Fen; instalments: number; firstDueDate: string } | null;
  position: ServicingPosition;
}

/** The phone of the loan's borrower, decrypted here and never returned to a workflow. */
export async function borrowerPhones(db: Db, cipher: PiiCipher, loanIds: readonly string[]): Promise<Map<string, string>> {
  if (loanIds.length === 0) return new Map();
  const rows = await db
    .select({ loanId: loans.id, phoneEnc: applicants.phoneEnc })
    .from(loans)
    .innerJoin(applicants, eq(applicants.id, loans.applicantId))
    .where(inArray(loans.id, [...new Set(loanIds)]));
  return new Map(rows.map((r) => [r.loanId, cipher.decrypt(r.phoneEnc)]));
}

const BUCKET_STARTS = DEFAULT_POLICY.overdueBuckets.map((b) => b.minDays);

function notFound(loanId: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`no loan ${loanId}`, FailureType.LoanNotFound);
}

/** The ledger's position in the workflow's terms. */
export function summarise(stored: StoredLedger, p: LedgerPosition): ServicingPosition {
  const { loan } = stored;
  return {
    loanId: loan.id,
    applicationId: loan.applicationId,
    asOfDate: p.asOfDate,
    status: loan.status === 'closed' ? 'closed' : 'active',
    settled: p.settled,
    disbursementDate: loan.disbursementDate,
    principalFen: loan.principalFen,
    termMonths: loan.termMonths,
    collateralRegistrationOutstanding: loan.collateralRegistrationOutstanding,
    outstandingPrincipalFen: p.totals.principalOutstandingFen,
    overdueFen: p.totals.overdueFen,
    penaltyFen: p.totals.due.penaltyFen,
    creditFen: p.totals.creditFen,
    balanceFen: p.totals.balanceFen,
    delinquency: p.delinquency ? { ...p.delinquency, bucket: overdueBucket(p.delinquency.daysPastDue) } : null,
    nextDue: p.nextDue,
    nextChangeDate: nextLedgerChange(p, BUCKET_STARTS),
    scheduleVersion: p.versions.length,
    dueDates: p.lines.map((l) => l.dueDate),
    moneyTransactions: stored.rows.filter((r) => r.kind === 'repayment' || r.kind === 'prepayment').length,
  };
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Writes the ledger's position as the loan's projection: the current schedule's instalments
 * (amounts, what was paid towards each or is held for it, status, penalty owed), its versions,
 * and the loan's figures. Instalments a shorter schedule no longer has are removed.
 */
async function project(tx: Tx | Db, stored: StoredLedger, p: LedgerPosition): Promise<void> {
  const loanId = stored.loan.id;
  const now = new Date();
  const current = p.versions[p.versions.length - 1];
  const bySeq = new Map((current?.lines ?? []).map((l) => [l.seq, l]));
  if (p.lines.length > 0) {
    await tx
      .insert(installments)
      .values(
        p.lines.map((l) => {
          const row = bySeq.get(l.seq);
          const covered = l.paid.principalFen + l.paid.interestFen + l.waived.interestFen + l.creditEarmarkedFen;
          return {
            loanId,
            seq: l.seq,
            periodStartDate: l.periodStartDate,
            dueDate: l.dueDate,
            principalFen: l.due.principalFen,
            interestFen: l.due.interestFen,
            totalFen: l.totalFen,
            openingBalanceFen: l.openingBalanceFen,
            closingBalanceFen: row?.closingBalanceFen ?? l.openingBalanceFen - l.due.principalFen,
            paidFen: Math.min(l.totalFen, covered),
            status: l.status,
            version: l.version,
            penaltyFen: l.outstanding.penaltyFen,
            paidAt: l.status === 'paid' ? now : null,
            updatedAt: now,
          };
        }),
      )
      .onConflictDoUpdate({
        target: [installments.loanId, installments.seq],
        set: {
          periodStartDate: sql`excluded.period_start_date`,
          dueDate: sql`excluded.due_date`,
          principalFen: sql`excluded.principal_fen`,
          interestFen: sql`excluded.interest_fen`,
          totalFen: sql`excluded.total_fen`,
          openingBalanceFen: sql`excluded.opening_balance_fen`,
          closingBalanceFen: sql`excluded.closing_balance_fen`,
          paidFen: sql`excluded.paid_fen`,
          status: sql`excluded.status`,
          version: sql`excluded.version`,
          penaltyFen: sql`excluded.penalty_fen`,
          // The day it was first seen paid stays; a reversal that unpays it clears it.
          paidAt: sql`case when excluded.status = 'paid' then coalesce(${installments.paidAt}, excluded.paid_at) else null end`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
  }
  const lastSeq = p.lines.length > 0 ? (p.lines[p.lines.length - 1]?.seq ?? 0) : 0;
  await tx.delete(installments).where(and(eq(installments.loanId, loanId), gt(installments.seq, lastSeq)));

  await tx.delete(scheduleVersions).where(eq(scheduleVersions.loanId, loanId));
  await tx.insert(scheduleVersions).values(
    p.versions.map((v) => ({
      loanId,
      version: v.version,
      reason: v.reason,
      createdBy: v.createdBy,
      effectiveDate: v.effectiveDate,
      fromSeq: v.fromSeq,
      mode: v.mode,
      principalFen: v.principalFen,
      lines: v.lines,
    })),
  );
  await tx
    .update(loans)
    .set({
      unappliedFen: p.totals.creditFen,
      positionAsOf: p.asOfDate,
      outstandingPrincipalFen: p.totals.principalOutstandingFen,
      overdueFen: p.totals.overdueFen,
      penaltyFen: p.totals.due.penaltyFen,
      daysPastDue: p.delinquency?.daysPastDue ?? 0,
      scheduleVersion: p.versions.length,
      // A closed loan keeps the bucket the workflow cleared.
      ...(stored.loan.status === 'closed' ? {} : { bucket: p.delinquency ? overdueBucket(p.delinquency.daysPastDue) : null }),
      updatedAt: now,
    })
    .where(eq(loans.id, loanId));
}

/** What one transaction did, read from a position. */
function effectOf(p: LedgerPosition, txnId: string): Omit<BookingResult, 'outcome' | 'code' | 'txnId' | 'position'> {
  const e = p.transactions.find((t) => t.id === txnId);
  const version = e?.createdVersion ? p.versions.find((v) => v.version === e.createdVersion) : undefined;
  const fresh = version && version.reason === 'prepayment' ? version.lines.filter((l) => l.seq >= version.fromSeq) : [];
  return {
    allocations: p.allocations.filter((a) => a.txnId === txnId).map((a) => ({ seq: a.seq, component: a.component, amountFen: a.amountFen })),
    creditFen: e?.creditFen ?? 0,
    waivedFen: e?.waivedFen ?? 0,
    prepaidPrincipalFen: e?.prepaidPrincipalFen ?? 0,
    feeFen: e?.feeFen ?? 0,
    newSchedule:
      version && fresh.length > 0
        ? { version: version.version, instalmentFen: fresh[0]!.totalFen, instalments: fresh.length, firstDueDate: fresh[0]!.dueDate }
        : null,
  };
}

/** The transaction a request books (its ledger id and its row), or why it cannot be booked. */
function transactionFor(req: ServicingRequest, asOfDate: string): { txn: LedgerTransaction; row: Omit<typeof loanTransactions.$inferInsert, 'loanId'> } {
  switch (req.kind) {
    case 'repayment':
    case 'prepayment': {
      const id = ledgerIds.money(req.reference);
      const valueDate = valueDateOf(req.paidAt);
      const txn: LedgerTransaction =
        req.kind === 'repayment' ? { kind: 'repayment', id, valueDate, amountFen: req.amountFen } : { kind: 'prepayment', id, valueDate, amountFen: req.amountFen, mode: req.mode };
      return {
        txn,
        row: { txnId: id, kind: req.kind, reference: req.reference, amountFen: req.amountFen, valueDate, paidAt: new Date(req.paidAt), mode: req.kind === 'prepayment' ? req.mode : null, actor: req.actor },
      };
    }
    case 'reversal': {
      const id = ledgerIds.reversal(req.reference);
      return {
        txn: { kind: 'reversal', id, valueDate: asOfDate, targetId: ledgerIds.money(req.reference) },
        row: { txnId: id, kind: 'reversal', valueDate: asOfDate, targetTxnId: ledgerIds.money(req.reference), reasonCode: req.reasonCode, actor: req.actor, approvedBy: req.approvedBy ?? null },
      };
    }
    case 'waiver': {
      const id = ledgerIds.waiver(req.requestId);
      return {
        txn: { kind: 'waiver', id, valueDate: asOfDate, component: req.component, amountFen: req.amountFen },
        row: { txnId: id, kind: 'waiver', valueDate: asOfDate, component: req.component, amountFen: req.amountFen, reasonCode: req.reasonCode, actor: req.actor, approvedBy: req.approvedBy ?? null },
      };
    }
    case 'refund': {
      const id = ledgerIds.refund(req.requestId);
      return {
        txn: { kind: 'refund', id, valueDate: asOfDate, amountFen: req.amountFen },
        row: { txnId: id, kind: 'refund', valueDate: asOfDate, amountFen: req.amountFen, reasonCode: req.reasonCode, actor: req.actor, approvedBy: req.approvedBy ?? null, providerRef: req.providerRef ?? null },
      };
    }
  }
}

/**
 * Why the request cannot be booked on the stored ledger, or null. `paid`: a refund whose money
 * has already left (the ledger must record it whatever the credit is now).
 */
function refusalOf(stored: StoredLedger, req: ServicingRequest, asOfDate: string, opts: { paid?: boolean } = {}): ServicingRefusalReason | null {
  const { contract, transactions } = stored;
  if ((req.kind === 'repayment' || req.kind === 'prepayment') && Number.isNaN(Date.parse(req.paidAt))) return 'INVALID_PAID_AT';
  if (stored.loan.status === 'closed' && req.kind !== 'refund' && req.kind !== 'repayment') return 'LOAN_CLOSED';
  if (req.kind === 'reversal') {
    const target = ledgerIds.money(req.reference);
    if (!stored.rows.some((r) => r.txnId === target)) return 'UNKNOWN_REFERENCE';
    if (stored.rows.some((r) => r.kind === 'reversal' && r.targetTxnId === target)) return 'ALREADY_REVERSED';
    const after = computeLedger(contract, [...transactions, transactionFor(req, asOfDate).txn], asOfDate);
    if (after.transactions.some((t) => t.kind === 'refund' && t.uncoveredFen > 0)) return 'REVERSAL_WOULD_UNCOVER_REFUND';
    return null;
  }
  if (req.kind === 'waiver') {
    const p = computeLedger(contract, transactions, asOfDate);
    const owed =
      req.component === 'penalty' ? p.totals.due.penaltyFen : req.component === 'interest' ? p.totals.due.interestFen : payoffQuote(contract, transactions, asOfDate).feeFen;
    if (owed === 0) return 'NOTHING_TO_WAIVE';
    return req.amountFen > owed ? 'WAIVER_EXCEEDS_OUTSTANDING' : null;
  }
  if (req.kind === 'refund' && !opts.paid) {
    return req.amountFen > computeLedger(contract, transactions, asOfDate).totals.creditFen ? 'REFUND_EXCEEDS_CREDIT' : null;
  }
  return null;
}

export function createLoanActivities(deps: { db: Db; cipher: PiiCipher; callCentre: CallCentreClient }) {
  const { db, cipher, callCentre } = deps;

  async function countMoney(tx: Pick<Db, 'select'>, loanId: string): Promise<number> {
    const [r] = await tx
      .select({ n: count() })
      .from(loanTransactions)
      .where(and(eq(loanTransactions.loanId, loanId), inArray(loanTransactions.kind, ['repayment', 'prepayment'])));
    return Number(r?.n ?? 0);
  }

  /**
   * Books one request on the loan under its row lock: the same request again answers `duplicate`
   * with what the first booking did; the same bank reference with another amount (or kind) is a
   * `conflict`; a request the ledger refuses is `refused` with the reason. Then the ledger is
   * recomputed from all the transactions, as of `asOfDate`, and projected.
   */
  async function book(loanId: string, req: ServicingRequest, asOfDate: string, opts: { paid?: boolean } = {}): Promise<BookingResult> {
    return db.transaction(async (tx) => {
      const stored = await readLedger(tx, loanId, { lock: true });
      if (!stored) throw notFound(loanId);
      const { txn, row } = transactionFor(req, asOfDate);
      const answer = (outcome: BookingResult['outcome'], code: ServicingRefusalReason | null, p: LedgerPosition, s: StoredLedger = stored): BookingResult => ({
        outcome,
        code,
        txnId: txn.id,
        ...effectOf(p, txn.id),
        position: summarise(s, p),
      });

      const prior = stored.rows.find((r) => r.txnId === txn.id || (row.reference != null && r.reference === row.reference));
      if (prior) {
        const p = computeLedger(stored.contract, stored.transactions, asOfDate);
        const same = prior.txnId === txn.id && prior.kind === row.kind && (prior.amountFen ?? null) === (row.amountFen ?? null);
        return answer(same ? 'duplicate' : 'conflict', same ? null : 'REFERENCE_CONFLICT', p);
      }
      const refusal = refusalOf(stored, req, asOfDate, opts);
      if (refusal) return answer('refused', refusal, computeLedger(stored.contract, stored.transactions, asOfDate));

      const [inserted] = await tx.insert(loanTransactions).values({ ...row, loanId }).returning();
      const after: StoredLedger = { ...stored, rows: [...stored.rows, inserted!], transactions: [...stored.transactions, txn] };
      const p = computeLedger(after.contract, after.transactions, asOfDate);
      await project(tx, after, p);
      return answer('applied', null, p, after);
    });
  }

  return {
    /**
     * Stores the loan, the servicing terms it is signed with and its repayment schedule once per
     * application: a retry, or a second call after a crash, answers the same loan. Terms that
     * differ from the stored loan are a bug and fail without retry.
     */
    async createLoan(input: CreateLoanInput): Promise<{ loanId: string }> {
      const loanId = loanIdForApplication(input.applicationId);
      const { offer } = input;
      const disbursementDate = shanghaiDate(input.disbursedAtMs);
      const schedule = buildSchedule({
        principalFen: offer.amountFen,
        annualRateBps: offer.annualRateBps,
        termMonths: offer.termMonths,
        method: offer.repaymentMethod as RepaymentMethod,
        disbursementDate,
      });
      await db.transaction(async (tx) => {
        const [app] = await tx
          .select({ applicantId: applications.applicantId, branchId: applications.branchId })
          .from(applications)
          .where(eq(applications.id, input.applicationId));
        if (!app) {
          throw ApplicationFailure.nonRetryable(`no application ${input.applicationId}`, FailureType.LoanNotFound);
        }
        const inserted = await tx
          .insert(loans)
          .values({
            id: loanId,
            applicationId: input.applicationId,
            applicantId: app.applicantId,
            branchId: app.branchId,
            principalFen: offer.amountFen,
            annualRateBps: offer.annualRateBps,
            aprBps: offer.aprBps,
            termMonths: offer.termMonths,
            repaymentMethod: offer.repaymentMethod,
            upfrontFeeFen: offer.upfrontFeeFen,
            disbursedAt: new Date(input.disbursedAtMs),
            disbursementDate,
            transferId: input.transferId,
            collateralRegistrationOutstanding: input.collateralRegistrationOutstanding ?? false,
            servicingTerms: CURRENT_SERVICING_TERMS,
            outstandingPrincipalFen: offer.amountFen,
            positionAsOf: disbursementDate,
          })
          .onConflictDoNothing({ target: loans.id })
          .returning({ id: loans.id });
        if (inserted.length === 0) {
          const [existing] = await tx.select().from(loans).where(eq(loans.id, loanId));
          const same =
            existing &&
            existing.principalFen === offer.amountFen &&
            existing.termMonths === offer.termMonths &&
            existing.annualRateBps === offer.annualRateBps &&
            existing.repaymentMethod === offer.repaymentMethod &&
            existing.disbursementDate === disbursementDate;
          if (!same) {
            throw ApplicationFailure.nonRetryable(`loan ${loanId} exists with other terms`, FailureType.LoanTermsConflict);
          }
          return;
        }
        await tx.insert(installments).values(
          schedule.map((i) => ({
            loanId,
            seq: i.seq,
            periodStartDate: i.periodStartDate,
            dueDate: i.dueDate,
            principalFen: i.principalFen,
            interestFen: i.interestFen,
            totalFen: i.totalFen,
            openingBalanceFen: i.openingBalanceFen,
            closingBalanceFen: i.closingBalanceFen,
          })),
        );
        await tx.insert(scheduleVersions).values({
          loanId,
          version: 1,
          reason: 'origination',
          effectiveDate: disbursementDate,
          fromSeq: 1,
          principalFen: offer.amountFen,
          lines: schedule.map(({ seq, periodStartDate, dueDate, principalFen, interestFen, totalFen, openingBalanceFen, closingBalanceFen }) => ({
            seq,
            periodStartDate,
            dueDate,
            principalFen,
            interestFen,
            totalFen,
            openingBalanceFen,
            closingBalanceFen,
          })),
        });
      });
      return { loanId };
    },

    /**
     * The loan's position on `asOfDate` (the workflow's Shanghai date): the ledger over every
     * transaction, projected into the instalments and the loan row. Also records that collateral
     * registration is owed when the workflow's input says so.
     */
    async servicingPosition(input: { loanId: string; asOfDate: string; collateralRegistrationOutstanding?: boolean }): Promise<ServicingPosition> {
      return db.transaction(async (tx) => {
        if (input.collateralRegistrationOutstanding) {
          await tx
            .update(loans)
            .set({ collateralRegistrationOutstanding: true })
            .where(and(eq(loans.id, input.loanId), sql`${loans.collateralRegisteredAt} is null`));
        }
        const stored = await readLedger(tx, input.loanId, { lock: true });
        if (!stored) throw notFound(input.loanId);
        const p = computeLedger(stored.contract, stored.transactions, input.asOfDate);
        await project(tx, stored, p);
        return summarise(stored, p);
      });
    },

    /** Books a repayment, prepayment, or an approved reversal, waiver or refund (see book()). */
    async bookServicingTransaction(input: { loanId: string; asOfDate: string; request: ServicingRequest; paid?: boolean }): Promise<BookingResult> {
      return book(input.loanId, input.request, input.asOfDate, { paid: input.paid ?? false });
    },

    /** Whether a request could be booked now (asked when it is made, before its second approval). */
    async checkServicingRequest(input: { loanId: string; asOfDate: string; request: ServicingRequest }): Promise<{ refusal: ServicingRefusalReason | null }> {
      const stored = await readLedger(db, input.loanId);
      if (!stored) throw notFound(input.loanId);
      const txnId = transactionFor(input.request, input.asOfDate).txn.id;
      if (input.request.kind === 'reversal' && stored.rows.some((r) => r.txnId === txnId)) return { refusal: 'ALREADY_REVERSED' };
      return { refusal: refusalOf(stored, input.request, input.asOfDate) };
    },

    /** What closes the loan on `asOfDate` (today or a day ahead). */
    async servicingPayoffQuote(input: { loanId: string; asOfDate: string }): Promise<PayoffQuote> {
      const stored = await readLedger(db, input.loanId);
      if (!stored) throw notFound(input.loanId);
      return payoffQuote(stored.contract, stored.transactions, input.asOfDate);
    },

    // ---- the activities of servicing runs written before the ledger --------------------------

    async loadServicingSnapshot(input: { loanId: string; collateralRegistrationOutstanding?: boolean }): Promise<ServicingSnapshot> {
      if (input.collateralRegistrationOutstanding) {
        await db
          .update(loans)
          .set({ collateralRegistrationOutstanding: true })
          .where(and(eq(loans.id, input.loanId), sql`${loans.collateralRegisteredAt} is null`));
      }
      const [loan] = await db.select().from(loans).where(eq(loans.id, input.loanId));
      if (!loan) throw notFound(input.loanId);
      const rows = await db.select().from(installments).where(eq(installments.loanId, input.loanId)).orderBy(installments.seq);
      return {
        loanId: loan.id,
        applicationId: loan.applicationId,
        status: loan.status === 'closed' ? 'closed' : 'active',
        closedHow: (loan.closedHow as ServicingSnapshot['closedHow']) ?? null,
        closedAt: loan.closedAt ? loan.closedAt.toISOString() : null,
        disbursementDate: loan.disbursementDate,
        principalFen: loan.principalFen,
        termMonths: loan.termMonths,
        schedule: rows.map(scheduleLineOf),
        paidFen: rows.map((r) => r.paidFen),
        statuses: rows.map((r) => r.status as InstallmentStatus),
        bucket: (loan.bucket as OverdueBucket | null) ?? null,
        unappliedFen: loan.unappliedFen,
        repaymentCount: await countMoney(db, loan.id),
        collateralRegistrationOutstanding: loan.collateralRegistrationOutstanding,
      };
    },

    /**
     * A repayment of a servicing run written before the ledger: booked on the ledger like any
     * other, answered in that run's terms (paid amount per instalment, credit as unapplied).
     */
    async applyRepayment(input: ApplyRepaymentInput): Promise<ApplyRepaymentResult> {
      const paidAt = typeof input.paidAt === 'string' ? Date.parse(input.paidAt) : Number.NaN;
      const asOfDate = Number.isNaN(paidAt) ? shanghaiDate(Date.now()) : shanghaiDate(paidAt);
      const r = await book(input.loanId, { kind: 'repayment', reference: input.reference, amountFen: input.amountFen, paidAt: input.paidAt, actor: input.actor }, asOfDate);
      const rows = await db.select().from(installments).where(eq(installments.loanId, input.loanId)).orderBy(installments.seq);
      const perSeq = new Map<number, number>();
      for (const a of r.allocations) if (a.seq !== null) perSeq.set(a.seq, (perSeq.get(a.seq) ?? 0) + a.amountFen);
      const payoff = r.prepaidPrincipalFen > 0;
      return {
        outcome: r.outcome === 'applied' ? 'applied' : r.outcome === 'duplicate' ? 'duplicate' : 'rejected',
        reason: r.outcome === 'conflict' ? 'REFERENCE_CONFLICT' : r.code,
        kind: payoff ? 'early_payoff' : 'regular',
        allocations: [...perSeq].map(([seq, amountFen]) => ({ seq, amountFen })),
        paidFen: rows.map((row) => row.paidFen),
        unappliedFen: r.position.creditFen,
        repaymentCount: r.position.moneyTransactions,
        closedBy: r.position.status === 'closed' ? 'repaid' : r.position.settled ? r.position.settled.how : null,
      };
    },

    /** Mirrors a servicing run's statuses and bucket (runs written before the ledger). */
    async mirrorServicing(input: MirrorServicingInput): Promise<void> {
      const byStatus = new Map<string, number[]>();
      for (const s of input.statuses) byStatus.set(s.status, [...(byStatus.get(s.status) ?? []), s.seq]);
      await db.transaction(async (tx) => {
        for (const [status, seqs] of byStatus) {
          // Never over a payment: `paid` is written only with the money.
          await tx
            .update(installments)
            .set({ status, updatedAt: new Date() })
            .where(
              and(
                eq(installments.loanId, input.loanId),
                inArray(installments.seq, seqs),
                ne(installments.status, 'paid'),
                sql`${installments.paidFen} < ${installments.totalFen}`,
              ),
            );
        }
        await tx.update(loans).set({ bucket: input.bucket, updatedAt: new Date() }).where(eq(loans.id, input.loanId));
      });
    },

    async recordCollateralRegistered(input: { loanId: string; registrationRef: string; registeredAt: string }): Promise<void> {
      const at = Date.parse(input.registeredAt);
      await db
        .update(loans)
        .set({
          collateralRegistrationOutstanding: false,
          collateralRegistrationRef: input.registrationRef,
          collateralRegisteredAt: Number.isNaN(at) ? new Date() : new Date(at),
          updatedAt: new Date(),
        })
        .where(eq(loans.id, input.loanId));
    },

    async closeLoan(input: { loanId: string; how: 'repaid' | 'early_payoff'; closedAtMs: number }): Promise<void> {
      await db
        .update(loans)
        .set({ status: 'closed', closedHow: input.how, closedAt: new Date(input.closedAtMs), bucket: null, updatedAt: new Date() })
        .where(and(eq(loans.id, input.loanId), ne(loans.status, 'closed')));
    },

    /** Opens the collections call of a bucket; the same key is the same task. A refusal is an answer, not a failure. */
    async openCollectionsCall(input: CollectionsCallInput): Promise<CollectionsCallResult> {
      const [loan] = await db.select({ applicationId: loans.applicationId }).from(loans).where(eq(loans.id, input.loanId));
      if (!loan) throw notFound(input.loanId);
      const phone = (await borrowerPhones(db, cipher, [input.loanId])).get(input.loanId);
      if (!phone) throw ApplicationFailure.nonRetryable(`no borrower for ${input.loanId}`, FailureType.LoanNotFound);
      try {
        const task = await callCentre.createTask({
          applicationId: loan.applicationId,
          idempotencyKey: input.idempotencyKey,
          phone,
          script: input.bucket === 'M2' ? 'collections_early_v1' : 'collections_late_v1',
          priority: input.bucket === 'M2' ? 'normal' : 'high',
        });
        return { status: 'created', taskId: task.taskId };
      } catch (err) {
        const code = refusalCode(err, FailureType.CallTaskRefused);
        if (code === null) throw err;
        return { status: 'refused', code };
      }
    },

    /** The arrears were paid: a collections call still queued is no longer needed. */
    async cancelCollectionsCall(input: { taskId: string }): Promise<'cancelled' | 'already_completed' | 'not_found'> {
      try {
        await callCentre.cancelTask(input.taskId, 'arrears_cured');
        return 'cancelled';
      } catch (err) {
        if (refusalCode(err, FailureType.CallTaskRefused) === 'task_already_completed') return 'already_completed';
        if (refusalCode(err, FailureType.ProviderResourceNotFound) !== null) return 'not_found';
        throw err;
      }
    },
  };
}
