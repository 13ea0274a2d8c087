/**
 * Benchmark (not a test) of the daily reminder sweep: seeds 100,000 active (unpaid) instalments
 * that all fall in the sweep's range, runs the `repaymentReminders` workflow end to end on a local
 * Temporal dev server with the SMS sandbox over HTTP, and prints reminders per second and peak
 * memory next to the baseline: the bare SQL that selects the same rows, timed in the same run (once
 * as one query, once paged the way the sweep pages; before and after the sweeps, the better time
 * counts). A second sweep the same day shows the cost of a re-run that sends nothing.
 *
 *   npx tsx bench/reminders.ts [--instalments 100000] [--page-size 1000] [--pages-per-run 25]
 *
 * PGlite in memory unless DATABASE_URL points at a PostgreSQL server (a fresh database is created
 * on it and dropped afterwards).
 */
import { performance } from 'node:perf_hooks';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { sql } from 'drizzle-orm';
import { createLoanEventActivities } from '../src/activities/loanEvents';
import { createLoanActivities } from '../src/activities/loans';
import { createProviderClients } from '../src/activities/providers';
import { createReminderActivities } from '../src/activities/reminders';
import type { DbHandle } from '../src/db/client';
import { CURRENT_SERVICING_TERMS } from '../src/db/ledger';
import { PiiCipher } from '../src/db/pii';
import { openThrowawayDb } from '../src/db/throwaway';
import { applicants, applications, installments, loans } from '../src/db/schema';
import { addDays, shanghaiDate } from '../src/domain';
import { startSandbox } from '../src/sandbox';
import { temporalCli } from '../src/temporal/binaries';
import { startTestServer } from '../src/temporal/ephemeral';
import { WORKFLOWS_PATH } from '../src/worker';
import { repaymentReminders } from '../src/workflows/repaymentReminders';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const INSTALMENTS = arg('instalments', 100_000);
const PAGE_SIZE = arg('page-size', 1_000);
const PAGES_PER_RUN = arg('pages-per-run', 25);
const PER_LOAN = 4;
const TASK_QUEUE = 'bench-reminders';
if (INSTALMENTS % PER_LOAN !== 0) throw new Error(`--instalments must be a multiple of ${PER_LOAN}`);

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Samples the process's memory while `fn` runs: the peak RSS and heap it reached. */
async function withPeakMemory<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; rssBefore: number; peakRss: number; peakHeap: number }> {
  const rssBefore = process.memoryUsage().rss;
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 20);
  const t = performance.now();
  try {
    const value = await fn();
    return { value, ms: performance.now() - t, rssBefore, peakRss, peakHeap };
  } finally {
    clearInterval(timer);
    sample();
  }
}

const openBenchDb = () => openThrowawayDb('bench', 10);

/**
 * INSTALMENTS unpaid instalments, PER_LOAN per loan, 30 days apart and ending on the sweep day or
 * three days after it: each loan owes an upcoming or due-today text, an M1 and an M2 text, and has
 * one instalment in M3 (a call-centre action, no text). So 3 in 4 rows read are texted.
 */
async function seed(h: DbHandle, cipher: PiiCipher, asOfDate: string): Promise<{ owed: number; ms: number }> {
  const t = performance.now();
  const loanCount = INSTALMENTS / PER_LOAN;
  const CHUNK = 1_000;
  for (let from = 0; from < loanCount; from += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, loanCount - from) }, (_, k) => from + k);
    await h.db.insert(applicants).values(
      ids.map((i) => {
        const phone = `139${String(i).padStart(8, '0')}`;
        return {
          id: `bench-applicant-${i}`,
          nameEnc: cipher.encrypt('张三'),
          idNumberEnc: cipher.encrypt('11010519491231002X'),
          phoneEnc: cipher.encrypt(phone),
          idNumberHash: cipher.lookupHash('id', `bench-${i}`),
          phoneHash: cipher.lookupHash('phone', phone),
          monthlyIncomeFen: 2_000_000,
        };
      }),
    );
    await h.db.insert(applications).values(
      ids.map((i) => ({
        id: `bench-app-${i}`,
        workflowId: `loan-application-bench-app-${i}`,
        applicantId: `bench-applicant-${i}`,
        channel: 'branch',
        branchId: 'BJ-001',
        submittedBy: 'bench',
        amountFen: 4_000_000,
        termMonths: 12,
        repaymentMethod: 'equal_installment',
        stage: 'servicing',
      })),
    );
    const lastDue = (i: number) => addDays(asOfDate, i % 2 === 0 ? 3 : 0);
    await h.db.insert(loans).values(
      ids.map((i) => ({
        id: `L-bench-app-${i}`,
        applicationId: `bench-app-${i}`,
        applicantId: `bench-applicant-${i}`,
        principalFen: 4_000_000,
        annualRateBps: 650,
        aprBps: 670,
        termMonths: 12,
        repaymentMethod: 'equal_installment',
        disbursedAt: new Date(),
        disbursementDate: addDays(lastDue(i), -30 * PER_LOAN),
        transferId: `tr-bench-${i}`,
        servicingTerms: CURRENT_SERVICING_TERMS,
      })),
    );
    const rows = ids.flatMap((i) =>
      Array.from({ length: PER_LOAN }, (_, k) => {
        const seq = k + 1;
        const dueDate = addDays(lastDue(i), -30 * (PER_LOAN - seq));
        return {
          loanId: `L-bench-app-${i}`,
          seq,
          periodStartDate: addDays(dueDate, -30),
          dueDate,
          principalFen: 333_333,
          interestFen: 21_667,
          totalFen: 355_000,
          openingBalanceFen: 4_000_000 - 333_333 * k,
          closingBalanceFen: 4_000_000 - 333_333 * seq,
          status: dueDate < asOfDate ? 'overdue' : 'due',
        };
      }),
    );
    await h.db.insert(installments).values(rows);
  }
  await h.db.execute(sql`analyze`);
  return { owed: loanCount * (PER_LOAN - 1), ms: performance.now() - t };
}

const rowsOf = (r: unknown): unknown[] => (Array.isArray(r) ? r : ((r as { rows?: unknown[] }).rows ?? []));

/** The same rows the sweep reads, by bare SQL: one query, then paged by the same keyset. */
async function bareSql(h: DbHandle, asOfDate: string) {
  const horizon = addDays(asOfDate, 3);
  const t1 = performance.now();
  const all = rowsOf(
    await h.db.execute(sql`
      select loan_id, seq, due_date, total_fen, paid_fen from installments
       where status <> 'paid' and due_date <= ${horizon}::date
       order by due_date, loan_id, seq`),
  );
  const oneQueryMs = performance.now() - t1;

  const t2 = performance.now();
  let paged = 0;
  let after: { due_date: string; loan_id: string; seq: number } | null = null;
  for (;;) {
    const page = rowsOf(
      await h.db.execute(sql`
        select loan_id, seq, due_date::text as due_date, total_fen, paid_fen from installments
         where status <> 'paid' and due_date <= ${horizon}::date
           ${after ? sql`and (due_date, loan_id, seq) > (${after.due_date}::date, ${after.loan_id}::text, ${after.seq}::int)` : sql``}
         order by due_date, loan_id, seq limit ${PAGE_SIZE}`),
    ) as { due_date: string; loan_id: string; seq: number }[];
    paged += page.length;
    if (page.length < PAGE_SIZE) break;
    after = page[page.length - 1]!;
  }
  const pagedMs = performance.now() - t2;
  const plan = rowsOf(
    await h.db.execute(sql`
      explain select loan_id, seq from installments
       where status <> 'paid' and due_date <= ${horizon}::date and (due_date, loan_id, seq) > ('2000-01-01'::date, '', 0)
       order by due_date, loan_id, seq limit ${PAGE_SIZE}`),
  )
    .map((r) => Object.values(r as Record<string, string>)[0])
    .join(' | ');
  return { rows: all.length, oneQueryMs, paged, pagedMs, plan };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const asOfDate = shanghaiDate(Date.now());
  const cipher = new PiiCipher({ currentKeyId: 'b1', keys: { b1: Buffer.alloc(32, 9) }, hashKey: Buffer.alloc(32, 10) });
  process.stderr.write(`starting ${process.env.DATABASE_URL ? 'on the PostgreSQL server' : 'PGlite'}, the dev server and the SMS sandbox…\n`);
  const [h, env, sandbox, bundle] = await Promise.all([
    openBenchDb(),
    startTestServer(() => TestWorkflowEnvironment.createLocal({ server: { executable: temporalCli(), ip: '127.0.0.1', log: { format: 'pretty', level: 'error' } } })),
    startSandbox({ port: 0 }),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never }),
  ]);
  try {
    process.stderr.write(`seeding ${INSTALMENTS.toLocaleString('en')} unpaid instalments…\n`);
    const seeded = await seed(h, cipher, asOfDate);
    const before = await bareSql(h, asOfDate);

    const providers = createProviderClients(sandbox.providers);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowBundle: bundle,
      activities: {
        ...createLoanEventActivities(h.db),
        ...createLoanActivities({ db: h.db, cipher, callCentre: providers.callCentre }),
        ...createReminderActivities({ db: h.db, cipher, sms: providers.sms }),
      },
    });
    const sweep = (suffix: string) =>
      withPeakMemory(() =>
        env.client.workflow.execute(repaymentReminders, {
          taskQueue: TASK_QUEUE,
          workflowId: `bench-reminders-${asOfDate}-${suffix}`,
          args: [{ asOfDate, pageSize: PAGE_SIZE, pagesPerRun: PAGES_PER_RUN }],
        }),
      );
    const [first, second] = await worker.runUntil(async () => [await sweep('first'), await sweep('again')]);
    const texted = (await fetch(`${sandbox.url}/sms/v1/messages`).then((r) => r.json())) as { count: number };
    // Timed before and after the sweeps (cold and warm cache, and a shared machine): the better of the two.
    const after = await bareSql(h, asOfDate);
    const baseline = {
      ...before,
      oneQueryMs: Math.min(before.oneQueryMs, after.oneQueryMs),
      pagedMs: Math.min(before.pagedMs, after.pagedMs),
    };

    const f = first.value;
    const lines = [
      '',
      `repaymentReminders, ${INSTALMENTS.toLocaleString('en')} unpaid instalments (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}), page ${PAGE_SIZE}, ${PAGES_PER_RUN} page(s) per run, day ${asOfDate}`,
      `  seeding                          ${secs(seeded.ms)}`,
      `  baseline: bare SQL, one query    ${secs(baseline.oneQueryMs)}   ${baseline.rows.toLocaleString('en')} rows   ${Math.round(baseline.rows / (baseline.oneQueryMs / 1000)).toLocaleString('en')} rows/s`,
      `  baseline: bare SQL, keyset pages ${secs(baseline.pagedMs)}   ${baseline.paged.toLocaleString('en')} rows   ${Math.round(baseline.paged / (baseline.pagedMs / 1000)).toLocaleString('en')} rows/s`,
      `  sweep (first run of the day)     ${secs(first.ms)}   ${f.scanned.toLocaleString('en')} rows   ${f.sent.toLocaleString('en')} texts   ${Math.round(f.sent / (first.ms / 1000)).toLocaleString('en')} reminders/s   ${f.runs} runs (continue-as-new)`,
      `  sweep (same day again)           ${secs(second.ms)}   ${second.value.scanned.toLocaleString('en')} rows   ${second.value.sent} texts   ${second.value.alreadySent.toLocaleString('en')} already sent`,
      `  sweep / bare SQL (paged)         ${(first.ms / baseline.pagedMs).toFixed(1)}×`,
      `  peak memory during the sweep     RSS ${mb(first.peakRss)} (${mb(first.rssBefore)} before it), heap ${mb(first.peakHeap)}; one process: worker, ${process.env.DATABASE_URL ? 'database client' : 'PGlite'}, SMS sandbox`,
      `  texts recorded by the gateway    ${texted.count.toLocaleString('en')} (owed ${seeded.owed.toLocaleString('en')})`,
      `  index plan                       ${baseline.plan}`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    process.stdout.write(
      `${JSON.stringify({
        bench: 'reminders',
        instalments: INSTALMENTS,
        pageSize: PAGE_SIZE,
        bareSqlOneQueryMs: Math.round(baseline.oneQueryMs),
        bareSqlPagedMs: Math.round(baseline.pagedMs),
        sweepMs: Math.round(first.ms),
        remindersPerSecond: Math.round(f.sent / (first.ms / 1000)),
        rerunMs: Math.round(second.ms),
        rssBeforeBytes: first.rssBefore,
        peakRssBytes: first.peakRss,
        peakHeapBytes: first.peakHeap,
        sent: f.sent,
        owed: seeded.owed,
        textsRecorded: texted.count,
      })}\n`,
    );
    if (f.sent !== seeded.owed || texted.count !== seeded.owed || second.value.sent !== 0) {
      process.stderr.write('MISMATCH: the sweep did not send every owed reminder exactly once\n');
      process.exitCode = 1;
    }
  } finally {
    await env.teardown();
    await sandbox.close();
    await h.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
