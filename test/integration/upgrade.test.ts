import type { WorkflowHandle } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { and, eq } from 'drizzle-orm';
import { createProviderClients } from '../../src/activities/providers';
import type { DbHandle } from '../../src/db/client';
import { applications as applications_, loanEvents } from '../../src/db/schema';
import { shanghaiDate } from '../../src/domain';
import { loanServicingWorkflowId } from '../../src/domain/ids';
import { startSandbox, type RunningSandbox } from '../../src/sandbox';
import { actKeyRingFromConfig, workflowBundlerOptions } from '../../src/temporal/actKeys';
import { moveRuns, openRuns, setCurrentVersion, waitForVersion } from '../../src/temporal/deployments';
import { createWorker } from '../../src/worker';
import { loanApplication } from '../../src/workflows/loanApplication';
import { loanServicing } from '../../src/workflows/loanServicing';
import { documentsSubmittedUpdate, loanApplicationStartOptions, withdrawUpdate, type LoanApplicationResult } from '../../src/workflows/messages';
import { earlyPayoffRequestedUpdate, repaymentRecordedUpdate, servicingStateQuery } from '../../src/workflows/servicingMessages';
import { signAct } from '../helpers/acts';
import { createTestDb } from '../helpers/db';
import { decide, registerCollateral, signOnSite, waitForState, waitForTask, walkToApproval, walkToServicing, walkToSigning, type LoanHandle } from '../helpers/loanWorld';
import { addDocuments, seedApplication, testCipher, type SeedOptions } from '../helpers/seed';
import { seedLoan } from '../helpers/servicing';
import { localEnv, workflowBundle } from '../helpers/temporal';
import { NEXT_RELEASE_EVENT } from './fixtures/nextRelease';

/**
 * A release of new workflow code while loans are open, with real workers and real bundles on a
 * dev server: release N's workers hold applications waiting in every human stage and servicing
 * runs mid-term; release N+1 (test/integration/fixtures/nextRelease.ts: a real change, behind a
 * patch) is deployed beside it and made current; N's pinned applications finish their stages on
 * N, those left waiting for their loan are moved onto N+1 and N is drained, while the servicing
 * runs move to N+1 by themselves and continue as new there. Every run ends as it should, and no
 * workflow task of any run failed (no non-determinism anywhere).
 */

const TASK_QUEUE = 'car-loans-upgrade';
const N: WorkerDeploymentVersion = { deploymentName: 'car-loans', buildId: 'release-n' };
const N1: WorkerDeploymentVersion = { deploymentName: 'car-loans', buildId: 'release-n-plus-1' };
// The dev server's clock cannot be moved months ahead, so instead of instalments falling due the
// server suggests a continue-as-new once a run's history passes this many events, as it does at
// 4,096 in production; a servicing run follows the suggestion at its next message.
const SUGGEST_CONTINUE_AS_NEW_AFTER = 40;

describe('upgrading the workflow code with loans open', () => {
  let env: TestWorkflowEnvironment;
  let h: DbHandle;
  let sandbox: RunningSandbox;
  const workers: { worker: Worker; running: Promise<void> }[] = [];

  beforeAll(async () => {
    [env, h, sandbox] = await Promise.all([
      localEnv({ extraArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${SUGGEST_CONTINUE_AS_NEW_AFTER}`] }),
      createTestDb(),
      startSandbox({ paymentPendingMs: 300 }),
    ]);
  });
  afterAll(async () => {
    for (const w of workers) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    await Promise.all(workers.map((w) => w.running));
    await env?.teardown();
    await sandbox?.close();
    await h?.close();
  });

  async function startWorker(bundle: WorkflowBundleWithSourceMap, version: WorkerDeploymentVersion) {
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
      deps: { db: h.db, cipher: testCipher(), providers: createProviderClients(sandbox.providers) },
      workflowBundle: bundle,
      version,
    });
    const w = { worker, running: worker.run() };
    workers.push(w);
    await waitForVersion(env.client, version);
    return w;
  }

  const versioningOf = async (workflowId: string) => (await env.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo;
  async function start(opts: SeedOptions = {}): Promise<LoanHandle> {
    const seeded = await seedApplication(h.db, opts);
    return env.client.workflow.start(loanApplication, loanApplicationStartOptions(seeded.input, TASK_QUEUE));
  }
  async function releaseEvents(applicationId: string) {
    return h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, applicationId), eq(loanEvents.kind, NEXT_RELEASE_EVENT)));
  }
  const applicationIdOf = (handle: WorkflowHandle) => handle.workflowId.replace(/^loan-application-/, '');
  /** Waits until the run has taken N+1's new first step (its first task runs a moment after it starts). */
  async function startedOnNextRelease(applicationId: string, runId: string): Promise<void> {
    for (let i = 0; ; i++) {
      const runs = (await releaseEvents(applicationId)).map((e) => (e.data as { runId: string }).runId);
      if (runs.includes(runId)) return;
      if (i > 1200) throw new Error(`run ${runId} of ${applicationId} never took the new release's step (runs that did: ${runs.join(', ') || 'none'})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Small repayments until the servicing run has continued as new; answers the new run's id. */
  async function payUntilContinuedAsNew(workflowId: string, tag: string): Promise<string> {
    const handle = env.client.workflow.getHandle<typeof loanServicing>(workflowId);
    const firstRun = (await handle.describe()).runId;
    for (let i = 1; ; i++) {
      const repayment = { actor: 'finance-1', amountFen: 1_000, paidAt: new Date().toISOString(), reference: `${tag}-${i}` };
      await handle.executeUpdate(repaymentRecordedUpdate, { args: [await signAct('repaymentRecorded', workflowId, repayment)] });
      const now = (await handle.describe()).runId;
      if (now !== firstRun) return now;
      if (i > 40) throw new Error(`${workflowId} did not continue as new after ${i} repayments`);
    }
  }

  /**
   * Pays the loan off today: its payoff quote, asked for and paid; the servicing run closes it.
   * (On the ledger, money beyond what is due and short of the payoff amount is held as credit
   * until the instalments fall due, so paying the schedule ahead would not close it.)
   */
  async function payOff(loanId: string) {
    const handle = env.client.workflow.getHandle<typeof loanServicing>(loanServicingWorkflowId(loanId));
    const request = { actor: 'finance-1', asOfDate: shanghaiDate(Date.now()) };
    const quoted = await handle.executeUpdate(earlyPayoffRequestedUpdate, { args: [await signAct('earlyPayoffRequested', handle.workflowId, request)] });
    expect(quoted.status).toBe('active');
    const repayment = { actor: 'finance-1', amountFen: quoted.payoffQuote!.amountFen, paidAt: new Date().toISOString(), reference: `payoff-${loanId}` };
    await handle.executeUpdate(repaymentRecordedUpdate, { args: [await signAct('repaymentRecorded', handle.workflowId, repayment)] });
    return handle.result();
  }

  it('runs every open loan to its end across the release, with no non-determinism', async () => {
    const bundleN = await workflowBundle();
    // Bundled as a worker bundles, with the act keys the workers trust (the test signs with the development key).
    const bundleN1 = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/nextRelease'),
      ...workflowBundlerOptions(actKeyRingFromConfig(loadConfig({}))),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
    });

    // ---- release N: applications waiting in every human stage, loans being serviced ----------
    const workerN = await startWorker(bundleN, N);
    await setCurrentVersion(env.client, N);

    const documents = await start({ documents: ['id_card', 'driver_license', 'purchase_contract'] });
    const phone = await start();
    const approval = await start();
    const signing = await start();
    const collateral = await start({ vehicle: { condition: 'used' } });
    const serviced = await start();
    await waitForTask(documents, 'submit_documents');
    await waitForTask(phone, 'phone_verification');
    await walkToApproval(approval);
    await walkToSigning(signing);
    await walkToSigning(collateral);
    await signOnSite(collateral);
    await waitForTask(collateral, 'register_collateral');
    const servicedLoan = (await walkToServicing(serviced)).loanId!;
    // A loan already some way into its term: its servicing run has continued as new on N.
    const seededLoan = await seedLoan(h.db, testCipher(), createProviderClients(sandbox.providers), {
      applicationId: 'upgrade-loan-1',
      phone: '13900001234',
      disbursedAtMs: Date.now(),
      termMonths: 12,
    });
    const midTerm = await env.client.workflow.start(loanServicing, {
      taskQueue: TASK_QUEUE,
      workflowId: loanServicingWorkflowId(seededLoan.loanId),
      args: [{ loanId: seededLoan.loanId, applicationId: 'upgrade-loan-1', collateralRegistrationOutstanding: false }],
    });
    await payUntilContinuedAsNew(midTerm.workflowId, 'on-n');

    const applications = [documents, phone, approval, signing, collateral, serviced];
    for (const a of applications) {
      expect(await versioningOf(a.workflowId)).toMatchObject({
        behavior: temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
        deploymentVersion: N,
      });
    }
    expect(await versioningOf(midTerm.workflowId)).toMatchObject({ behavior: temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE });

    // ---- release N+1 deployed beside N and made current --------------------------------------
    await startWorker(bundleN1, N1);
    await setCurrentVersion(env.client, N1);
    const fresh = await start();
    await waitForTask(fresh, 'phone_verification');
    expect(await versioningOf(fresh.workflowId)).toMatchObject({ deploymentVersion: N1 });
    await startedOnNextRelease(applicationIdOf(fresh), (await fresh.describe()).runId);

    // N's applications go on through their stages on N, as the code they started with.
    const [docId] = await addDocuments(h.db, applicationIdOf(documents), [{ type: 'income_proof' }]);
    await documents.executeUpdate(documentsSubmittedUpdate, { args: [await signAct('documentsSubmitted', documents.workflowId, { actor: 'officer-1', documentIds: [docId!] })] });
    const loans: string[] = [servicedLoan];
    loans.push((await walkToServicing(documents)).loanId!);
    loans.push((await walkToServicing(phone)).loanId!);
    await decide(approval, 'approver-1');
    await waitForTask(approval, 'sign_contract');
    await signOnSite(approval);
    loans.push((await waitForState(approval, (s) => s.stage === 'servicing', 'servicing')).loanId!);
    await signOnSite(signing);
    loans.push((await waitForState(signing, (s) => s.stage === 'servicing', 'servicing')).loanId!);
    await registerCollateral(collateral);
    loans.push((await waitForState(collateral, (s) => s.stage === 'servicing', 'servicing')).loanId!);
    for (const a of applications) {
      expect(await versioningOf(a.workflowId)).toMatchObject({ deploymentVersion: N });
      expect(await releaseEvents(applicationIdOf(a))).toEqual([]);
    }

    // Servicing runs moved to N+1 by themselves: the runs they continue as new start there and
    // take its new step; the run that moved mid-history replayed on N+1 taking the old one.
    const continued = await payUntilContinuedAsNew(midTerm.workflowId, 'on-n1');
    const servicedContinued = await payUntilContinuedAsNew(loanServicingWorkflowId(servicedLoan), 'on-n1');
    await startedOnNextRelease('upgrade-loan-1', continued);
    await startedOnNextRelease(applicationIdOf(serviced), servicedContinued);

    // ---- N drained: its applications ended as they handed their loans over (patch
    // hand-over-to-servicing), so none is left waiting years for its loan to be moved. (Runs of
    // releases before that patch still wait, and are moved as the release procedure says.)
    const waitingForLoans = await moveRuns(env.client, N, N1, `LoanStage = 'servicing'`);
    expect(waitingForLoans).toEqual([]);
    expect(await openRuns(env.client, N)).toEqual([]);
    workerN.worker.shutdown();
    await workerN.running;

    // ---- every loan paid off: servicing closes it, and each application reads closed --------
    for (const loanId of loans) expect(await payOff(loanId)).toMatchObject({ outcome: 'closed', how: 'early_payoff' });
    expect(await env.client.workflow.getHandle<typeof loanServicing>(midTerm.workflowId).query(servicingStateQuery)).toMatchObject({ status: 'active' });
    expect(await payOff(seededLoan.loanId)).toMatchObject({ outcome: 'closed', how: 'early_payoff' });
    for (const a of applications) {
      expect(await a.result()).toEqual<LoanApplicationResult>({ stage: 'servicing', outcomeReason: 'HANDED_TO_SERVICING', loanId: expect.any(String), servicingWorkflowId: expect.any(String) });
      const [row] = await h.db.select({ stage: applications_.stage }).from(applications_).where(eq(applications_.id, applicationIdOf(a)));
      expect(row?.stage).toBe('closed');
    }
    await fresh.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', fresh.workflowId, { actor: 'officer-1', reasonCode: 'CUSTOMER_CHANGED_MIND' })] });
    expect(await fresh.result()).toMatchObject({ stage: 'withdrawn' });

    // No workflow task of any run failed, and every run replays on N+1's code.
    const runs: { id: string; history: temporal.api.history.v1.IHistory }[] = [];
    for await (const w of env.client.workflow.list({ query: `TaskQueue = '${TASK_QUEUE}'` })) {
      runs.push({ id: `${w.workflowId}/${w.runId}`, history: await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory() });
    }
    expect(runs.length).toBeGreaterThanOrEqual(applications.length * 2 + 1 + 3);
    const failedTasks = runs.flatMap((r) =>
      (r.history.events ?? [])
        .filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
        .map((e) => `${r.id}: ${e.workflowTaskFailedEventAttributes?.failure?.message}`),
    );
    expect(failedTasks).toEqual([]);
    for (const r of runs) await Worker.runReplayHistory({ workflowBundle: bundleN1 }, r.history, r.id.split('/')[0]!);
  });
});
