/**
 * Benchmark 3: N open applications waiting for approval. Seeds N real applications through the
 * whole pipeline up to the approvers' queue, then reads the worker's resident memory with all of
 * them waiting, then approves every one through the API (`actConcurrency` approvers at once) and
 * times how long until every application has moved on (its row says it waits for the signature:
 * valuation, credit, the offer, the e-signature envelope and the text all done).
 *
 * Seeding, the honest fast path: officers POST /applications (documents included) from
 * `createConcurrency` clients at once while verifiers work the phone-verification queue
 * (GET /applications?pendingTask=phone_verification) through the API; the sandbox answers at zero
 * latency. Every application runs the real workflow, activities and database writes; nothing is
 * inserted behind the system's back. Seeding time is reported on its own.
 *
 * Baseline: N `baselineApplication` runs on the bench worker, started at the approval wait, with the
 * real run's command shape from the approval to the signature wait (the same activities as no-ops,
 * upserts and timer); approved by update directly; the bench worker's memory with N waiting and the
 * time until all have done their last batch.
 */
import type { Client } from '@temporalio/client';
import { WorkflowUpdateStage } from '@temporalio/client';
import { mintDevToken } from '../src/api/auth';
import { loadConfig } from '../src/config';
import type { StaffRole } from '../src/workflows/messages';
import { shapeOf, type Shape } from './baseline/shape';
import { baselineActUpdate, baselineApplication } from './baseline/workflows';
import { CpuMeter, describeCpu } from './lib/cpu';
import { APPROVE, ApplicantFactory, PHONE_PASSED } from './lib/data';
import { idempotentWrite, JsonClient } from './lib/http';
import { BASELINE_TASK_QUEUE, startStack, type ChildProc, type Stack, type StackOptions } from './lib/stack';
import { sleep } from './lib/stats';

export interface OpenOptions {
  applications: number;
  createConcurrency: number;
  actConcurrency: number;
  tuning?: StackOptions['tuning'];
  systemExecArgv?: string[];
  workerEnv?: Record<string, string>;
  /** Give up seeding after this long (the figures then say how far it got). */
  seedTimeoutMs: number;
}

export interface OpenResult {
  options: OpenOptions;
  driver: Stack['driver'];
  /** Whose memory: `worker`, or `api+worker+PGlite` (one process on PGlite). */
  process: string;
  maxCachedWorkflows: number;
  seeded: number;
  seedMs: number;
  seedCpuPerApplication: Record<string, number>;
  workerRssIdleBytes: number;
  workerRssWaitingBytes: number;
  workerHeapWaitingBytes: number;
  workerHeapAfterGcBytes: number;
  workerRssAfterGcBytes: number;
  workerRssPeakBytes: number;
  approvalsAnsweredMs: number;
  movedOnMs: number;
  moveOnCpuPerApplication: Record<string, number>;
  baseline: {
    rssIdleBytes: number;
    rssWaitingBytes: number;
    rssPeakBytes: number;
    seedMs: number;
    movedOnMs: number;
  };
  rssRatio: number;
  movedOnRatio: number;
}

interface StageCount {
  stage: string;
  pending: string;
  n: number;
}

const countOf = (rows: StageCount[], stage: string, pending: string) => rows.find((r) => r.stage === stage && r.pending === pending)?.n ?? 0;

/** Waits until the processes use less than `pct` % of one CPU over `windowMs` (the worker has caught up). */
async function settle(cpu: CpuMeter, names: string[], pct = 5, windowMs = 2_000, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const a = cpu.sample();
    await sleep(windowMs);
    const d = CpuMeter.delta(cpu.sample(), a);
    const used = names.reduce((s, n) => s + (d[n] ?? 0), 0);
    if (used < (pct / 100) * windowMs) return;
  }
}

/** Samples a process's RSS every 250 ms; `peak()` is the highest seen. */
function rssSampler(p: ChildProc) {
  let peak = p.rssBytes();
  const t = setInterval(() => (peak = Math.max(peak, p.rssBytes() || 0)), 250);
  return {
    peak: () => peak,
    stop: () => clearInterval(t),
  };
}

async function timeBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function benchOpenApplications(o: OpenOptions, log: (m: string) => void): Promise<OpenResult> {
  const stack = await startStack({
    name: 'open',
    api: true,
    worker: true,
    baselineWorker: true,
    ...(o.tuning ? { tuning: o.tuning } : {}),
    ...(o.systemExecArgv ? { systemExecArgv: o.systemExecArgv } : {}),
    ...(o.workerEnv ? { workerEnv: o.workerEnv } : {}),
  });
  const worker = stack.worker!;
  const bench = stack.baselineWorker!;
  const workerName = stack.api === stack.worker ? 'api+worker+PGlite' : 'worker';
  try {
    const { maxCachedWorkflows } = await worker.ready;
    const config = loadConfig({});
    const token = (sub: string, role: StaffRole) => mintDevToken(config, { sub, roles: [role] });
    const [officer, verifier, approver] = await Promise.all([token('officer-1', 'officer'), token('verifier-1', 'verifier'), token('approver-1', 'approver')]);
    const http = new JsonClient(stack.apiUrl!, Math.max(o.createConcurrency, o.actConcurrency) + 8);
    const stages = () => stack.api!.ask<StageCount[]>('stages');
    await settle(stack.cpu, [workerName]);
    const workerRssIdle = worker.rssBytes();
    const benchRssIdle = bench.rssBytes();

    // ---------------------------------------------------------------- seeding
    log(`  seeding ${o.applications.toLocaleString('en')} applications to the approvers' queue (${o.createConcurrency} officers, phone verification from the queue)…`);
    const factory = new ApplicantFactory();
    const acted = new Set<string>();
    const seedStart = Date.now();
    const cpu0 = stack.cpu.sample();
    const seedDeadline = seedStart + o.seedTimeoutMs;
    // Officers keep at most `window` applications in the pipeline before the approvers' queue, as a
    // branch network would: flooding the worker with all of them at once only makes every one slower.
    const window = o.createConcurrency * 2;
    let created = 0;
    let waiting = 0;
    let seedingDone = false;
    let failure: Error | undefined;
    const failed = (err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    };
    const creators = timeBatches(
      Array.from({ length: o.applications }, (_, i) => i),
      o.createConcurrency,
      async () => {
        while (!failure && created - waiting >= window && Date.now() < seedDeadline) await sleep(200);
        if (failure || Date.now() > seedDeadline) return;
        created++;
        const r = await idempotentWrite<{ id: string }>(http, '/applications', officer, factory.body());
        if (r.status !== 201) throw new Error(`POST /applications answered ${r.status}`);
      },
    ).catch(failed);
    // Verifiers: page through the phone-verification queue and pass every application once.
    const verifiers = (async () => {
      while (!seedingDone && !failure && Date.now() < seedDeadline) {
        let cursor: string | undefined;
        let found = 0;
        do {
          const q = `/applications?pendingTask=phone_verification&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await http.request<{ items: { id: string }[]; nextCursor: string | null }>('GET', q, { token: verifier });
          if (page.status !== 200) throw new Error(`GET ${q} answered ${page.status}`);
          const todo = page.body.items.map((i) => i.id).filter((id) => !acted.has(id));
          for (const id of todo) acted.add(id);
          found += todo.length;
          await timeBatches(todo, o.actConcurrency, async (id) => {
            const r = await idempotentWrite(http, `/applications/${id}/phone-verification`, verifier, PHONE_PASSED);
            if (r.status !== 200 && r.status !== 202) throw new Error(`phone-verification answered ${r.status}`);
          });
          cursor = page.body.nextCursor ?? undefined;
        } while (cursor && !failure);
        if (found === 0) await sleep(500);
      }
    })().catch(failed);
    let lastLog = Date.now();
    while (Date.now() < seedDeadline && !failure) {
      const rows = await stages();
      waiting = countOf(rows, 'approval', 'approval');
      if (waiting >= o.applications) break;
      const ended = rows.filter((r) => ['rejected', 'failed', 'expired', 'withdrawn'].includes(r.stage)).reduce((s, r) => s + r.n, 0);
      if (ended > 0) failed(new Error(`${ended} application(s) ended during seeding: ${JSON.stringify(rows)}`));
      if (Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        log(`    ${Math.round((Date.now() - seedStart) / 1000)} s: ${created} created, ${acted.size} verified, ${waiting} waiting for approval`);
      }
      await sleep(1_000);
    }
    seedingDone = true;
    await Promise.all([creators, verifiers]);
    if (failure) throw failure;
    const seedMs = Date.now() - seedStart;
    const seedCpu = CpuMeter.delta(stack.cpu.sample(), cpu0);
    const seedCpuPerApplication = Object.fromEntries(Object.entries(seedCpu).map(([k, v]) => [k, Math.round(v / Math.max(1, waiting))]));
    log(`    seeded ${waiting.toLocaleString('en')} in ${(seedMs / 1000).toFixed(0)} s (${(waiting / (seedMs / 1000)).toFixed(1)}/s); CPU per application: ${describeCpu(seedCpuPerApplication)}`);
    if (waiting < o.applications) log(`    seeding stopped at the time limit: the figures below are for ${waiting} applications`);
    const approvable = new Set((await listWaiting(http, approver)).map((a) => a));

    // ---------------------------------------------------------------- at rest, then the approvals
    await settle(stack.cpu, [workerName]);
    const rssWaiting = worker.rssBytes();
    const mem = await worker.ask<NodeJS.MemoryUsage>('mem');
    const afterGc = await worker.ask<NodeJS.MemoryUsage>('gc');
    const rssAfterGc = worker.rssBytes();
    log(`  ${workerName} memory: ${describeMem(mem)}; after a full GC: ${describeMem(afterGc)}, RSS ${(rssAfterGc / 2 ** 20).toFixed(0)} MiB`);
    log(`  ${workerName} resident memory with ${waiting.toLocaleString('en')} waiting: ${(rssWaiting / 2 ** 20).toFixed(0)} MiB (idle ${(workerRssIdle / 2 ** 20).toFixed(0)} MiB; cache holds up to ${maxCachedWorkflows})`);
    if (process.env.BENCH_PAUSE_MS) {
      log(`  (pausing ${process.env.BENCH_PAUSE_MS} ms: worker pid ${worker.pid})`);
      await sleep(Number(process.env.BENCH_PAUSE_MS));
    }
    log(`  approving all ${approvable.size.toLocaleString('en')} through the API (${o.actConcurrency} approvers at once)…`);
    const peak = rssSampler(worker);
    const cpu1 = stack.cpu.sample();
    const t0 = Date.now();
    let approvalsAnsweredMs = 0;
    const approving = timeBatches([...approvable], o.actConcurrency, async (id) => {
      const r = await idempotentWrite(http, `/applications/${id}/decision`, approver, APPROVE);
      if (r.status !== 200 && r.status !== 202) throw new Error(`decision answered ${r.status}`);
    })
      .then(() => (approvalsAnsweredMs = Date.now() - t0))
      .catch(failed);
    let movedOnMs = NaN;
    const moveDeadline = Date.now() + Math.max(600_000, o.seedTimeoutMs);
    while (Date.now() < moveDeadline && !failure) {
      const moved = countOf(await stages(), 'signing', 'sign_contract');
      if (moved >= approvable.size) {
        movedOnMs = Date.now() - t0;
        break;
      }
      await sleep(250);
    }
    await approving;
    peak.stop();
    if (failure) throw failure;
    const moveCpu = CpuMeter.delta(stack.cpu.sample(), cpu1);
    const moveOnCpuPerApplication = Object.fromEntries(Object.entries(moveCpu).map(([k, v]) => [k, Math.round(v / Math.max(1, approvable.size))]));
    log(`    all moved on in ${(movedOnMs / 1000).toFixed(1)} s (answers in ${(approvalsAnsweredMs / 1000).toFixed(1)} s); CPU per application: ${describeCpu(moveOnCpuPerApplication)}`);
    http.close();

    // ---------------------------------------------------------------- the baseline
    const shape = await approvalToSigningShape(stack.env.client, [...approvable][0]!);
    const lastStep = shape.segments[1]!.batches.length - 1;
    const lastBatch = shape.segments[1]!.batches[lastStep]!.activities;
    log(`  baseline: ${approvable.size.toLocaleString('en')} runs waiting at the approval, then ${shape.segments[1]!.batches.reduce((s, b) => s + b.activities, 0)} no-op activities each to the signature wait…`);
    const client = stack.env.client;
    const bStart = Date.now();
    const runIds = Array.from({ length: approvable.size }, (_, i) => `bench-open-${i}`);
    await timeBatches(runIds, o.actConcurrency, async (workflowId) => {
      await client.workflow.start(baselineApplication, { taskQueue: BASELINE_TASK_QUEUE, workflowId, args: [shape] });
    });
    await settle(stack.cpu, ['bench worker']);
    const bSeedMs = Date.now() - bStart;
    const bRssWaiting = bench.rssBytes();
    const bPeak = rssSampler(bench);
    const before = (await bench.ask<Record<number, number>>('noops'))[lastStep] ?? 0;
    const b0 = Date.now();
    const updates = timeBatches(runIds, o.actConcurrency, async (workflowId) => {
      const h = client.workflow.getHandle(workflowId);
      const u = await h.startUpdate(baselineActUpdate, { args: [0], waitForStage: WorkflowUpdateStage.ACCEPTED });
      await u.result();
    }).catch(failed);
    let bMovedOnMs = NaN;
    while (Date.now() < moveDeadline + 600_000 && !failure) {
      const done = ((await bench.ask<Record<number, number>>('noops'))[lastStep] ?? 0) - before;
      if (done >= runIds.length * lastBatch) {
        bMovedOnMs = Date.now() - b0;
        break;
      }
      await sleep(250);
    }
    await updates;
    bPeak.stop();
    if (failure) throw failure;
    log(`    bench worker ${(bRssWaiting / 2 ** 20).toFixed(0)} MiB with all waiting; all moved on in ${(bMovedOnMs / 1000).toFixed(1)} s`);

    return {
      options: o,
      driver: stack.driver,
      process: workerName,
      maxCachedWorkflows,
      seeded: waiting,
      seedMs,
      seedCpuPerApplication,
      workerRssIdleBytes: workerRssIdle,
      workerRssWaitingBytes: rssWaiting,
      workerHeapWaitingBytes: mem.heapUsed,
      workerHeapAfterGcBytes: afterGc.heapUsed,
      workerRssAfterGcBytes: rssAfterGc,
      workerRssPeakBytes: peak.peak(),
      approvalsAnsweredMs,
      movedOnMs,
      moveOnCpuPerApplication,
      baseline: { rssIdleBytes: benchRssIdle, rssWaitingBytes: bRssWaiting, rssPeakBytes: bPeak.peak(), seedMs: bSeedMs, movedOnMs: bMovedOnMs },
      rssRatio: rssWaiting / bRssWaiting,
      movedOnRatio: movedOnMs / bMovedOnMs,
    };
  } finally {
    await stack.stop();
  }
}

const describeMem = (m: NodeJS.MemoryUsage) =>
  `heap ${(m.heapUsed / 2 ** 20).toFixed(0)}/${(m.heapTotal / 2 ** 20).toFixed(0)} MiB, external ${(m.external / 2 ** 20).toFixed(0)} MiB (array buffers ${(m.arrayBuffers / 2 ** 20).toFixed(0)} MiB)`;

/** Every application waiting for approval, from the approvers' queue. */
async function listWaiting(http: JsonClient, token: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await http.request<{ items: { id: string }[]; nextCursor: string | null }>(
      'GET',
      `/applications?pendingTask=approval&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      { token },
    );
    if (page.status !== 200) throw new Error(`approval queue answered ${page.status}`);
    ids.push(...page.body.items.map((i) => i.id));
    cursor = page.body.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

/** The real run's shape from the approval to the signature wait, read from one approved run's history. */
async function approvalToSigningShape(client: Client, applicationId: string): Promise<Shape> {
  const h = await client.workflow.getHandle(`loan-application-${applicationId}`).fetchHistory();
  const real = shapeOf((h.events ?? []) as unknown as Record<string, unknown>[]);
  // Segments: [to the phone act] [to the approval] [to the signature: still waiting].
  const afterApproval = real.segments[2];
  if (!afterApproval) throw new Error('the approved run has no segment after the approval');
  return { segments: [{ batches: [], waitsForAct: true }, { batches: afterApproval.batches, waitsForAct: true }], end: 'return' };
}
