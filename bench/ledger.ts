/**
 * Benchmarks (not tests) of the servicing ledger, each beside a baseline timed in the same run:
 *
 *   1. Recomputation of one loan: a 60-month loan with 100 transactions (repayments on time, late,
 *      partial, two prepayments, a reversal, a waiver, a refund) replayed from scratch by
 *      computeLedger. Baseline: building the same loan's schedule alone (buildSchedule), the least
 *      any recomputation must do.
 *   2. The daily accrual over N open loans (default 100,000): every loan's contract and
 *      transactions read from the database in keyset pages and its position computed as of today
 *      (penalties accrued, overdue, credit), as the servicing workflows and the loan book do.
 *      Baseline: the bare SQL reading the same rows, paged the same way.
 *
 *   npx tsx bench/ledger.ts [--loans 100000] [--months 24] [--page 1000] [--iterations 2000]
 *
 * PGlite in memory unless DATABASE_URL points at a PostgreSQL server (a fresh database is created
 * and dropped). Prints a table and one JSON line ({"bench":"ledger",…}).
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import type { DbHandle } from '../src/db/client';
import { openThrowawayDb } from '../src/db/throwaway';
import { contractOf, CURRENT_SERVICING_TERMS, transactionOf, type LoanRow, type LoanTransactionRow } from '../src/db/ledger';
import { addDays, addMonths, buildSchedule, computeLedger, type LedgerTransaction, type LoanContract, shanghaiDate, DEFAULT_POLICY } from '../src/domain';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const LOANS = arg('loans', 100_000);
/** Loans are 1 to this many months old, one repayment a month (about half as many transactions on average). */
const MONTHS = arg('months', 24);
const PAGE = arg('page', 1_000);
const ITERATIONS = arg('iterations', 2_000);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;

// ---- 1. one loan ---------------------------------------------------------------------------------

function sixtyMonthLoan(): { contract: LoanContract; txns: LedgerTransaction[] } {
  const contract: LoanContract = {
    principalFen: 25_000_000,
    annualRateBps: 650,
    termMonths: 60,
    method: 'equal_installment',
    disbursementDate: '2026-01-31',
    terms: DEFAULT_POLICY.servicing.terms,
  };
  const schedule = buildSchedule(contract);
  const txns: LedgerTransaction[] = [];
  let n = 0;
  const id = () => `t${++n}`;
  for (const row of schedule) {
    if (txns.length >= 92) break;
    if (row.seq % 9 === 0) {
      // Late, in two parts, beyond the grace days.
      txns.push({ kind: 'repayment', id: id(), valueDate: addDays(row.dueDate, 12), amountFen: Math.floor(row.totalFen / 2) });
      txns.push({ kind: 'repayment', id: id(), valueDate: addDays(row.dueDate, 20), amountFen: Math.ceil(row.totalFen / 2) + 500 });
    } else {
      txns.push({ kind: 'repayment', id: id(), valueDate: addDays(row.dueDate, -1), amountFen: row.totalFen });
    }
  }
  txns.push({ kind: 'prepayment', id: id(), valueDate: addMonths('2026-01-31', 14), amountFen: 2_000_000, mode: 'reduce_installment' });
  txns.push({ kind: 'prepayment', id: id(), valueDate: addMonths('2026-01-31', 30), amountFen: 1_500_000, mode: 'reduce_term' });
  txns.push({ kind: 'reversal', id: id(), valueDate: addMonths('2026-01-31', 20), targetId: 't5' });
  txns.push({ kind: 'waiver', id: id(), valueDate: addMonths('2026-01-31', 22), component: 'penalty', amountFen: 1_000 });
  txns.push({ kind: 'refund', id: id(), valueDate: addMonths('2026-01-31', 40), amountFen: 500 });
  // Booked in a different order than their dates: a few backdated entries at the end.
  while (txns.length < 100) txns.push({ kind: 'repayment', id: id(), valueDate: addMonths('2026-01-31', txns.length - 80), amountFen: 10_000 });
  return { contract, txns };
}

function timeIt(fn: () => void, iterations: number): number {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(); // warm up the JIT
  const t = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return (performance.now() - t) / iterations;
}

// ---- 2. the daily accrual ------------------------------------------------------------------------

const openBenchDb = () => openThrowawayDb('bench_ledger', 4);

/**
 * LOANS open 36-month loans drawn 1 to MONTHS months (and 5 days) ago, each with a repayment of
 * its instalment on every due date so far; one loan in seven stopped paying two instalments ago
 * (overdue, accruing penalty). Written with generate_series: the seeding is not what is measured.
 */
async function seed(h: DbHandle, today: string): Promise<number> {
  const t = performance.now();
  const terms = JSON.stringify(CURRENT_SERVICING_TERMS);
  await h.db.execute(sql`
    insert into applicants (id, name_enc, id_number_enc, phone_enc, id_number_hash, phone_hash, monthly_income_fen)
    select 'bl-' || i, 'x', 'x', 'x', 'h' || i, 'p' || i, 2000000 from generate_series(1, ${LOANS}) i`);
  await h.db.execute(sql`
    insert into applications (id, workflow_id, applicant_id, channel, branch_id, submitted_by, amount_fen, term_months, repayment_method, stage)
    select 'ba-' || i, 'loan-application-ba-' || i, 'bl-' || i, 'branch', 'BJ-' || (i % 20), 'bench', 15000000, 36, 'equal_installment', 'servicing'
      from generate_series(1, ${LOANS}) i`);
  await h.db.execute(sql`
    insert into loans (id, application_id, applicant_id, branch_id, principal_fen, annual_rate_bps, apr_bps, term_months, repayment_method, disbursed_at, disbursement_date, transfer_id, servicing_terms)
    select 'L-ba-' || lpad(i::text, 7, '0'), 'ba-' || i, 'bl-' || i, 'BJ-' || (i % 20), 15000000, 650, 670, 36, 'equal_installment', now(),
           (${today}::date - make_interval(months => 1 + i % ${MONTHS}) - interval '5 days')::date, 'tr-' || i, ${terms}::jsonb
      from generate_series(1, ${LOANS}) i`);
  // The instalment of 150,000 CNY over 36 months at 6.5% is 4,597.35 CNY.
  await h.db.execute(sql`
    insert into loan_transactions (loan_id, txn_id, kind, reference, amount_fen, value_date, actor)
    select l.id, 'ref:b' || i || '-' || k, 'repayment', 'b' || i || '-' || k, 459735, (l.disbursement_date + make_interval(months => k))::date, 'bench'
      from generate_series(1, ${LOANS}) i
      join loans l on l.id = 'L-ba-' || lpad(i::text, 7, '0'),
           generate_series(1, ${MONTHS}) k
     where k <= (1 + i % ${MONTHS}) - case when i % 7 = 0 then 2 else 0 end`);
  return performance.now() - t;
}

type Page = { loans: LoanRow[]; txns: LoanTransactionRow[] };

/** One keyset page of loans and their transactions: the rows both passes read. */
async function page(h: DbHandle, after: string): Promise<Page> {
  const loans = (await h.db.execute(sql`select * from loans where status = 'active' and id > ${after} order by id limit ${PAGE}`)) as unknown;
  const rows = rowsOf(loans) as Record<string, unknown>[];
  if (rows.length === 0) return { loans: [], txns: [] };
  const last = rows[rows.length - 1]!.id as string;
  const txns = rowsOf(
    await h.db.execute(sql`select * from loan_transactions where loan_id > ${after} and loan_id <= ${last} order by loan_id, seq`),
  ) as Record<string, unknown>[];
  return { loans: rows.map(toLoan), txns: txns.map(toTxn) };
}

function rowsOf(r: unknown): unknown[] {
  return Array.isArray(r) ? r : ((r as { rows?: unknown[] }).rows ?? []);
}
const date = (v: unknown) => (v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));
function toLoan(r: Record<string, unknown>): LoanRow {
  return {
    id: r.id,
    applicationId: r.application_id,
    principalFen: Number(r.principal_fen),
    annualRateBps: Number(r.annual_rate_bps),
    termMonths: Number(r.term_months),
    repaymentMethod: r.repayment_method,
    disbursementDate: date(r.disbursement_date),
    servicingTerms: typeof r.servicing_terms === 'string' ? JSON.parse(r.servicing_terms) : r.servicing_terms,
  } as LoanRow;
}
function toTxn(r: Record<string, unknown>): LoanTransactionRow {
  return {
    loanId: r.loan_id,
    txnId: r.txn_id,
    kind: r.kind,
    amountFen: r.amount_fen === null ? null : Number(r.amount_fen),
    valueDate: date(r.value_date),
    mode: r.mode,
    component: r.component,
    targetTxnId: r.target_txn_id,
  } as LoanTransactionRow;
}

async function pass(h: DbHandle, today: string, accrue: boolean) {
  const t = performance.now();
  let loans = 0;
  let txns = 0;
  let overdue = 0;
  let penaltyFen = 0;
  let after = '';
  for (;;) {
    const p = await page(h, after);
    if (p.loans.length === 0) break;
    loans += p.loans.length;
    txns += p.txns.length;
    if (accrue) {
      let j = 0;
      for (const loan of p.loans) {
        const mine: LedgerTransaction[] = [];
        while (j < p.txns.length && (p.txns[j] as LoanTransactionRow).loanId === loan.id) mine.push(transactionOf(p.txns[j++] as LoanTransactionRow));
        const pos = computeLedger(contractOf(loan), mine, today);
        if (pos.delinquency) overdue++;
        penaltyFen += pos.totals.due.penaltyFen;
      }
    }
    after = (p.loans[p.loans.length - 1] as LoanRow).id;
  }
  return { ms: performance.now() - t, loans, txns, overdue, penaltyFen };
}

async function main(): Promise<void> {
  const { contract, txns } = sixtyMonthLoan();
  const schedule = () => void buildSchedule(contract);
  const recompute = () => void computeLedger(contract, txns, '2031-03-01');
  // Interleaved rounds on a shared machine: the better round of each counts.
  const rounds = [0, 1, 2].map(() => ({ baseline: timeIt(schedule, ITERATIONS), ledger: timeIt(recompute, ITERATIONS) }));
  const baselineMs = Math.min(...rounds.map((r) => r.baseline));
  const ledgerMs = Math.min(...rounds.map((r) => r.ledger));
  const check = computeLedger(contract, txns, '2031-03-01');

  const today = shanghaiDate(Date.now());
  process.stderr.write(`seeding ${LOANS.toLocaleString('en')} open loans on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}…\n`);
  const h = await openBenchDb();
  try {
    const seedMs = await seed(h, addMonths(today, 0));
    const bare1 = await pass(h, today, false);
    const accrual = await pass(h, today, true);
    const bare2 = await pass(h, today, false);
    const bare = bare1.ms <= bare2.ms ? bare1 : bare2;
    const lines = [
      '',
      `Servicing ledger (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}; ${new Date().toISOString()})`,
      `  1. one 60-month loan, 100 transactions, recomputed from scratch`,
      `     baseline: buildSchedule alone           ${us(baselineMs)}`,
      `     computeLedger                           ${us(ledgerMs)}   (${(ledgerMs / baselineMs).toFixed(1)}× the baseline; ${check.versions.length} schedule versions, ${check.allocations.length} allocations)`,
      `  2. daily accrual, ${accrual.loans.toLocaleString('en')} open loans, ${accrual.txns.toLocaleString('en')} transactions, pages of ${PAGE}`,
      `     seeding (not measured)                  ${secs(seedMs)}`,
      `     baseline: bare SQL, the same rows       ${secs(bare.ms)}   (better of two passes: ${secs(bare1.ms)}, ${secs(bare2.ms)})`,
      `     read + ledger of every loan             ${secs(accrual.ms)}   ${Math.round(accrual.loans / (accrual.ms / 1000)).toLocaleString('en')} loans/s   (${(accrual.ms / bare.ms).toFixed(1)}× the bare SQL)`,
      `     ledger work alone                       ${secs(accrual.ms - bare.ms)}   ${us((accrual.ms - bare.ms) / accrual.loans)} a loan`,
      `     loans overdue, penalty owed             ${accrual.overdue.toLocaleString('en')}, ${(accrual.penaltyFen / 100).toLocaleString('en')} CNY`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    process.stdout.write(
      `${JSON.stringify({
        bench: 'ledger',
        recompute: { transactions: txns.length, termMonths: 60, ledgerUs: Math.round(ledgerMs * 1000), baselineUs: Math.round(baselineMs * 1000) },
        accrual: { loans: accrual.loans, transactions: accrual.txns, ms: Math.round(accrual.ms), bareSqlMs: Math.round(bare.ms), ratio: accrual.ms / bare.ms, overdue: accrual.overdue },
      })}\n`,
    );
  } finally {
    await h.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
