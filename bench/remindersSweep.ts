/**
 * Benchmark 4: the daily reminder sweep at 100,000 instalments. Runs bench/reminders.ts (the
 * servicing engineer's benchmark) in a process of its own, so its memory figures are its own, and
 * reads the JSON line it prints: the sweep end to end on a dev server against the bare SQL that
 * reads the same rows, paged the same way (its baseline), in the same run.
 */
import { fork } from 'node:child_process';
import path from 'node:path';

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

export function benchReminders(o: RemindersOptions, log: (m: string) => void): Promise<RemindersResult> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'reminders.ts'), ['--instalments', String(o.instalments)], {
      cwd: path.resolve(__dirname, '..'),
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      for (const line of c.toString().split('\n')) if (/^(seeding|starting)/.test(line)) log(`  ${line}`);
    });
    child.on('exit', (code) => {
      const json = out
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{"bench":"reminders"'));
      if (!json) {
        reject(new Error(`bench/reminders.ts exited ${code} without figures:\n${err.slice(-2000)}`));
        return;
      }
      const r = JSON.parse(json) as Omit<RemindersResult, 'options' | 'ratio' | 'report'>;
      const report = out.slice(0, out.indexOf(json)).trim();
      if (code !== 0) log(`  bench/reminders.ts exited ${code}: ${err.split('\n').filter(Boolean).slice(-1)[0] ?? ''}`);
      resolve({ ...r, options: o, ratio: r.sweepMs / r.bareSqlPagedMs, report });
    });
  });
}
