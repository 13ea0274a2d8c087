import { and, asc, eq } from 'drizzle-orm';
import {
  type LedgerTransaction,
  type LoanContract,
  type RepaymentMethod,
  type ServicingTerms,
  DEFAULT_POLICY,
  LEGACY_SERVICING_TERMS,
  servicingTermsProblems,
  shanghaiDate,
} from '../domain';
import type { Db } from './client';
import { loans, loanTransactions } from './schema';

/**
 * The servicing ledger's inputs as stored: a loan row is its contract, its loan_transactions rows
 * (in booking order) its transactions. The activities that book transactions and the API that reads
 * statements both build the ledger from here, so they cannot read the rows two ways.
 */
export type LoanRow = typeof loans.$inferSelect;
export type LoanTransactionRow = typeof loanTransactions.$inferSelect;

/** Ledger ids: money by the bank's reference, the other acts by what they act on or their request. */
export const ledgerIds = {
  money: (reference: string) => `ref:${reference}`,
  reversal: (reference: string) => `reversal:${reference}`,
  waiver: (requestId: string) => `waiver:${requestId}`,
  refund: (requestId: string) => `refund:${requestId}`,
};

/** The terms stored on the loan; a row that does not hold usable terms is a bug, refused loudly. */
export function termsOf(loan: Pick<LoanRow, 'id' | 'servicingTerms'>): ServicingTerms {
  const terms = loan.servicingTerms as ServicingTerms;
  const problems = terms && typeof terms === 'object' ? servicingTermsProblems(terms) : ['missing'];
  if (problems.length > 0) throw new Error(`loan ${loan.id} has unusable servicing terms: ${problems.join('; ')}`);
  return terms;
}

export function contractOf(loan: LoanRow): LoanContract {
  return {
    principalFen: loan.principalFen,
    annualRateBps: loan.annualRateBps,
    termMonths: loan.termMonths,
    method: loan.repaymentMethod as RepaymentMethod,
    disbursementDate: loan.disbursementDate,
    terms: termsOf(loan),
  };
}

export function transactionOf(row: LoanTransactionRow): LedgerTransaction {
  const base = { id: row.txnId, valueDate: row.valueDate };
  switch (row.kind) {
    case 'repayment':
      return { ...base, kind: 'repayment', amountFen: row.amountFen ?? 0 };
    case 'prepayment':
      return { ...base, kind: 'prepayment', amountFen: row.amountFen ?? 0, mode: row.mode === 'reduce_term' ? 'reduce_term' : 'reduce_installment' };
    case 'reversal':
      return { ...base, kind: 'reversal', targetId: row.targetTxnId ?? '' };
    case 'waiver':
      return { ...base, kind: 'waiver', amountFen: row.amountFen ?? 0, component: row.component === 'interest' ? 'interest' : row.component === 'fee' ? 'fee' : 'penalty' };
    case 'refund':
      return { ...base, kind: 'refund', amountFen: row.amountFen ?? 0 };
    default:
      throw new Error(`loan ${row.loanId}: unknown transaction kind ${row.kind}`);
  }
}

/** The day a payment's money counts from: the Asia/Shanghai date of the instant it arrived. */
export function valueDateOf(paidAt: string | Date): string {
  return shanghaiDate(typeof paidAt === 'string' ? Date.parse(paidAt) : paidAt.getTime());
}

export interface StoredLedger {
  loan: LoanRow;
  rows: LoanTransactionRow[];
  contract: LoanContract;
  transactions: LedgerTransaction[];
}

type Reader = Pick<Db, 'select'>;

/** The loan and its transactions; `lock` takes the loan row's lock (inside a transaction). */
export async function readLedger(db: Reader, loanId: string, opts: { lock?: boolean } = {}): Promise<StoredLedger | null> {
  const query = db.select().from(loans).where(eq(loans.id, loanId));
  const [loan] = opts.lock ? await query.for('update') : await query;
  if (!loan) return null;
  const rows = await db.select().from(loanTransactions).where(eq(loanTransactions.loanId, loanId)).orderBy(asc(loanTransactions.seq));
  return { loan, rows, contract: contractOf(loan), transactions: rows.map(transactionOf) };
}

/** The money booked under a bank reference, if any (the API's quick answer to a repeat). */
export async function moneyByReference(db: Reader, loanId: string, reference: string): Promise<LoanTransactionRow | null> {
  const [row] = await db.select().from(loanTransactions).where(and(eq(loanTransactions.loanId, loanId), eq(loanTransactions.reference, reference)));
  return row ?? null;
}

/** What a loan booked today is signed with. */
export const CURRENT_SERVICING_TERMS: ServicingTerms = DEFAULT_POLICY.servicing.terms;
export { LEGACY_SERVICING_TERMS };
