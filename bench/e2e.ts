/**
 * Benchmark 1: end-to-end applications completed per second, with the humans acting through the
 * API at once. Each of `concurrency` clients drives one application at a time from
 * POST /applications (documents included) through phone verification, the approver's decision and
 * the on-site signature to disbursement and servicing, reading the application (GET) every
 * `pollMs` to see when it waits for them, as a work-queue screen would. The sandbox answers at zero
 * latency.
 *
 * Baselines: on the same Temporal server, the same clients drive `baselineApplication` (bench/
 * baseline) on the bench worker's task queue, straight through the Temporal client, reading its
 * state by query every `pollMs`, in two shapes (the same activities as no-ops, the same updates,
 * timers, search-attribute upserts and child):
 * - the shape of a real run of today's code, read from its history (the cost of the shape itself);
 * - the fixed reference: release 0.1.0's shape, from its stored history (bench/baseline/reference.ts),
 *   which tells whether the system got faster than it was.
 *
 * Throughput is counted in a steady window: completions between `warmupMs` and `warmupMs +
 * durationMs` after the clients start; runs still in flight at the end are finished, not counted.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowUpdateStage } from '@temporalio/client';
import { mintDevToken } from '../src/api/auth';
import { loadConfig } from '../src/config';
import type { StaffRole } from '../src/workflows/messages';
import { REFERENCE_RELEASE, referenceShape } from './baseline/reference';
import { actsOf, countsOf, shapeOf, type Shape, type ShapeCounts } from './baseline/shape';
import { baselineActUpdate, baselineApplication, baselineStateQuery } from './baseline/workflows';
import { APPROVE, ApplicantFactory, PHONE_PASSED } from './lib/data';
import { CpuMeter, describeCpu, type CpuSample } from './lib/cpu';
import { idempotentWrite, JsonClient } from './lib/http';
import { BASELINE_TASK_QUEUE, startStack, type Stack, type StackOptions } from './lib/stack';
import { percentile, sleep } from './lib/stats';

export interface E2eOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  pollMs: number;
  /** Real, baseline, real, baseline… this many rounds (each figure is the mean of its rounds). */
  rounds: number;
  tuning?: StackOptions['tuning'];
  systemExecArgv?: string[];
  workerEnv?: Record<string, string>;
}

export interface PhaseResult {
  /** CPU ms per completed run, by process. */
  cpuPerRun: Record<string, number>;
  completed: number;
  failed: number;
  perSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  failures: string[];
}

export interface E2eResult {
  options: E2eOptions;
  real: PhaseResult[];
  baseline: PhaseResult[];
  reference: PhaseResult[];
  realPerSecond: number;
  baselinePerSecond: number;
  referencePerSecond: number;
  /** Real over the no-op of today's shape. */
  ratio: number;
  /** Real over the no-op of release 0.1.0's shape. */
  referenceRatio: number;
  referenceRelease: string;
  referenceCounts: ShapeCounts;
  realCounts: ShapeCounts;
  baselineCounts: ShapeCounts;
  childCounts: ShapeCounts;
  baselineChildCounts: ShapeCounts;
  driver: Stack['driver'];
  workerPeakRssBytes: number;
}

/** The acts of the happy path, in order, as the API names them. */
const ACTS: { task: string; path: string; role: StaffRole; sub: string; body: object }[] = [
  { task: 'phone_verification', path: 'phone-verification', role: 'verifier', sub: 'verifier-1', body: PHONE_PASSED },
  { task: 'approval', path: 'decision', role: 'approver', sub: 'approver-1', body: APPROVE },
  { task: 'sign_contract', path: 'signature', role: 'officer', sub: 'officer-1', body: {} },
];
const TERMINAL = new Set(['rejected', 'withdrawn', 'expired', 'failed', 'closed']);
const RUN_TIMEOUT_MS = 120_000;

interface AppView {
  stage: string;
  pendingTask: { kind: string } | null;
  loanId: string | null;
  flags?: string[];
}

type Driver = () => Promise<void>;

/** Drives one real application through the API; throws with the reason when it does not get there. */
export function realDriver(http: JsonClient, tokens: Record<StaffRole, string>, factory: ApplicantFactory, pollMs: number, onCreated?: (id: string) => void): Driver {
  return async () => {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    const created = await idempotentWrite<{ id: string }>(http, '/applications', tokens.officer, factory.body());
    if (created.status !== 201) throw new Error(`POST /applications ${created.status}`);
    const id = created.body.id;
    onCreated?.(id);
    const read = async (until: (v: AppView) => boolean, what: string): Promise<AppView> => {
      for (;;) {
        const r = await http.request<AppView>('GET', `/applications/${id}`, { token: tokens.officer });
        if (r.status === 200) {
          if (until(r.body)) return r.body;
          if (TERMINAL.has(r.body.stage)) throw new Error(`ended ${r.body.stage} waiting for ${what} (${(r.body.flags ?? []).join(',')})`);
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(pollMs);
      }
    };
    for (const act of ACTS) {
      await read((v) => v.pendingTask?.kind === act.task, act.task);
      const r = await idempotentWrite(http, `/applications/${id}/${act.path}`, tokens[act.role], act.body);
      if (r.status !== 200 && r.status !== 202) throw new Error(`POST ${act.path} ${r.status}`);
    }
    await read((v) => v.stage === 'servicing' && Boolean(v.loanId), 'servicing');
  };
}

let baselineSeq = 0;
/** Drives one baseline run the same way, through the Temporal client. */
export function baselineDriver(client: Client, shape: Shape, pollMs: number): Driver {
  const acts = actsOf(shape);
  return async () => {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    const handle: WorkflowHandle<typeof baselineApplication> = await client.workflow.start(baselineApplication, {
      taskQueue: BASELINE_TASK_QUEUE,
      workflowId: `bench-baseline-${process.pid}-${++baselineSeq}`,
      args: [shape],
    });
    const read = async (until: (s: { pending: string | null; done: boolean }) => boolean, what: string) => {
      for (;;) {
        const s = await handle.query(baselineStateQuery);
        if (until(s)) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(pollMs);
      }
    };
    for (let act = 0; act < acts; act++) {
      await read((s) => s.pending === `act-${act}`, `act ${act}`);
      // Like the API: wait for the update to be accepted, then for its result.
      const u = await handle.startUpdate(baselineActUpdate, { args: [act], waitForStage: WorkflowUpdateStage.ACCEPTED });
      await u.result();
    }
    await read((s) => s.done, 'the end');
  };
}

/** `concurrency` closed-loop clients for warmup + duration; completions counted in the steady window. */
export async function phase(drive: Driver, o: E2eOptions, cpu: CpuMeter): Promise<PhaseResult> {
  const start = Date.now();
  let cpuFrom: CpuSample | undefined;
  let cpuTo: CpuSample | undefined;
  const t1 = setTimeout(() => (cpuFrom = cpu.sample()), o.warmupMs);
  const t2 = setTimeout(() => (cpuTo = cpu.sample()), o.warmupMs + o.durationMs);
  const from = start + o.warmupMs;
  const to = from + o.durationMs;
  const latencies: number[] = [];
  const failures: string[] = [];
  let completed = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (Date.now() < to) {
        const t = Date.now();
        try {
          await drive();
          const end = Date.now();
          if (end >= from && end <= to) {
            completed++;
            latencies.push(end - t);
          }
        } catch (err) {
          failures.push((err as Error).message);
          if (failures.length > 20) throw new Error(`too many failed applications: ${failures.slice(0, 5).join('; ')}`);
        }
      }
    }),
  );
  clearTimeout(t1);
  clearTimeout(t2);
  const used = cpuFrom && cpuTo ? CpuMeter.delta(cpuTo, cpuFrom) : {};
  return {
    cpuPerRun: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, completed ? Math.round(v / completed) : NaN])),
    completed,
    failed: failures.length,
    perSecond: completed / (o.durationMs / 1000),
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    failures: [...new Set(failures)].slice(0, 5),
  };
}

async function historyOf(client: Client, workflowId: string) {
  const h = await client.workflow.getHandle(workflowId).fetchHistory();
  return (h.events ?? []) as unknown as Record<string, unknown>[];
}

export async function benchEndToEnd(o: E2eOptions, log: (m: string) => void): Promise<E2eResult> {
  const stack = await startStack({
    name: 'e2e',
    api: true,
    worker: true,
    baselineWorker: true,
    ...(o.tuning ? { tuning: o.tuning } : {}),
    ...(o.systemExecArgv ? { systemExecArgv: o.systemExecArgv } : {}),
    ...(o.workerEnv ? { workerEnv: o.workerEnv } : {}),
  });
  let peakRss = 0;
  const sampler = setInterval(() => {
    const rss = stack.worker?.rssBytes() ?? NaN;
    if (rss > peakRss) peakRss = rss;
  }, 500);
  try {
    const config = loadConfig({});
    const tokens = Object.fromEntries(
      await Promise.all((['officer', 'verifier', 'approver', 'finance', 'admin'] as StaffRole[]).map(async (r) => [r, await mintDevToken(config, { sub: `${r}-1`, roles: [r] })])),
    ) as Record<StaffRole, string>;
    const http = new JsonClient(stack.apiUrl!, o.concurrency + 8);
    const factory = new ApplicantFactory();
    const client = stack.env.client;

    // One application alone first: it warms every path, and its history gives the baseline its shape.
    let firstId = '';
    await realDriver(http, tokens, factory, 100, (id) => (firstId = id))();
    await sleep(1_000);
    const events = await historyOf(client, `loan-application-${firstId}`);
    const shape = shapeOf(events);
    const loan = (await http.request<AppView>('GET', `/applications/${firstId}`, { token: tokens.officer })).body.loanId;
    const childEvents = await historyOf(client, `loan-servicing-${loan}`);
    shape.child = shapeOf(childEvents);
    if (actsOf(shape) !== ACTS.length) throw new Error(`the real run waited for ${actsOf(shape)} acts, the bench drives ${ACTS.length}`);
    const reference = referenceShape(shape.child);
    if (actsOf(reference) !== ACTS.length) throw new Error(`the ${REFERENCE_RELEASE} reference waited for ${actsOf(reference)} acts, the bench drives ${ACTS.length}`);
    // The same for the baseline: one run alone, whose history is compared with the real one.
    const baselineOne = baselineDriver(client, shape, 100);
    await baselineOne();
    await sleep(1_000);
    const baselineId = `bench-baseline-${process.pid}-${baselineSeq}`;
    const baselineCounts = countsOf(await historyOf(client, baselineId));
    await baselineDriver(client, reference, 100)();
    await sleep(1_000);
    const referenceCounts = countsOf(await historyOf(client, `bench-baseline-${process.pid}-${baselineSeq}`));
    const baselineChildCounts = countsOf(await historyOf(client, `${baselineId}-child`));
    const realCounts = countsOf(events);
    const childCounts = countsOf(childEvents);
    log(
      `  shape of one run: real ${realCounts.activities} activities, ${realCounts.updates} updates, ${realCounts.timers} timers, ${realCounts.workflowTasks} workflow tasks (+ child ${childCounts.activities} activities, ${childCounts.timers} timer); ` +
        `baseline ${baselineCounts.activities}, ${baselineCounts.updates}, ${baselineCounts.timers}, ${baselineCounts.workflowTasks} (+ child ${baselineChildCounts.activities}, ${baselineChildCounts.timers}); ` +
        `${REFERENCE_RELEASE} reference ${referenceCounts.activities}, ${referenceCounts.updates}, ${referenceCounts.timers}, ${referenceCounts.workflowTasks}`,
    );

    const real: PhaseResult[] = [];
    const baseline: PhaseResult[] = [];
    const referenceRuns: PhaseResult[] = [];
    for (let round = 0; round < o.rounds; round++) {
      log(`  round ${round + 1}/${o.rounds}: real system, ${o.concurrency} clients, ${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s…`);
      real.push(await phase(realDriver(http, tokens, factory, o.pollMs), o, stack.cpu));
      log(`    ${real[real.length - 1]!.perSecond.toFixed(2)} applications/s; CPU per application: ${describeCpu(real[real.length - 1]!.cpuPerRun)}`);
      log(`  round ${round + 1}/${o.rounds}: baseline workflow, ${o.concurrency} clients…`);
      baseline.push(await phase(baselineDriver(client, shape, o.pollMs), o, stack.cpu));
      log(`    ${baseline[baseline.length - 1]!.perSecond.toFixed(2)} runs/s; CPU per run: ${describeCpu(baseline[baseline.length - 1]!.cpuPerRun)}`);
      log(`  round ${round + 1}/${o.rounds}: ${REFERENCE_RELEASE} reference shape, ${o.concurrency} clients…`);
      referenceRuns.push(await phase(baselineDriver(client, reference, o.pollMs), o, stack.cpu));
      log(`    ${referenceRuns[referenceRuns.length - 1]!.perSecond.toFixed(2)} runs/s; CPU per run: ${describeCpu(referenceRuns[referenceRuns.length - 1]!.cpuPerRun)}`);
    }
    http.close();
    const mean = (xs: PhaseResult[]) => xs.reduce((s, x) => s + x.perSecond, 0) / xs.length;
    return {
      options: o,
      real,
      baseline,
      realPerSecond: mean(real),
      baselinePerSecond: mean(baseline),
      ratio: mean(real) / mean(baseline),
      reference: referenceRuns,
      referencePerSecond: mean(referenceRuns),
      referenceRatio: mean(real) / mean(referenceRuns),
      referenceRelease: REFERENCE_RELEASE,
      referenceCounts,
      realCounts,
      baselineCounts,
      childCounts,
      baselineChildCounts,
      driver: stack.driver,
      workerPeakRssBytes: peakRss,
    };
  } finally {
    clearInterval(sampler);
    await stack.stop();
  }
}
