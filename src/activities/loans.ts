import { ApplicationFailure } from '@temporalio/common';
import { and, asc, count, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { applicants, applications, installments, loans, repayments } from '../db/schema';
import {
  type Fen,
  type InstallmentStatus,
  type Offer,
  type RepaymentMethod,
  allocateRepayment,
  buildSchedule,
  DEFAULT_POLICY,
  shanghaiDate,
} from '../domain';
import type { OverdueBucket } from '../workflows/servicingMessages';
import { type ScheduleRow, isFullyPaid, loanIdForApplication, payoffSettlement } from '../domain/servicingRules';
import { ProviderFailureType, type CallCentreClient, type ProviderRefusalDetails } from './providers';

/**
 * The loan's records in PostgreSQL, which is the source of truth for the schedule and for what was
 * paid. Every activity here is idempotent: createLoan by application id, applyRepayment by the
 * bank's payment reference, the mirrors and closeLoan by writing the same values again.
 */

export const ServicingFailureType = {
  LoanNotFound: 'LoanNotFound',
  /** createLoan was called again for the application with different terms: a bug upstream. */
  LoanTermsConflict: 'LoanTermsConflict',
} as const;

export interface CreateLoanInput {
  applicationId: string;
  offer: Offer;
  /** Epoch ms the money was paid out (workflow time); due dates follow in Asia/Shanghai. */
  disbursedAtMs: number;
  transferId: string;
  /** Mortgage registration still owed after disbursement (also accepted as the servicing input). */
  collateralRegistrationOutstanding?: boolean | undefined;
}

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
  /** Statuses as last mirrored. */
  statuses: InstallmentStatus[];
  bucket: OverdueBucket | null;
  unappliedFen: Fen;
  repaymentCount: number;
  collateralRegistrationOutstanding: boolean;
}

export interface ApplyRepaymentInput {
  loanId: string;
  reference: string;
  amountFen: number;
  paidAt: string;
  actor: string;
  /** A payoff quote is open for this date: settle the loan if the money covers it. */
  payoffAsOfDate?: string | null | undefined;
}

export interface ApplyRepaymentResult {
  outcome: 'applied' | 'duplicate' | 'rejected';
  /** Why it was rejected (a code, no free text). */
  reason: string | null;
  kind: 'regular' | 'early_payoff';
  allocations: { seq: number; amountFen: Fen }[];
  /** Paid amount of every instalment after this repayment (index = seq − 1): the database's truth. */
  paidFen: Fen[];
  unappliedFen: Fen;
  repaymentCount: number;
  /** Set when this repayment (or an earlier one) left nothing owed. */
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

const REFERENCE_MAX = 128;

function isPositiveFen(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function providerRefusal(err: unknown, type: string): string | null {
  if (!(err instanceof ApplicationFailure) || err.type !== type) return null;
  const d = err.details?.[0] as Partial<ProviderRefusalDetails> | undefined;
  return typeof d?.code === 'string' ? d.code : 'refused';
}

function rowOf(r: typeof installments.$inferSelect): ScheduleRow {
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

export function createLoanActivities(deps: { db: Db; cipher: PiiCipher; callCentre: CallCentreClient }) {
  const { db, cipher, callCentre } = deps;

  async function countRepayments(tx: Db, loanId: string): Promise<number> {
    const [r] = await tx.select({ n: count() }).from(repayments).where(eq(repayments.loanId, loanId));
    return Number(r?.n ?? 0);
  }

  return {
    /**
     * Stores the loan and its repayment schedule once per application: a retry, or a second call
     * after a crash, answers the same loan. Terms that differ from the stored loan are a bug and
     * fail without retry.
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
          .select({ applicantId: applications.applicantId })
          .from(applications)
          .where(eq(applications.id, input.applicationId));
        if (!app) {
          throw ApplicationFailure.nonRetryable(`no application ${input.applicationId}`, ServicingFailureType.LoanNotFound);
        }
        const inserted = await tx
          .insert(loans)
          .values({
            id: loanId,
            applicationId: input.applicationId,
            applicantId: app.applicantId,
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
            throw ApplicationFailure.nonRetryable(`loan ${loanId} exists with other terms`, ServicingFailureType.LoanTermsConflict);
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
      });
      return { loanId };
    },

    /**
     * What the servicing workflow starts each run from: the schedule and what was paid. Also
     * records that collateral registration is owed when the workflow's input says so.
     */
    async loadServicingSnapshot(input: { loanId: string; collateralRegistrationOutstanding?: boolean }): Promise<ServicingSnapshot> {
      if (input.collateralRegistrationOutstanding) {
        await db
          .update(loans)
          .set({ collateralRegistrationOutstanding: true })
          .where(and(eq(loans.id, input.loanId), sql`${loans.collateralRegisteredAt} is null`));
      }
      const [loan] = await db.select().from(loans).where(eq(loans.id, input.loanId));
      if (!loan) throw ApplicationFailure.nonRetryable(`no loan ${input.loanId}`, ServicingFailureType.LoanNotFound);
      const rows = await db.select().from(installments).where(eq(installments.loanId, input.loanId)).orderBy(asc(installments.seq));
      return {
        loanId: loan.id,
        applicationId: loan.applicationId,
        status: loan.status === 'closed' ? 'closed' : 'active',
        closedHow: (loan.closedHow as ServicingSnapshot['closedHow']) ?? null,
        closedAt: loan.closedAt ? loan.closedAt.toISOString() : null,
        disbursementDate: loan.disbursementDate,
        principalFen: loan.principalFen,
        termMonths: loan.termMonths,
        schedule: rows.map(rowOf),
        paidFen: rows.map((r) => r.paidFen),
        statuses: rows.map((r) => r.status as InstallmentStatus),
        bucket: (loan.bucket as OverdueBucket | null) ?? null,
        unappliedFen: loan.unappliedFen,
        repaymentCount: await countRepayments(db, loan.id),
        collateralRegistrationOutstanding: loan.collateralRegistrationOutstanding,
      };
    },

    /**
     * Records one repayment and applies it in one transaction: oldest instalment first, money
     * beyond an instalment to the next ones, beyond everything kept as unapplied (refund). With a
     * payoff quote open, money that covers the payoff amount settles every instalment instead.
     * The same reference again changes nothing and answers `duplicate` with the current figures,
     * so a retry after a lost answer, or the bank feed sending twice, applies it once.
     */
    async applyRepayment(input: ApplyRepaymentInput): Promise<ApplyRepaymentResult> {
      const paidAtMs = typeof input.paidAt === 'string' ? Date.parse(input.paidAt) : NaN;
      const invalid = !isPositiveFen(input.amountFen)
        ? 'INVALID_AMOUNT'
        : typeof input.reference !== 'string' || input.reference.trim() === '' || input.reference.length > REFERENCE_MAX
          ? 'INVALID_REFERENCE'
          : Number.isNaN(paidAtMs)
            ? 'INVALID_PAID_AT'
            : null;

      return db.transaction(async (tx) => {
        // The loan row lock serialises repayments of one loan, whoever applies them.
        const [loan] = await tx.select().from(loans).where(eq(loans.id, input.loanId)).for('update');
        if (!loan) throw ApplicationFailure.nonRetryable(`no loan ${input.loanId}`, ServicingFailureType.LoanNotFound);
        const rows = await tx.select().from(installments).where(eq(installments.loanId, input.loanId)).orderBy(asc(installments.seq));
        const schedule = rows.map(rowOf);
        const paid = rows.map((r) => r.paidFen);
        const answer = (over: Partial<ApplyRepaymentResult>, paidFen: Fen[], repaymentCount: number, unapplied: Fen): ApplyRepaymentResult => ({
          outcome: 'applied',
          reason: null,
          kind: 'regular',
          allocations: [],
          paidFen,
          unappliedFen: unapplied,
          repaymentCount,
          closedBy: loan.status === 'closed' ? ((loan.closedHow as 'repaid' | 'early_payoff') ?? 'repaid') : isFullyPaid(schedule, paidFen) ? 'repaid' : null,
          ...over,
        });

        if (typeof input.reference === 'string' && input.reference !== '') {
          const [prior] = await tx
            .select({ kind: repayments.kind })
            .from(repayments)
            .where(and(eq(repayments.loanId, input.loanId), eq(repayments.reference, input.reference)));
          if (prior) {
            return answer({ outcome: 'duplicate', kind: prior.kind as 'regular' | 'early_payoff' }, paid, await countRepayments(tx, loan.id), loan.unappliedFen);
          }
        }
        if (invalid) return answer({ outcome: 'rejected', reason: invalid }, paid, await countRepayments(tx, loan.id), loan.unappliedFen);
        if (loan.status === 'closed') {
          return answer({ outcome: 'rejected', reason: 'LOAN_CLOSED' }, paid, await countRepayments(tx, loan.id), loan.unappliedFen);
        }

        let kind: 'regular' | 'early_payoff' = 'regular';
        let newPaid: Fen[];
        let unapplied: Fen;
        let fee = 0;
        let allocations: { seq: number; amountFen: Fen }[];
        const settlement = input.payoffAsOfDate ? tryPayoff(schedule, paid, input.payoffAsOfDate) : null;
        if (settlement && input.amountFen >= settlement.amountToCloseFen) {
          kind = 'early_payoff';
          newPaid = paid.map((p, i) => p + (settlement.shares[i] ?? 0));
          allocations = settlement.shares.map((amountFen, i) => ({ seq: i + 1, amountFen })).filter((a) => a.amountFen > 0);
          fee = settlement.feeFen;
          unapplied = input.amountFen - settlement.amountToCloseFen;
        } else {
          const a = allocateRepayment(schedule as never, paid, input.amountFen);
          newPaid = a.paidFen;
          allocations = a.allocations;
          unapplied = a.unappliedFen;
        }

        const paidAt = new Date(paidAtMs);
        for (const a of allocations) {
          const i = a.seq - 1;
          const settled = kind === 'early_payoff' || (newPaid[i] as number) >= (schedule[i] as ScheduleRow).totalFen;
          await tx
            .update(installments)
            .set({
              paidFen: newPaid[i] as number,
              ...(settled ? { status: 'paid', paidAt } : {}),
              updatedAt: new Date(),
            })
            .where(and(eq(installments.loanId, input.loanId), eq(installments.seq, a.seq)));
        }
        if (kind === 'early_payoff') {
          // Instalments the payoff settles without taking money for them (already paid ahead).
          await tx
            .update(installments)
            .set({ status: 'paid', paidAt, updatedAt: new Date() })
            .where(and(eq(installments.loanId, input.loanId), ne(installments.status, 'paid')));
        }
        await tx.insert(repayments).values({
          loanId: input.loanId,
          reference: input.reference,
          amountFen: input.amountFen,
          paidAt,
          actor: input.actor,
          kind,
          allocations,
          feeFen: fee,
          unappliedFen: unapplied,
        });
        if (unapplied > 0) {
          await tx
            .update(loans)
            .set({ unappliedFen: loan.unappliedFen + unapplied, updatedAt: new Date() })
            .where(eq(loans.id, input.loanId));
        }
        const result = answer({ kind, allocations }, newPaid, await countRepayments(tx, loan.id), loan.unappliedFen + unapplied);
        if (kind === 'early_payoff') result.closedBy = 'early_payoff';
        return result;
      });
    },

    /** Mirrors the workflow's view (statuses other than paid, and the bucket) for the API and the sweep. */
    async mirrorServicing(input: MirrorServicingInput): Promise<void> {
      const byStatus = new Map<string, number[]>();
      for (const s of input.statuses) byStatus.set(s.status, [...(byStatus.get(s.status) ?? []), s.seq]);
      await db.transaction(async (tx) => {
        for (const [status, seqs] of byStatus) {
          // Never over a payment: `paid` is written only with the money, by applyRepayment.
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
      if (!loan) throw ApplicationFailure.nonRetryable(`no loan ${input.loanId}`, ServicingFailureType.LoanNotFound);
      const phone = (await borrowerPhones(db, cipher, [input.loanId])).get(input.loanId);
      if (!phone) throw ApplicationFailure.nonRetryable(`no borrower for ${input.loanId}`, ServicingFailureType.LoanNotFound);
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
        const code = providerRefusal(err, ProviderFailureType.CallTaskRefused);
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
        if (providerRefusal(err, ProviderFailureType.CallTaskRefused) === 'task_already_completed') return 'already_completed';
        if (providerRefusal(err, ProviderFailureType.ProviderResourceNotFound) !== null) return 'not_found';
        throw err;
      }
    },
  };
}

function tryPayoff(schedule: ScheduleRow[], paid: Fen[], asOfDate: string) {
  try {
    return payoffSettlement(schedule, paid, asOfDate, DEFAULT_POLICY.prepayment.feeBps);
  } catch {
    // A date the domain refuses (before disbursement): the money is applied as a regular repayment.
    return null;
  }
}
