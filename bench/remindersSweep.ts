/**
 * Benchmark 4: the daily reminder sweep at 100,000 instalments. Runs bench/reminders.ts (the
 * servicing engineer's benchmark) in a process of its own, so its memory figures are its own, and
 * reads the JSON line it prints: the sweep end to end on a dev server against the bare SQL that
 * reads the same rows, paged the same way (its baseline), in the same run.
 */
import { runAlone } from './lib/runAlone';

export interface RemindersOptions {
  instalments: number;
}

export interface RemindersResult {
  options: RemindersOptions;
  instalments: number;
  sweepMs: number;
  remindersPerSecond: number;
  sent: number;
  owed: number;
  textsRecorded: number;
  rerunMs: number;
  bareSqlPagedMs: number;
  bareSqlOneQueryMs: number;
  peakRssBytes: number;
  ratio: number;
  report: string;
}

export async function benchReminders(o: RemindersOptions, log: (m: string) => void): Promise<RemindersResult> {
  const r = await runAlone<Omit<RemindersResult, 'options' | 'ratio' | 'report'>>('reminders', ['--instalments', String(o.instalments)], /^(seeding|starting)/, log);
  return { ...r.figures, options: o, ratio: r.figures.sweepMs / r.figures.bareSqlPagedMs, report: r.report };
}
