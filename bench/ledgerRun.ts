/**
 * Benchmark 5: the servicing ledger. Runs bench/ledger.ts in a process of its own and reads the
 * JSON line it prints: one 60-month loan with 100 transactions recomputed (beside buildSchedule
 * alone) and the daily accrual over N open loans (beside the bare SQL reading the same rows).
 */
import { runAlone } from './lib/runAlone';

export interface LedgerResult {
  options: { loans: number };
  recompute: { transactions: number; termMonths: number; ledgerUs: number; baselineUs: number };
  accrual: { loans: number; transactions: number; ms: number; bareSqlMs: number; ratio: number; overdue: number };
  report: string;
}

export async function benchLedger(o: { loans: number }, log: (m: string) => void): Promise<LedgerResult> {
  const r = await runAlone<Omit<LedgerResult, 'options' | 'report'>>('ledger', ['--loans', String(o.loans)], /^seeding/, log);
  return { ...r.figures, options: o, report: r.report };
}
