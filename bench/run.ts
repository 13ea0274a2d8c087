/**
 * `npm run bench`: the four benchmarks of issue 9, each next to a baseline run on the same machine
 * in the same run, and the ratio. Benchmarks, not tests: `npm test` never runs them.
 *
 *   npm run bench                         all four at full size (about 90 minutes on 2 cores: 10,000 open applications)
 *   npm run bench -- --quick              all four scaled down: a smoke run of the harness (minutes)
 *   npm run bench -- --only e2e,latency   some of them: e2e | latency | open | reminders | ledger (or 1-5)
 *
 * Sizes: --e2e-clients N --e2e-warmup S --e2e-seconds S --e2e-rounds N --poll-ms MS
 *        --latency-clients N --latency-requests N --latency-rounds N --latency-think-ms MS
 *        --open N --open-create-clients N --open-approvers N --open-seed-minutes M
 *        --instalments N   --ledger-loans N (benchmark 5, the servicing ledger: bench/ledger.ts)
 * Worker tuning (the real worker and the bench worker alike): --max-cached-workflows N --wft-slots N
 *        --activity-slots N; --worker-env K=V,… sets the real worker's environment (MALLOC_ARENA_MAX=2).
 *        --profile writes CPU profiles of the real API and worker processes (node --cpu-prof); summarise
 *        one with `npx tsx bench/profileSummary.ts <file>`.  --json FILE writes every figure as JSON.
 *
 * PostgreSQL when DATABASE_URL is set (a fresh database per benchmark, dropped afterwards), PGlite
 * in memory otherwise. Everything listens on 127.0.0.1 and is stopped at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import postgres from 'postgres';
import { TEMPORAL_CLI_WHEEL } from '../src/temporal/binaries';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../src/worker';
import { benchEndToEnd, type E2eResult } from './e2e';
import { benchLatency, type LatencyResult } from './latency';
import { RUN_DIR, stopAllStacks } from './lib/stack';
import { fmtMb, fmtMs, fmtRatio } from './lib/stats';
import { benchOpenApplications, type OpenResult } from './openApplications';
import { benchReminders, type RemindersResult } from './remindersSweep';
import { benchLedger, type LedgerResult } from './ledgerRun';

const argv = process.argv.slice(2);
const has = (flag: string) => argv.includes(`--${flag}`);
function num(flag: string, fallback: number): number {
  const i = argv.indexOf(`--${flag}`);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${flag} needs a positive number`);
  return v;
}
function str(flag: string): string | undefined {
  const i = argv.indexOf(`--${flag}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

const ALIASES: Record<string, Bench> = { '1': 'e2e', '2': 'latency', '3': 'open', '4': 'reminders', '5': 'ledger' };
type Bench = 'e2e' | 'latency' | 'open' | 'reminders' | 'ledger';
const ALL: Bench[] = ['e2e', 'latency', 'open', 'reminders', 'ledger'];

const quick = has('quick');
const only = str('only');
const selected: Bench[] = only
  ? only.split(',').map((b) => {
      const name = (ALIASES[b] ?? b) as Bench;
      if (!ALL.includes(name)) throw new Error(`--only: unknown benchmark ${b} (e2e, latency, open, reminders, ledger)`);
      return name;
    })
  : ALL;

const tuning = {
  ...(has('max-cached-workflows') ? { maxCachedWorkflows: num('max-cached-workflows', 0) } : {}),
  ...(has('wft-slots') ? { maxConcurrentWorkflowTaskExecutions: num('wft-slots', 0) } : {}),
  ...(has('activity-slots') ? { maxConcurrentActivityTaskExecutions: num('activity-slots', 0) } : {}),
};
const profileDir = path.join(RUN_DIR, 'profiles');
const systemExecArgv = has('profile') ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined;
// --worker-env K=V[,K=V]: environment of the real worker's process (e.g. MALLOC_ARENA_MAX=2).
const workerEnv = str('worker-env') ? Object.fromEntries(str('worker-env')!.split(',').map((kv) => kv.split('=') as [string, string])) : undefined;
const common = { ...(Object.keys(tuning).length ? { tuning } : {}), ...(systemExecArgv ? { systemExecArgv } : {}), ...(workerEnv ? { workerEnv } : {}) };

const log = (m: string) => process.stderr.write(`${m}\n`);

async function machine(): Promise<Record<string, string>> {
  const pglite = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
  let db = `PGlite ${pglite.version} (in memory, in the API/worker process)`;
  if (process.env.DATABASE_URL) {
    const sql = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => undefined });
    try {
      const [row] = await sql<{ server_version: string }[]>`show server_version`;
      db = `PostgreSQL ${row?.server_version} (DATABASE_URL, 127.0.0.1)`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  return {
    cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    database: db,
    temporal: `temporal CLI ${TEMPORAL_CLI_WHEEL.version} dev server (in memory)`,
  };
}

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

interface Results {
  machine: Record<string, string>;
  loadAverage: { start: string; end?: string };
  quick: boolean;
  tuning: typeof tuning;
  e2e?: E2eResult;
  latency?: LatencyResult;
  open?: OpenResult;
  reminders?: RemindersResult;
  ledger?: LedgerResult;
  minutes?: number;
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
}

function summary(r: Results): string {
  const w = [44, 22, 30, 8, 12];
  const lines: string[] = [];
  const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
  lines.push(row(['', 'system', 'baseline (same run)', 'ratio', 'target'], w));
  if (r.e2e) {
    const e = r.e2e;
    lines.push(
      row(
        [`1 applications completed/s, ${e.options.concurrency} clients`, `${e.realPerSecond.toFixed(2)}/s`, `${e.baselinePerSecond.toFixed(2)}/s no-op shape`, e.ratio.toFixed(2), `≥ 0.80 ${mark(e.ratio >= 0.8)}`],
        w,
      ),
    );
    lines.push(
      row(['', '', `${e.referencePerSecond.toFixed(2)}/s no-op ${e.referenceRelease} shape`, e.referenceRatio.toFixed(2), `≥ 1.30 ${mark(e.referenceRatio >= 1.3)}`], w),
    );
    const p50 = (xs: { latencyP50Ms: number }[]) => xs.map((x) => fmtMs(x.latencyP50Ms)).join(' / ');
    lines.push(row(['  one application end to end, p50', p50(e.real), p50(e.baseline), '', ''], w));
  }
  if (r.latency) {
    const l = r.latency;
    lines.push(row([`2 POST /applications p50, ${l.options.concurrency} clients`, fmtMs(l.api.p50Ms), `${fmtMs(l.bare.p50Ms)} bare endpoint`, l.p50Ratio.toFixed(2), ''], w));
    lines.push(row(['  p99', fmtMs(l.api.p99Ms), fmtMs(l.bare.p99Ms), l.p99Ratio.toFixed(2), `≤ 1.30 ${mark(l.p99Ratio <= 1.3)}`], w));
    lines.push(row(['  requests/s (saturated: no pause)', l.api.perSecond.toFixed(0), l.bare.perSecond.toFixed(0), (l.api.perSecond / l.bare.perSecond).toFixed(2), ''], w));
    if (l.paced) {
      const p = l.paced;
      lines.push(row([`  paced (~${l.options.thinkMs} ms between requests) p50`, fmtMs(p.api.p50Ms), fmtMs(p.bare.p50Ms), p.p50Ratio.toFixed(2), ''], w));
      lines.push(row(['  paced p99', fmtMs(p.api.p99Ms), fmtMs(p.bare.p99Ms), p.p99Ratio.toFixed(2), `≤ 1.30 ${mark(p.p99Ratio <= 1.3)}`], w));
    }
  }
  if (r.open) {
    const o = r.open;
    const n = o.seeded.toLocaleString('en');
    lines.push(
      row(
        [`3 ${o.process} RSS, ${n} waiting for approval`, fmtMb(o.workerRssWaitingBytes), `${fmtMb(o.baseline.rssWaitingBytes)} bench worker`, o.rssRatio.toFixed(2), `< 1 GiB ${mark(o.workerRssWaitingBytes < 2 ** 30)}`],
        w,
      ),
    );
    lines.push(row(['  peak RSS while approving', fmtMb(o.workerRssPeakBytes), fmtMb(o.baseline.rssPeakBytes), (o.workerRssPeakBytes / o.baseline.rssPeakBytes).toFixed(2), `< 1 GiB ${mark(o.workerRssPeakBytes < 2 ** 30)}`], w));
    lines.push(row(['  all moved on after approval', fmtMs(o.movedOnMs), fmtMs(o.baseline.movedOnMs), o.movedOnRatio.toFixed(2), `≤ 1.20 ${mark(o.movedOnRatio <= 1.2)}`], w));
    lines.push(row(['  seeding (reported apart)', `${fmtMs(o.seedMs)}, ${(o.seeded / (o.seedMs / 1000)).toFixed(1)}/s`, `${fmtMs(o.baseline.seedMs)} (starts only)`, '', ''], w));
  }
  if (r.reminders) {
    const m = r.reminders;
    lines.push(
      row([`4 reminder sweep, ${m.instalments.toLocaleString('en')} instalments`, `${fmtMs(m.sweepMs)}, ${m.remindersPerSecond.toLocaleString('en')}/s`, `${fmtMs(m.bareSqlPagedMs)} bare SQL, paged`, fmtRatio(m.ratio), `≤ 3 ${mark(m.ratio <= 3)}`], w),
    );
    lines.push(row(['  texts sent / owed; peak RSS', `${m.sent.toLocaleString('en')} / ${m.owed.toLocaleString('en')}`, fmtMb(m.peakRssBytes), '', `< 700 MiB ${mark(m.peakRssBytes < 700 * 2 ** 20)}`], w));
  }
  if (r.ledger) {
    const g = r.ledger;
    lines.push(row(['5 ledger: one 60-month loan, 100 transactions', `${g.recompute.ledgerUs} µs`, `${g.recompute.baselineUs} µs buildSchedule alone`, (g.recompute.ledgerUs / g.recompute.baselineUs).toFixed(1), ''], w));
    lines.push(row([`  daily accrual, ${g.accrual.loans.toLocaleString('en')} open loans`, fmtMs(g.accrual.ms), `${fmtMs(g.accrual.bareSqlMs)} bare SQL, same rows`, g.accrual.ratio.toFixed(2), ''], w));
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const started = Date.now();
  const results: Results = { machine: await machine(), loadAverage: { start: load() }, quick, tuning };
  log(`bench: ${selected.join(', ')}${quick ? ' (quick)' : ''}; ${Object.entries(results.machine).map(([k, v]) => `${k} ${v}`).join('; ')}; load average ${results.loadAverage.start}`);
  log(`logs of the processes under test: ${RUN_DIR}`);

  for (const b of selected) {
    const t = Date.now();
    if (b === 'e2e') {
      log(`\n1. end-to-end applications per second`);
      results.e2e = await benchEndToEnd(
        {
          concurrency: num('e2e-clients', quick ? 4 : 32),
          warmupMs: num('e2e-warmup', quick ? 5 : 20) * 1000,
          durationMs: num('e2e-seconds', quick ? 15 : 30) * 1000,
          rounds: num('e2e-rounds', quick ? 1 : 2),
          pollMs: num('poll-ms', 500),
          ...common,
        },
        log,
      );
    } else if (b === 'latency') {
      log(`\n2. POST /applications latency`);
      results.latency = await benchLatency(
        {
          concurrency: num('latency-clients', 50),
          thinkMs: has('latency-think-ms') ? num('latency-think-ms', 1) : quick ? 0 : 1000,
          requests: num('latency-requests', quick ? 300 : 2000),
          warmup: quick ? 50 : 200,
          rounds: num('latency-rounds', quick ? 1 : 4),
          ...(systemExecArgv ? { systemExecArgv } : {}),
        },
        log,
      );
    } else if (b === 'open') {
      log(`\n3. open applications waiting for approval`);
      results.open = await benchOpenApplications(
        {
          applications: num('open', quick ? 50 : 10_000),
          createConcurrency: num('open-create-clients', 32),
          actConcurrency: num('open-approvers', 50),
          seedTimeoutMs: num('open-seed-minutes', quick ? 5 : 240) * 60_000,
          ...common,
        },
        log,
      );
    } else if (b === 'ledger') {
      log(`\n5. servicing ledger`);
      results.ledger = await benchLedger({ loans: num('ledger-loans', quick ? 5_000 : 100_000) }, log);
      log(results.ledger.report.split('\n').map((l) => `  ${l}`).join('\n'));
    } else {
      log(`\n4. reminder sweep`);
      results.reminders = await benchReminders({ instalments: num('instalments', quick ? 10_000 : 100_000) }, log);
      log(results.reminders.report.split('\n').map((l) => `  ${l}`).join('\n'));
    }
    log(`   (${((Date.now() - t) / 60_000).toFixed(1)} min)`);
  }

  results.loadAverage.end = load();
  results.minutes = (Date.now() - started) / 60_000;
  const out = [
    '',
    `Figures (${quick ? 'quick run, scaled down: checks the harness, not the system' : 'full run'}), ${results.minutes.toFixed(1)} min, load average ${results.loadAverage.start} → ${results.loadAverage.end}`,
    Object.entries(results.machine)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n'),
    `  worker tuning: ${Object.keys(tuning).length ? JSON.stringify(tuning) : `the project's defaults (maxCachedWorkflows ${DEFAULT_MAX_CACHED_WORKFLOWS}, SDK defaults otherwise)`}`,
    '',
    summary(results),
    '',
  ].join('\n');
  process.stdout.write(out);
  const json = str('json');
  if (json) fs.writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  if (systemExecArgv) log(`CPU profiles of the API and worker processes: ${profileDir}`);
}

/** Whatever happens, every server this run started is stopped before it exits. */
function fail(err: unknown): void {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  void stopAllStacks().finally(() => process.exit(1));
}
process.on('unhandledRejection', fail);
process.on('uncaughtException', fail);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping every server of this run…\n`);
    void stopAllStacks().finally(() => process.exit(130));
  });
}

main().then(() => process.exit(0), fail);
