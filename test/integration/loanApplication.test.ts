import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import { disbursementReference } from '../../src/activities/payments';
import { loanServicingWorkflowId } from '../../src/workflows/messages';
import { BranchId, LoanChannel, LoanStage, PendingTask, RiskGrade } from '../../src/workflows/searchAttributes';
import { decide, signOnSite, startLoanWorld, waitForState, waitForTask, walkToApproval, type LoanHandle, type LoanWorld } from '../helpers/loanWorld';
import { newId } from '../helpers/seed';
import { localEnv } from '../helpers/temporal';
import { PATIENCE_MS, sleep, waitFor } from '../helpers/wait';

// One application from intake to servicing on a real dev server (real visibility), the real
// activities calling the provider sandbox over HTTP, a real database: what an engineer sees in the
// Temporal UI — search attributes, summaries, details — is checked through the same APIs the UI uses.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
beforeAll(async () => {
  env = await localEnv();
  w = await startLoanWorld(env);
});
afterAll(async () => {
  await w?.cleanup();
  await w?.close();
  await env?.teardown();
});

/** Visibility is eventually consistent: ask until the count is what is expected (or time is up). */
async function countOf(query: string, expected: number): Promise<number> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const count = (await env.client.workflow.count(query)).count;
    if (count === expected || Date.now() > deadline) return count;
    await sleep(250);
  }
}

const decode = (p: temporal.api.common.v1.IPayload | null | undefined) => (p ? defaultPayloadConverter.fromPayload<string>(p) : undefined);

/**
 * Waits until the run has started the timer of a human wait. The pending task shows in the state
 * a step before the wait begins (the mirror write comes between), and an act that lands in that
 * step leaves no timer at all: acting only once the timer exists makes the history the test reads
 * the same on a quiet machine and a busy one.
 */
async function waitForTimer(handle: Pick<LoanHandle, 'workflowId' | 'fetchHistory'>, summary: string | ((s: string) => boolean)): Promise<void> {
  const until = Date.now() + 120_000;
  const fits = typeof summary === 'string' ? (s: string) => s === summary : summary;
  for (;;) {
    const history = await handle.fetchHistory();
    if ((history.events ?? []).some((e) => e.timerStartedEventAttributes && fits(decode(e.userMetadata?.summary) ?? ''))) return;
    if (Date.now() > until) throw new Error(`${handle.workflowId} started no timer "${summary}" within 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it('walks an application from intake to servicing, findable by stage in visibility', async () => {
  const branchId = `IT-${newId('br')}`;
  const seeded = await w.seed({ channel: 'dealer', branchId, dealerAccount: '6222000011113333777', dealerId: 'D-IT-1' });
  const handle = await w.start(seeded);

  // While it waits for the verifier, the queue query finds it.
  await waitForTask(handle, 'phone_verification');
  expect(await countOf(`LoanStage = "phone_verification" AND PendingTask = "phone_verification" AND BranchId = "${branchId}"`, 1)).toBe(1);
  const metadata = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
  expect(metadata.currentDetails).toContain('**Waiting for** phone_verification by verifier');
  // Times in Asia/Shanghai, to the minute; never an ISO timestamp.
  expect(metadata.currentDetails).toMatch(/since \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia\/Shanghai\) · SLA \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia\/Shanghai\) · deadline \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia\/Shanghai\)/);
  expect(metadata.currentDetails).not.toMatch(/T\d{2}:\d{2}:\d{2}/);

  await waitForTimer(handle, 'phone verification attempt 1: escalate at the SLA');
  await walkToApproval(handle);
  await waitForTimer(handle, 'approval: escalate at the SLA');
  await decide(handle, 'approver-1');
  await waitForTask(handle, 'sign_contract');
  await signOnSite(handle);
  const s = await waitForState(handle, (x) => x.stage === 'servicing' || x.stage === 'failed', 'servicing');
  expect(s.stage).toBe('servicing');

  // One loan, one result: the application run ends once its servicing run has started, and only
  // the servicing run says servicing. A branch's loan book is one query.
  const servicingId = loanServicingWorkflowId(s.loanId!);
  expect(await handle.result()).toEqual({ stage: 'servicing', outcomeReason: 'HANDED_TO_SERVICING', loanId: s.loanId, servicingWorkflowId: servicingId });
  expect(await countOf(`LoanStage = "handed_over" AND BranchId = "${branchId}" AND ExecutionStatus = "Completed"`, 1)).toBe(1);
  expect(await countOf(`LoanStage = "servicing" AND BranchId = "${branchId}"`, 1)).toBe(1);
  const [listed] = await collect(env.client.workflow.list({ query: `LoanStage = "servicing" AND BranchId = "${branchId}" AND LoanChannel = "dealer"` }));
  expect(listed?.workflowId).toBe(servicingId);
  expect(listed?.status.name).toBe('RUNNING');
  expect(await countOf(`WorkflowType = "loanServicing" AND BranchId = "${branchId}" AND RiskGrade = "${s.riskGrade}" AND LoanAmountFen = ${s.offer!.amountFen}`, 1)).toBe(1);

  const described = await handle.describe();
  expect(described.typedSearchAttributes.get(LoanStage)).toBe('handed_over');
  const appDetails = (await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
  expect(appDetails).toMatch(/\*\*Offer\*\* [\d,]+\.\d{2} CNY · \d+ months · \d+\.\d{2}% a year \(APR \d+\.\d{2}%\)/);
  expect(appDetails).toContain(`**Loan** ${s.loanId} · servicing workflow ${servicingId}`);
  expect(appDetails).toContain('**Outcome** HANDED_TO_SERVICING');
  expect(described.typedSearchAttributes.get(LoanChannel)).toBe('dealer');
  expect(described.typedSearchAttributes.get(BranchId)).toBe(branchId);
  expect(described.typedSearchAttributes.get(PendingTask)).toBe('none');
  expect(described.typedSearchAttributes.get(RiskGrade)).toBe(s.riskGrade);
  expect(await described.staticSummary()).toContain(`Car loan ${seeded.applicationId}`);
  expect(await described.staticDetails()).toContain(`branch ${branchId}`);

  // Activities and timers carry summaries the UI shows.
  const history = await handle.fetchHistory();
  const activitySummaries = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => decode(e.userMetadata?.summary));
  expect(activitySummaries).toEqual(expect.arrayContaining(['pull the credit report and run the decision rules', 'value the vehicle (make, model, year, mileage)']));
  expect(activitySummaries.every((x) => typeof x === 'string' && x.length > 0)).toBe(true);
  // The database steps and the bookkeeping are local activities (issue 17): markers, with their summaries too.
  const localSummaries = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').map((e) => decode(e.userMetadata?.summary));
  expect(localSummaries).toEqual(expect.arrayContaining(['blacklist and duplicate-application screen', 'store the loan and its repayment schedule', 'record stage_entered; mirror servicing / none to the applications row']));
  expect(localSummaries.every((x) => typeof x === 'string' && x.length > 0)).toBe(true);
  const timerSummaries = (history.events ?? []).filter((e) => e.timerStartedEventAttributes).map((e) => decode(e.userMetadata?.summary));
  expect(timerSummaries).toEqual(expect.arrayContaining(['phone verification attempt 1: escalate at the SLA', 'approval: escalate at the SLA']));

  // The loan runs on as its own servicing workflow, paid out once to the dealer, shown as the
  // application is: summary, details, current details, activities and its timer summarised.
  const child = env.client.workflow.getHandle(servicingId);
  const serviced = await waitFor(() => child.describe().catch(() => undefined), 'the servicing workflow');
  expect(serviced.status.name).toBe('RUNNING');
  expect(await serviced.staticSummary()).toMatch(new RegExp(`^Servicing of loan ${s.loanId}: [\\d,]+\\.\\d{2} CNY over \\d+ months at \\d+\\.\\d{2}%, dealer ${branchId} \\(dealer D-IT-1\\)$`));
  expect(await serviced.staticDetails()).toContain(`**Sold** dealer · branch ${branchId} · dealer D-IT-1 · risk grade ${s.riskGrade}`);
  await waitForTimer(child, (x) => x.startsWith('next look at the loan: '));
  const servicingDetails = (await child.query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
  expect(servicingDetails).toMatch(/\*\*Terms\*\* [\d,]+\.\d{2} CNY · \d+ months · \d+\.\d{2}% a year \(APR \d+\.\d{2}%\)/);
  expect(servicingDetails).toMatch(/\*\*Next look\*\* \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia\/Shanghai\)/);
  expect(servicingDetails).not.toMatch(/bps/);
  const servicingHistory = (await child.fetchHistory()).events ?? [];
  const servicingActivities = servicingHistory.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => decode(e.userMetadata?.summary));
  expect(servicingActivities).toEqual(expect.arrayContaining(["read the loan's position", 'record servicing_started']));
  expect(servicingActivities.every((x) => typeof x === 'string' && x.length > 0)).toBe(true);
  const ledger = await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) });
  expect(ledger).toMatchObject({ count: 1, entries: [expect.objectContaining({ accountLast4: '3777' })] });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
