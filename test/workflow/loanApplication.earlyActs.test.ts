import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import { loanEvents } from '../../src/db/schema';
import type { SandboxProvider } from '../../src/sandbox/faults';
import * as tv from '../../src/sandbox/test-values';
import {
  approvalDecisionUpdate,
  contractSignedUpdate,
  phoneVerificationCompletedUpdate,
  stateQuery,
  type LoanState,
} from '../../src/workflows/messages';
import { signAct } from '../helpers/acts';
import { keepHistory } from '../helpers/histories';
import { decide, phoneOutcome, useLoanWorld, walkToApproval, waitForState, type LoanHandle, type LoanWorld } from '../helpers/loanWorld';
import { eventually } from '../helpers/servicing';

// An act for the stage a person sees is taken even while the workflow is still between two steps
// of that stage (the call task, the decision rules, the envelope not yet there): it waits for the
// step that takes it, instead of being refused as "not waiting" (issue 16, item 6). The window is
// held open by the sandbox: the provider that step calls answers 503 (retried by its activity)
// until the test releases it.

let w: LoanWorld;
useLoanWorld(
  (world) => ({ w } = world),
  (world) => world.admin.clearFaults(),
);

/** Holds the step that calls `provider` until released: every request answered 503 and retried. */
async function hold(provider: SandboxProvider) {
  await w.admin.setFault({ provider, mode: 'error_5xx' });
  return {
    /** The step has called the provider at least once: the stage is past its entry, inside the window. */
    tried: () => eventually(async () => expect((await w.admin.listFaults()).find((f) => f.provider === provider)?.injected).toBeGreaterThan(0), 120_000),
    release: () => w.admin.clearFaults(provider),
  };
}

async function recorded(applicationId: string, kind: string) {
  return w.h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, applicationId), eq(loanEvents.kind, kind)));
}

/** The act was accepted (the update is in the history) and is waiting: nothing of it applied or refused yet. */
async function expectWaiting(handle: LoanHandle, unapplied: (s: LoanState) => unknown) {
  const s = await handle.query(stateQuery);
  expect(unapplied(s)).toBeFalsy();
  expect(s.refusedActs).toEqual([]);
}

const passed = { actor: 'verifier-1', outcome: 'passed' as const, recordingRef: 'rec-early', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

describe('an act for the stage shown, before the step that takes it', () => {
  it('a phone verification recorded while the call task is being opened counts for that call', async () => {
    const callCentre = await hold('callCentre');
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForState(handle, (s) => s.stage === 'phone_verification', 'phone_verification shown');
    await callCentre.tried();
    const update = await handle.startUpdate(phoneVerificationCompletedUpdate, {
      args: [await signAct('phoneVerificationCompleted', handle.workflowId, passed)],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await expectWaiting(handle, (s) => s.pendingTask);
    await callCentre.release();
    const answer = await update.result();
    // Applied to that call: the verification passed, and the answer is the stage it moved the run to.
    expect(answer.stage).toBe('valuation');
    const s = await waitForState(handle, (x) => x.pendingTask?.kind === 'approval', 'approval');
    expect(s.phoneAttempts).toBe(1);
    const [applied] = await eventually(async () => {
      const rows = await recorded(seeded.applicationId, 'phone_verification_completed');
      expect(rows).toHaveLength(1);
      return rows;
    }, 120_000);
    expect(applied!.data).toMatchObject({ via: 'update', outcome: 'passed', attempt: 1 });
    expect(await recorded(seeded.applicationId, 'act_refused')).toEqual([]);
    await keepHistory(handle, 'early-phone-verification');
  });

  it('an approval sent while the decision rules run is counted once they have made the offer', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const bureau = await hold('creditBureau');
    await waitForState(handle, (s) => s.pendingTask?.kind === 'phone_verification', 'phone verification');
    await phoneOutcome(handle, 'passed');
    await waitForState(handle, (s) => s.stage === 'approval', 'approval shown');
    await bureau.tried();
    const update = await handle.startUpdate(approvalDecisionUpdate, {
      args: [await signAct('approvalDecision', handle.workflowId, { actor: 'approver-1', decision: 'approve' as const })],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await expectWaiting(handle, (s) => s.riskGrade ?? s.decisions.length);
    await bureau.release();
    const answer = await update.result();
    expect(answer.decisions).toEqual([expect.objectContaining({ actor: 'approver-1', decision: 'approve', counted: true })]);
    expect(answer.offer).not.toBeNull();
    await waitForState(handle, (s) => s.stage === 'signing', 'signing');
    await keepHistory(handle, 'early-approval');
  });

  it('a signature given on site while the envelope is being opened signs that envelope', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    const esign = await hold('esign');
    await decide(handle, 'approver-1');
    await waitForState(handle, (s) => s.stage === 'signing', 'signing shown');
    await esign.tried();
    const onSite = { actor: 'officer-1', source: 'on_site' as const, signedAt: new Date().toISOString() };
    const update = await handle.startUpdate(contractSignedUpdate, { args: [await signAct('contractSigned', handle.workflowId, onSite)], waitForStage: WorkflowUpdateStage.ACCEPTED });
    await expectWaiting(handle, (s) => s.envelopeId);
    await esign.release();
    const answer = await update.result();
    expect(answer.envelopeId).toEqual(expect.any(String));
    const s = await waitForState(handle, (x) => x.stage === 'servicing', 'servicing');
    const [signed] = await recorded(seeded.applicationId, 'contract_signed');
    expect(signed!.data).toMatchObject({ source: 'on_site', envelopeId: s.envelopeId });
    await keepHistory(handle, 'early-signature');
  });

  it('an early approval the stage then does not ask for (the rules declined) is refused, and recorded', async () => {
    const seeded = await w.seed({ applicant: { idNumber: tv.CREDIT_LOW_SCORE_ID } });
    const handle = await w.start(seeded);
    const bureau = await hold('creditBureau');
    await waitForState(handle, (s) => s.pendingTask?.kind === 'phone_verification', 'phone verification');
    await phoneOutcome(handle, 'passed');
    await waitForState(handle, (s) => s.stage === 'approval', 'approval shown');
    await bureau.tried();
    const update = await handle.startUpdate(approvalDecisionUpdate, {
      args: [await signAct('approvalDecision', handle.workflowId, { actor: 'approver-1', decision: 'approve' as const })],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await bureau.release();
    const err = await update.result().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).details?.[0]).toMatchObject({ code: 'NOT_WAITING', stage: 'approval' });
    const s = await waitForState(handle, (x) => x.stage === 'rejected', 'rejected');
    expect(s.decisions).toEqual([expect.objectContaining({ actor: 'system', decision: 'auto_decline' })]);
    expect(s.refusedActs).toEqual([expect.objectContaining({ act: 'approvalDecision', actor: 'approver-1', code: 'NOT_WAITING' })]);
    const [refusedRow] = await eventually(async () => {
      const rows = await recorded(seeded.applicationId, 'act_refused');
      expect(rows).toHaveLength(1);
      return rows;
    }, 120_000);
    expect(refusedRow!.data).toMatchObject({ act: 'approval_decision', via: 'update', code: 'NOT_WAITING' });
    await keepHistory(handle, 'early-approval-refused-after-auto-decline');
  });
});
