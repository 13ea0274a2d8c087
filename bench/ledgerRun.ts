/**
 * Benchmark 5: the servicing ledger. Runs bench/ledger.ts in a process of its own and reads the
 * JSON line it prints: one 60-month loan with 100 transactions recomputed (beside buildSchedule
 * alone) and the daily accrual over N open loans (beside the bare SQL reading the same rows).
 */
import { fork } from 'node:child_process';
import path from 'node:path';

export interface LedgerResult {
  options: { loans: number };
  recompute: { transactions: number; termMonths: number; ledgerUs: number; baselineUs: number };
  accrual: { loans: number; transactions: number; ms: number; bareSqlMs: number; ratio: number; overdue: number };
  report: string;
}

export function benchLedger(o: { loans: number }, log: (m: string) => void): Promise<LedgerResult> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'ledger.ts'), ['--loans', String(o.loans)], {
      cwd: path.resolve(__dirname, '..'),
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      for (const line of c.toString().split('\n')) if (line.startsWith('seeding')) log(`  ${line}`);
    });
    child.on('exit', (code) => {
      const json = out
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{"bench":"ledger"'));
      if (!json) {
        reject(new Error(`bench/ledger.ts exited ${code} without figures:\n${err.slice(-2000)}`));
        return;
      }
      const r = JSON.parse(json) as Omit<LedgerResult, 'options' | 'report'>;
      resolve({ ...r, options: o, report: out.slice(0, out.indexOf(json)).trim() });
    });
  });
}
