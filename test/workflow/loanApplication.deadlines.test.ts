import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createProviderClients } from '../../src/activities/providers';
import { applications, loanEvents } from '../../src/db/schema';
import { DEFAULT_POLICY, HOUR_MS, DAY_MS, MINUTE_MS } from '../../src/domain';
import { ACT_REFUSED, documentsSubmittedUpdate, stateQuery, type LoanState } from '../../src/workflows/messages';
import { PendingTask } from '../../src/workflows/searchAttributes';
import { keepHistory } from '../helpers/histories';
import { phoneOutcome, signOnSite, useLoanWorld, walkToApproval, walkToSigning, waitForState, waitForTask, type LoanWorld } from '../helpers/loanWorld';
import { addDocuments } from '../helpers/seed';
import { signAct } from '../helpers/acts';

// Every wait has its deadline from the policy: escalation to a supervisor at the SLA, expiry at the
// hard deadline with the compensations of the steps already done. Time is skipped by the test server.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
useLoanWorld((world) => ({ env, w } = world));

const { phoneVerification, approval, documentSetMs, offerExpiryMs } = DEFAULT_POLICY.deadlines;

/**
 * A deadline `policyMs` after the stage began: the workflow counts from a moment between entering
 * the stage and opening the task, so it lies no earlier than entry + policy and no later than
 * since + policy. (A zero-length or doubled deadline fails one of the two.)
 */
function expectDeadline(s: LoanState, at: string | undefined, policyMs: number) {
  const entered = Date.parse(s.stageHistory.filter((h) => h.stage === s.stage).at(-1)!.at);
  const since = Date.parse(s.pendingTask!.since);
  const deadline = Date.parse(at!);
  expect(deadline - entered).toBeGreaterThanOrEqual(policyMs);
  expect(deadline - since).toBeLessThanOrEqual(policyMs);
}

async function events(applicationId: string, kind: string) {
  return w.h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, applicationId), eq(loanEvents.kind, kind)));
}

describe('document set', () => {
  it('expires after 7 days without a complete set', async () => {
    const seeded = await w.seed({ documents: ['id_card', 'driver_license', 'purchase_contract'] });
    const handle = await w.start(seeded);
    const waiting = await waitForTask(handle, 'submit_documents');
    expect(waiting.documents.missing).toEqual(['income_proof']);
    expectDeadline(waiting, waiting.pendingTask!.deadline, documentSetMs);
    await env.sleep(documentSetMs + MINUTE_MS);
    expect(await w.result(handle)).toEqual({ stage: 'expired', outcomeReason: 'DOCUMENTS_INCOMPLETE', loanId: null });
    const texts = (await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template);
    expect(texts).toEqual(['documents_missing', 'application_expired']);
    await keepHistory(handle, 'expired-documents');
  });

  it('goes on when the missing document arrives before the deadline', async () => {
    const seeded = await w.seed({ documents: ['id_card', 'driver_license', 'purchase_contract'] });
    const handle = await w.start(seeded);
    await waitForTask(handle, 'submit_documents');
    await env.sleep(documentSetMs - DAY_MS);
    const [docId] = await addDocuments(w.h.db, seeded.applicationId, [{ type: 'income_proof' }]);
    await handle.executeUpdate(documentsSubmittedUpdate, { args: [await signAct('documentsSubmitted', handle.workflowId, { actor: 'officer-1', documentIds: [docId!] })] });
    const s = await waitForTask(handle, 'phone_verification');
    expect(s.documents.missing).toEqual([]);
  });
});

describe('phone verification', () => {
  it('escalates to a supervisor at the 24 h SLA, expires at 72 h and cancels the open call task', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const waiting = await waitForTask(handle, 'phone_verification');
    expectDeadline(waiting, waiting.pendingTask!.slaAt, phoneVerification.slaMs);
    expectDeadline(waiting, waiting.pendingTask!.deadline, phoneVerification.expiryMs);
    expect(waiting.pendingTask!.escalated).toBe(false);

    await env.sleep(phoneVerification.slaMs + HOUR_MS);
    const escalated = await waitForState(handle, (s) => s.pendingTask?.escalated === true, 'escalation');
    expect(escalated.stage).toBe('phone_verification');
    expect(escalated.flags).toContain('PHONE_VERIFICATION_ESCALATED');
    await w.settle(); // the state shows the escalation before the activity that records it has run
    expect(await events(seeded.applicationId, 'escalated')).toEqual([expect.objectContaining({ data: expect.objectContaining({ task: 'phone_verification', to: 'supervisor' }) })]);
    expect((await handle.describe()).typedSearchAttributes.get(PendingTask)).toBe('phone_verification');

    // Not yet expired just before 72 h…
    await env.sleep(phoneVerification.expiryMs - phoneVerification.slaMs - 2 * HOUR_MS);
    expect((await handle.query(stateQuery)).stage).toBe('phone_verification');
    // …expired after.
    await env.sleep(2 * HOUR_MS);
    expect(await w.result(handle)).toEqual({ stage: 'expired', outcomeReason: 'PHONE_VERIFICATION_EXPIRED', loanId: null });
    const [task] = await w.admin.callTasks(seeded.applicationId);
    expect(task!.status).toBe('cancelled');
    expect(await events(seeded.applicationId, 'compensated')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ step: 'call-task-1', result: 'cancelled', reason: 'PHONE_VERIFICATION_EXPIRED' }) }),
    ]);
    await keepHistory(handle, 'expired-phone-verification');
  });

  it('still takes the outcome after the escalation, before the expiry; the work queue row follows both', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const waiting = await waitForTask(handle, 'phone_verification');
    const row = async () => (await w.h.db.select().from(applications).where(eq(applications.id, seeded.applicationId)))[0]!;
    const mirrored = async (ok: (r: Awaited<ReturnType<typeof row>>) => boolean, what: string) => {
      for (let i = 0; i < 600; i++) {
        const r = await row();
        if (ok(r)) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`the applications row never showed ${what}: ${JSON.stringify(await row())}`);
    };
    const before = await mirrored((r) => r.slaAt !== null, 'the SLA');
    expect(before).toMatchObject({ pendingTask: 'phone_verification', escalated: false, approvalsNeeded: null });
    expect(before.slaAt!.toISOString()).toBe(waiting.pendingTask!.slaAt);
    expect(before.deadlineAt!.toISOString()).toBe(waiting.pendingTask!.deadline);
    expect(before.pendingSince!.toISOString()).toBe(waiting.pendingTask!.since);

    await env.sleep(phoneVerification.slaMs + HOUR_MS);
    await waitForState(handle, (s) => s.pendingTask?.escalated === true, 'escalation');
    // The escalation changes no search attribute, but the supervisor's queue reads the row.
    await mirrored((r) => r.escalated, 'the escalation');
    await phoneOutcome(handle, 'passed');
    const s = await waitForTask(handle, 'approval');
    expect(s.flags).toContain('PHONE_VERIFICATION_ESCALATED');
    expect(s.pendingTask!.escalated).toBe(false);
    const approving = await mirrored((r) => r.pendingTask === 'approval', 'the approval task');
    expect(approving).toMatchObject({ escalated: false, approvalsNeeded: 1, approvedBy: [] });
    await keepHistory(handle, 'phone-escalated-then-passed-mirrored');
  });
});

describe('approval', () => {
  it('escalates at the SLA and expires after 7 days without a decision', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const waiting = await walkToApproval(handle);
    expectDeadline(waiting, waiting.pendingTask!.slaAt, approval.slaMs);
    expectDeadline(waiting, waiting.pendingTask!.deadline, approval.expiryMs);
    await env.sleep(approval.slaMs + HOUR_MS);
    const escalated = await waitForState(handle, (s) => s.pendingTask?.escalated === true, 'escalation');
    expect(escalated.flags).toContain('APPROVAL_ESCALATED');
    await env.sleep(approval.expiryMs - approval.slaMs);
    expect(await w.result(handle)).toEqual({ stage: 'expired', outcomeReason: 'APPROVAL_EXPIRED', loanId: null });
    await keepHistory(handle, 'expired-approval');
  });
});

describe('offer', () => {
  it('expires after 7 days unsigned: the envelope is voided', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const waiting = await walkToSigning(handle);
    expectDeadline(waiting, waiting.pendingTask!.deadline, offerExpiryMs);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['signing_link']);

    await env.sleep(offerExpiryMs + MINUTE_MS);
    expect(await w.result(handle)).toEqual({ stage: 'expired', outcomeReason: 'OFFER_EXPIRED', loanId: null });
    const envelope = await createProviderClients(w.sandbox.providers).esign.getEnvelope(waiting.envelopeId!);
    expect(envelope).toMatchObject({ status: 'voided', voidReason: 'OFFER_EXPIRED' });
    expect(await events(seeded.applicationId, 'compensated')).toEqual([expect.objectContaining({ data: expect.objectContaining({ step: 'envelope', result: 'voided' }) })]);
    await keepHistory(handle, 'expired-offer');
  });

  it('expires a signed used-car contract whose mortgage is never registered: cancelled, and the customer told', async () => {
    const seeded = await w.seed({ vehicle: { condition: 'used' } });
    const handle = await w.start(seeded);
    const signing = await walkToSigning(handle);
    // The customer signs through the provider (whose webhook would tell the API, which sends the act).
    await w.admin.signEnvelope(signing.envelopeId!);
    const signed = { actor: 'esign-provider', source: 'esign_callback' as const, envelopeId: signing.envelopeId!, signedAt: new Date().toISOString() };
    await handle.executeUpdate('contractSignedUpdate', { args: [await signAct('contractSigned', handle.workflowId, signed)] });
    await waitForTask(handle, 'register_collateral');
    await env.sleep(offerExpiryMs + MINUTE_MS);
    expect(await w.result(handle)).toEqual({ stage: 'expired', outcomeReason: 'OFFER_EXPIRED', loanId: null });
    expect(await events(seeded.applicationId, 'compensated')).toEqual([expect.objectContaining({ data: expect.objectContaining({ step: 'envelope', result: 'contract_cancelled' }) })]);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['signing_link', 'contract_cancelled', 'application_expired']);
  });

  it('refuses a signature for another envelope than the one open', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await walkToSigning(handle);
    await expect(
      handle.executeUpdate('contractSignedUpdate', {
        args: [await signAct('contractSigned', handle.workflowId, { actor: 'esign-provider', source: 'esign_callback' as const, envelopeId: 'env_other', signedAt: new Date().toISOString() })],
      }),
    ).rejects.toMatchObject({
      name: 'WorkflowUpdateFailedError',
      cause: { type: ACT_REFUSED, details: [expect.objectContaining({ code: 'INVALID_ACT', stage: 'signing', message: expect.stringMatching(/another envelope/) })] },
    });
    await signOnSite(handle);
    await waitForState(handle, (s) => s.stage === 'servicing');
  });
});
