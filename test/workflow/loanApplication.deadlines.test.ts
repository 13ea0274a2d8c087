import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createProviderClients } from '../../src/activities/providers';
import { loanEvents } from '../../src/db/schema';
import { DEFAULT_POLICY, HOUR_MS, DAY_MS, MINUTE_MS } from '../../src/domain';
import { documentsSubmittedUpdate, stateQuery } from '../../src/workflows/messages';
import { PendingTask } from '../../src/workflows/searchAttributes';
import { keepHistory } from '../helpers/histories';
import { phoneOutcome, signOnSite, useLoanWorld, walkToApproval, walkToSigning, waitForState, waitForTask, type LoanWorld } from '../helpers/loanWorld';
import { addDocuments } from '../helpers/seed';

// Every wait has its deadline from the policy: escalation to a supervisor at the SLA, expiry at the
// hard deadline with the compensations of the steps already done. Time is skipped by the test server.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
useLoanWorld((world) => ({ env, w } = world));

const { phoneVerification, approval, documentSetMs, offerExpiryMs } = DEFAULT_POLICY.deadlines;

async function events(applicationId: string, kind: string) {
  return w.h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, applicationId), eq(loanEvents.kind, kind)));
}

describe('document set', () => {
  it('expires after 7 days without a complete set', async () => {
    const seeded = await w.seed({ documents: ['id_card', 'driver_license', 'purchase_contract'] });
    const handle = await w.start(seeded);
    const waiting = await waitForTask(handle, 'submit_documents');
    expect(waiting.documents.missing).toEqual(['income_proof']);
    expect(Date.parse(waiting.pendingTask!.deadline) - Date.parse(waiting.pendingTask!.since)).toBeLessThanOrEqual(documentSetMs);
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
    await handle.executeUpdate(documentsSubmittedUpdate, { args: [{ actor: 'officer-1', documentIds: [docId!] }] });
    const s = await waitForTask(handle, 'phone_verification');
    expect(s.documents.missing).toEqual([]);
  });
});

describe('phone verification', () => {
  it('escalates to a supervisor at the 24 h SLA, expires at 72 h and cancels the open call task', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const waiting = await waitForTask(handle, 'phone_verification');
    expect(Date.parse(waiting.pendingTask!.slaAt!) - Date.parse(waiting.pendingTask!.since)).toBeLessThanOrEqual(phoneVerification.slaMs);
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

  it('still takes the outcome after the escalation, before the expiry', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    await env.sleep(phoneVerification.slaMs + HOUR_MS);
    await waitForState(handle, (s) => s.pendingTask?.escalated === true, 'escalation');
    await phoneOutcome(handle, 'passed');
    const s = await waitForTask(handle, 'approval');
    expect(s.flags).toContain('PHONE_VERIFICATION_ESCALATED');
    expect(s.pendingTask!.escalated).toBe(false);
  });
});

describe('approval', () => {
  it('escalates at the SLA and expires after 7 days without a decision', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const waiting = await walkToApproval(handle);
    expect(Date.parse(waiting.pendingTask!.deadline) - Date.parse(waiting.pendingTask!.since)).toBeLessThanOrEqual(approval.expiryMs);
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
    expect(Date.parse(waiting.pendingTask!.deadline) - Date.parse(waiting.pendingTask!.since)).toBeLessThanOrEqual(offerExpiryMs);
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
    await handle.executeUpdate('contractSignedUpdate', {
      args: [{ actor: 'esign-provider', source: 'esign_callback', envelopeId: signing.envelopeId!, signedAt: new Date().toISOString() }],
    });
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
      handle.executeUpdate('contractSignedUpdate', { args: [{ actor: 'esign-provider', source: 'esign_callback', envelopeId: 'env_other', signedAt: new Date().toISOString() }] }),
    ).rejects.toThrow();
    await signOnSite(handle);
    await waitForState(handle, (s) => s.stage === 'servicing');
  });
});
