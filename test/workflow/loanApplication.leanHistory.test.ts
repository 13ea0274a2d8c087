import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { asc, eq } from 'drizzle-orm';
import { applications, loanEvents } from '../../src/db/schema';
import { loanServicingWorkflowId } from '../../src/workflows/messages';
import { decide, phoneOutcome, signOnSite, useLoanWorld, type LoanWorld } from '../helpers/loanWorld';
import { PATIENCE_MS, waitFor } from '../helpers/wait';

// The history holds the business, not the bookkeeping (issue 17): on the happy path one
// application, from intake until it has started its servicing child, schedules at most 20
// activities and writes at most 130 events, while loan_events still lists every stage entered and
// every act (who and when) and the applications row the work queues read matches the run.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
useLoanWorld((world) => ({ env, w } = world));

const EventType = temporal.api.enums.v1.EventType;
const FULL_PATH = ['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing', 'disbursement', 'servicing'];
const MAX_ACTIVITIES = 20;
const MAX_EVENTS = 130;

/**
 * The row the work queues read, once it shows `ready`. The walk follows the row as staff do, not
 * the run's `state` query: a query that arrives while a workflow task is in flight makes the server
 * add a workflow task to the history to answer it, so the count would depend on the polling.
 */
async function queueRow(applicationId: string, ready: (r: typeof applications.$inferSelect) => boolean, what: string) {
  return waitFor(async () => {
    const [r] = await w.h.db.select().from(applications).where(eq(applications.id, applicationId));
    return r && ready(r) ? r : undefined;
  }, what);
}

it('a new car at a branch: at most 20 activities and 130 events to servicing, the audit trail and the row complete', async () => {
  const startedAt = new Date(Date.now() - 1000);
  const seeded = await w.seed({ channel: 'branch' });
  const handle = await w.start(seeded);
  await queueRow(seeded.applicationId, (r) => r.pendingTask === 'phone_verification', 'the call task in the work queue');
  await phoneOutcome(handle, 'passed');
  await queueRow(seeded.applicationId, (r) => r.pendingTask === 'approval', 'the approval in the work queue');
  await decide(handle, 'approver-1');
  await queueRow(seeded.applicationId, (r) => r.pendingTask === 'sign_contract', 'the contract in the work queue');
  await signOnSite(handle);
  const serviced = await queueRow(seeded.applicationId, (r) => r.stage === 'servicing' && r.loanId !== null, 'the loan in servicing');
  const state = { loanId: serviced.loanId!, riskGrade: serviced.riskGrade };
  const child = env.client.workflow.getHandle(loanServicingWorkflowId(state.loanId!));
  await waitFor(() => child.describe().then((d) => d.status.name === 'RUNNING' || undefined, () => undefined), 'the servicing child to run');

  // The history until the child has started (what follows is the run waiting on its child).
  const events = (await handle.fetchHistory()).events ?? [];
  const childStarted = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED);
  expect(childStarted).toBeGreaterThan(0);
  const toServicing = events.slice(0, childStarted + 1);
  const scheduled = toServicing.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  const markers = toServicing.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED);
  process.stdout.write(
    `happy path to servicing: ${toServicing.length} history events, ${scheduled.length} activities ` +
      `(${scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).join(', ')}), ${markers.length} markers\n`,
  );
  // DUMP_HISTORY=1 lists the events, to see where a change adds some.
  if (process.env.DUMP_HISTORY) process.stdout.write(toServicing.map((e) => `${e.eventId} ${EventType[e.eventType!]} ${e.activityTaskScheduledEventAttributes?.activityType?.name ?? e.markerRecordedEventAttributes?.markerName ?? ''}`).join('\n') + '\n');
  expect(scheduled.length).toBeLessThanOrEqual(MAX_ACTIVITIES);
  expect(toServicing.length).toBeLessThanOrEqual(MAX_EVENTS);
  // No bookkeeping activity is left in the history.
  expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).not.toContainEqual(expect.stringMatching(/^(recordLoanEvent|mirrorStage)$/));

  // The audit trail: every stage entered, in order, and every act with its actor and time.
  const trail = async () => w.h.db.select().from(loanEvents).where(eq(loanEvents.applicationId, seeded.applicationId)).orderBy(asc(loanEvents.seq));
  await waitFor(async () => ((await trail()).some((r) => r.kind === 'stage_entered' && r.stage === 'servicing') ? true : undefined), 'servicing in loan_events');
  const rows = await trail();
  expect(rows.filter((r) => r.kind === 'stage_entered').map((r) => r.stage)).toEqual(FULL_PATH);
  const kinds = rows.map((r) => r.kind);
  for (const kind of ['documents_checked', 'vehicle_valued', 'credit_assessed', 'envelope_sent', 'disbursed', 'loan_created']) expect(kinds).toContain(kind);
  const acts = rows.filter((r) => ['phone_verification_completed', 'approval_decision', 'contract_signed'].includes(r.kind));
  expect(acts.map((r) => [r.kind, r.actor, r.stage])).toEqual([
    ['phone_verification_completed', 'verifier-1', 'phone_verification'],
    ['approval_decision', 'approver-1', 'approval'],
    ['contract_signed', 'officer-1', 'signing'],
  ]);
  for (const r of rows) {
    expect(r.occurredAt.getTime()).toBeGreaterThanOrEqual(startedAt.getTime());
    expect(r.occurredAt.getTime()).toBeLessThanOrEqual(Date.now());
  }
  // Each act is recorded in the stage it was taken in, after that stage was entered and before the next.
  const seqOf = (kind: string, stage?: string) => rows.find((r) => r.kind === kind && (stage === undefined || r.stage === stage))!.seq;
  expect(seqOf('phone_verification_completed')).toBeGreaterThan(seqOf('stage_entered', 'phone_verification'));
  expect(seqOf('phone_verification_completed')).toBeLessThan(seqOf('stage_entered', 'valuation'));
  expect(seqOf('contract_signed')).toBeLessThan(seqOf('stage_entered', 'disbursement'));

  // The applications row the work queues read is the run's final state.
  const [row] = await w.h.db.select().from(applications).where(eq(applications.id, seeded.applicationId));
  expect(row).toMatchObject({
    stage: 'servicing',
    pendingTask: null,
    pendingSince: null,
    slaAt: null,
    deadlineAt: null,
    escalated: false,
    riskGrade: state.riskGrade,
    loanId: state.loanId,
  });
  expect(row!.workflowStartedAt).toEqual(expect.any(Date));
}, PATIENCE_MS * 3);
