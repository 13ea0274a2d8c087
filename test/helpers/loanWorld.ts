import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { createActivities, type Activities } from '../../src/activities';
import { createProviderClients } from '../../src/activities/providers';
import type { DbHandle } from '../../src/db/client';
import { SandboxAdminClient, startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox';
import { loanApplication } from '../../src/workflows/loanApplication';
import {
  approvalDecisionUpdate,
  collateralRegisteredUpdate,
  contractSignedUpdate,
  loanApplicationStartOptions,
  loanServicingWorkflowId,
  phoneVerificationCompletedUpdate,
  stateQuery,
  type ApprovalDecision,
  type LoanApplicationResult,
  type LoanState,
  type PhoneOutcome,
} from '../../src/workflows/messages';
import { signAct, useActClock } from './acts';
import { createTestDb } from './db';
import { seedApplication, testCipher, type SeedOptions, type Seeded } from './seed';
import { timeSkippingEnv, workflowBundle } from './temporal';
import { PATIENCE_MS, waitFor } from './wait';

export type LoanHandle = WorkflowHandle<typeof loanApplication>;

/**
 * Everything a loan-application workflow test needs, all real: a Temporal server (time-skipping or
 * dev), a migrated database, the provider sandbox over HTTP and a worker running the real workflows
 * and activities on its own task queue.
 */
export interface LoanWorld {
  env: TestWorkflowEnvironment;
  h: DbHandle;
  sandbox: RunningSandbox;
  admin: SandboxAdminClient;
  taskQueue: string;
  seed(opts?: SeedOptions): Promise<Seeded>;
  start(seeded: Seeded): Promise<LoanHandle>;
  /**
   * The run's result once it has completed, read without unlocking time skipping. (The test
   * server's `result()` unlocks it while it waits, and a server left idle then jumps to its next
   * timer — ten years on, the execution timeout it gives every run — so tests move time only with
   * env.sleep and read results here.)
   */
  result<R = LoanApplicationResult>(handle: WorkflowHandle, timeoutMs?: number): Promise<R>;
  /**
   * Terminates every run this world started that is still running, and its servicing child. Call it
   * after each test: on the time-skipping server a run left waiting (a deadline, a 36-month loan)
   * would otherwise move the clock of every later test when one of them awaits a result.
   */
  cleanup(): Promise<void>;
  /**
   * Resolves once every run this world started (and its children) waits on nothing but a timer or
   * a message: no activity and no workflow task in flight. Skipping time before that would run an
   * activity's timeouts out under it (a text's hour-long schedule-to-close, on a slow machine).
   */
  settle(): Promise<void>;
  /** Each run (or child) with an activity or workflow task in flight, and what it is. */
  busyRuns(): Promise<string[]>;
  close(): Promise<void>;
}

let worlds = 0;

/**
 * A world's settings besides the defaults: how long a pending transfer stays pending, the sandbox's
 * clock, and a way to hold a real activity back (a deterministic fault: the order two steps finish in).
 */
export type LoanWorldOptions = Pick<SandboxOptions, 'paymentPendingMs' | 'now'> & { wrapActivities?: (a: Activities) => Activities };

export async function startLoanWorld(env: TestWorkflowEnvironment, taskQueue = `car-loans-test-${++worlds}`, opts: LoanWorldOptions = {}): Promise<LoanWorld> {
  const { wrapActivities = (a: Activities) => a, ...sandboxOptions } = opts;
  const [h, sandbox] = await Promise.all([createTestDb(), startSandbox({ paymentPendingMs: 300, ...sandboxOptions })]);
  // Acts are signed at the server's time: the workflow judges a proof's age by it.
  useActClock(() => env.currentTimeMs());
  const cipher = testCipher();
  const providers = createProviderClients(sandbox.providers);
  // The reconciler starts the workflows of orphaned applications on this world's task queue.
  const activities = wrapActivities(createActivities({ db: h.db, cipher, providers, temporal: { client: env.client, taskQueue } }));
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  const running = worker.run();
  const started: LoanHandle[] = [];
  // A plain client on the same connection: its result() does not touch time skipping.
  const plain = new Client({ connection: env.connection, namespace: env.namespace ?? 'default' });
  /** What each started run (and child) still has in flight, for settle and for a stuck skip's report. */
  const busyRuns = async (): Promise<string[]> => {
    const busy: string[] = [];
    const look = async (workflowId: string): Promise<void> => {
      // Bounded, so a call lost with its connection is asked again instead of waited on for ever.
      const { raw, status } = await plain.connection.withDeadline(Date.now() + 30_000, () => plain.workflow.getHandle(workflowId).describe());
      if (status.name !== 'RUNNING') return;
      const activities = (raw.pendingActivities ?? []).map((a) => `${a.activityType?.name}#${a.attempt}`);
      if (activities.length || raw.pendingWorkflowTask) busy.push(`${workflowId}: ${[...activities, ...(raw.pendingWorkflowTask ? [`workflow task (${raw.pendingWorkflowTask.state})`] : [])].join(', ')}`);
      for (const child of raw.pendingChildren ?? []) if (child.workflowId) await look(child.workflowId);
    };
    for (const handle of started) await look(handle.workflowId);
    return busy;
  };
  const terminateIfRunning = async (handle: WorkflowHandle) => {
    try {
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('test finished');
    } catch {
      // Already gone.
    }
  };
  return {
    env,
    h,
    sandbox,
    admin: new SandboxAdminClient(sandbox.url),
    taskQueue,
    seed: (opts) => seedApplication(h.db, opts),
    async start(seeded) {
      const handle = await env.client.workflow.start(loanApplication, loanApplicationStartOptions(seeded.input, taskQueue));
      started.push(handle);
      return handle;
    },
    async result<R>(handle: WorkflowHandle, timeoutMs = PATIENCE_MS): Promise<R> {
      const h = plain.workflow.getHandle(handle.workflowId);
      const until = Date.now() + timeoutMs;
      while ((await plain.connection.withDeadline(Date.now() + 30_000, () => h.describe())).status.name === 'RUNNING') {
        if (Date.now() > until) throw new Error(`${handle.workflowId} still running after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return h.result() as Promise<R>;
    },
    async settle() {
      await waitFor(async () => ((await busyRuns()).length === 0 ? true : undefined), 'the runs to settle', { intervalMs: 50 });
    },
    busyRuns,
    async cleanup() {
      for (const handle of started.splice(0)) {
        let loanId: string | null = null;
        try {
          loanId = (await handle.query(stateQuery)).loanId;
        } catch {
          // Closed runs may not answer queries on the test server.
        }
        await terminateIfRunning(handle);
        if (loanId) await terminateIfRunning(env.client.workflow.getHandle(loanServicingWorkflowId(loanId)));
      }
    },
    async close() {
      worker.shutdown();
      await running;
      await Promise.all([sandbox.close(), h.close()]);
    },
  };
}

/** Polls the `state` query (in real time; the test server does not skip time for queries). */
export async function waitForState(handle: LoanHandle, ready: (s: LoanState) => boolean, what = 'the expected state', timeoutMs = PATIENCE_MS): Promise<LoanState> {
  const until = Date.now() + timeoutMs;
  let last: LoanState | undefined;
  for (;;) {
    try {
      // Bounded, so a call lost with its connection is asked again instead of waited on for ever.
      last = await handle.client.connection.withDeadline(Date.now() + 30_000, () => handle.query(stateQuery));
      if (ready(last)) return last;
    } catch (err) {
      // The first workflow task may not have run yet.
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last && { stage: last.stage, pendingTask: last.pendingTask, flags: last.flags, outcomeReason: last.outcomeReason })}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const waitForTask = (handle: LoanHandle, kind: string, extra: (s: LoanState) => boolean = () => true) =>
  waitForState(handle, (s) => s.pendingTask?.kind === kind && extra(s), `pending task ${kind}`);

// The acts below are signed as the API signs them (test/helpers/acts.ts): unsigned, the workflow refuses them.

export async function phoneOutcome(handle: LoanHandle, outcome: PhoneOutcome, actor = 'verifier-1', extra: { anomalies?: string[] } = {}) {
  const act = {
    actor,
    outcome,
    recordingRef: `rec-${outcome}`,
    checklist: { identityConfirmed: outcome === 'passed', incomeConfirmed: true, purposeConfirmed: true, anomalies: extra.anomalies },
  };
  return handle.executeUpdate(phoneVerificationCompletedUpdate, { args: [await signAct('phoneVerificationCompleted', handle.workflowId, act)] });
}

export async function decide(handle: LoanHandle, actor: string, decision: ApprovalDecision['decision'] = 'approve', extra: Partial<ApprovalDecision> = {}) {
  return handle.executeUpdate(approvalDecisionUpdate, { args: [await signAct('approvalDecision', handle.workflowId, { actor, decision, ...extra })] });
}

export async function signOnSite(handle: LoanHandle, actor = 'officer-1') {
  const act = { actor, source: 'on_site' as const, signedAt: new Date().toISOString() };
  return handle.executeUpdate(contractSignedUpdate, { args: [await signAct('contractSigned', handle.workflowId, act)] });
}

export async function registerCollateral(handle: LoanHandle, actor = 'officer-1') {
  const act = { actor, registrationRef: 'DY-2026-000123', registeredAt: new Date().toISOString() };
  return handle.executeUpdate(collateralRegisteredUpdate, { args: [await signAct('collateralRegistered', handle.workflowId, act)] });
}

/** Phone verification passed; answers the state once the application waits for its approval. */
export async function walkToApproval(handle: LoanHandle): Promise<LoanState> {
  await waitForTask(handle, 'phone_verification');
  await phoneOutcome(handle, 'passed');
  return waitForTask(handle, 'approval');
}

/** Approved (by each of `approvers`); answers the state once the contract waits for its signature. */
export async function walkToSigning(handle: LoanHandle, approvers: string[] = ['approver-1']): Promise<LoanState> {
  await walkToApproval(handle);
  for (const approver of approvers) await decide(handle, approver);
  return waitForTask(handle, 'sign_contract');
}

/** Walks an application through every human act up to servicing (or its first refusal). */
export async function walkToServicing(handle: LoanHandle, opts: { approvers?: string[]; used?: boolean } = {}): Promise<LoanState> {
  await walkToSigning(handle, opts.approvers);
  await signOnSite(handle);
  if (opts.used) {
    await waitForTask(handle, 'register_collateral');
    await registerCollateral(handle);
  }
  return waitForState(handle, (s) => s.stage === 'servicing' || s.stage === 'failed', 'servicing');
}

/**
 * The suite's world on a time-skipping server, started once per file and torn down after it;
 * `afterEachTest` runs before the world's own cleanup between tests. Its `env.sleep` first waits for
 * the world to settle (LoanWorld.settle), so time only jumps while the runs wait on their timers.
 */
export function useLoanWorld(
  ready: (world: { env: TestWorkflowEnvironment; w: LoanWorld }) => void,
  afterEachTest?: (w: LoanWorld) => Promise<unknown>,
  opts: LoanWorldOptions = {},
): void {
  let env: TestWorkflowEnvironment | undefined;
  let w: LoanWorld | undefined;
  beforeAll(async () => {
    env = await timeSkippingEnv();
    const world = await startLoanWorld(env, undefined, opts);
    const skip = env.sleep;
    env.sleep = async (duration) => {
      await world.settle();
      // The test server moves its clock only while nothing is in flight: a skip that does not come
      // back in minutes is a stuck run, reported with what it is stuck on rather than left to hang.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          void world.busyRuns().then(
            (busy) => reject(new Error(`time skip of ${String(duration)} ms not done after ${PATIENCE_MS / 1000} s; in flight: ${busy.join(' | ') || 'nothing'}`)),
            (err: Error) => reject(new Error(`time skip not done after ${PATIENCE_MS / 1000} s (${err.message})`)),
          );
        }, PATIENCE_MS);
      });
      try {
        await Promise.race([skip(duration), stuck]);
      } finally {
        clearTimeout(timer);
      }
    };
    w = world;
    ready({ env, w });
  });
  afterEach(async () => {
    if (afterEachTest && w) await afterEachTest(w);
    await w?.cleanup();
  });
  afterAll(async () => {
    await w?.close();
    await env?.teardown();
  });
}
