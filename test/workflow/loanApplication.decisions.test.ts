import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import { disbursementReference } from '../../src/activities/payments';
import { loanEvents } from '../../src/db/schema';
import * as tv from '../../src/sandbox/test-values';
import {
  ACT_REFUSED,
  approvalDecisionSignal,
  approvalDecisionUpdate,
  contractSignedSignal,
  contractSignedUpdate,
  documentsSubmittedUpdate,
  type ActRefusal,
} from '../../src/workflows/messages';
import { RiskGrade, LoanStage } from '../../src/workflows/searchAttributes';
import { keepHistory } from '../helpers/histories';
import {
  decide,
  phoneOutcome,
  signOnSite,
  useLoanWorld,
  walkToApproval,
  waitForState,
  waitForTask,
  type LoanHandle,
  type LoanWorld,
} from '../helpers/loanWorld';
import { addDocuments } from '../helpers/seed';
import { signAct } from '../helpers/acts';
import { eventually } from '../helpers/servicing';

// Decisions on the way: intake screens, the decision rules, approvers (four eyes), phone outcomes,
// the request_info loop, and acts the workflow is not waiting for.

let w: LoanWorld;
useLoanWorld((world) => ({ w } = world));

/** The refusal an update was answered with (the update must have been refused). */
async function refusal(p: Promise<unknown>): Promise<ActRefusal> {
  const err = await p.then(
    () => {
      throw new Error('expected the act to be refused');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(ACT_REFUSED);
  return (cause as ApplicationFailure).details?.[0] as ActRefusal;
}

async function events(applicationId: string, kind: string) {
  return w.h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, applicationId), eq(loanEvents.kind, kind)));
}

/** The refusal's event is written by an activity after the state shows it: wait for the row, not for luck. */
async function refusalEvents(applicationId: string) {
  return eventually(async () => {
    const rows = await events(applicationId, 'act_refused');
    if (rows.length === 0) throw new Error('no act_refused event yet');
    return rows;
  }, 120_000);
}


describe('intake screen', () => {
  it('rejects a blacklisted applicant at intake, with an SMS', async () => {
    const seeded = await w.seed({ blacklisted: true });
    const handle = await w.start(seeded);
    expect(await w.result(handle)).toEqual({ stage: 'rejected', outcomeReason: 'BLACKLISTED', loanId: null });
    const s = await handle.query('state');
    expect((s as { stageHistory: { stage: string }[] }).stageHistory.map((v) => v.stage)).toEqual(['intake', 'rejected']);
    const texts = await w.admin.smsMessages({ to: seeded.phone });
    expect(texts.map((t) => t.template)).toEqual(['application_rejected']);
    await keepHistory(handle, 'rejected-blacklisted');
  });

  it('rejects a second open application of the same person as a duplicate; the first carries on', async () => {
    const first = await w.seed();
    const second = await w.seed({ applicant: { idNumber: first.idNumber } });
    const firstHandle = await w.start(first);
    await waitForTask(firstHandle, 'phone_verification');
    const secondHandle = await w.start(second);
    expect(await w.result(secondHandle)).toEqual({ stage: 'rejected', outcomeReason: 'DUPLICATE_APPLICATION', loanId: null });
    expect((await firstHandle.query('state') as { stage: string }).stage).toBe('phone_verification');
  });
});

describe('decision rules', () => {
  it('auto-declines below the score floor, recorded as a decision, reviewable by a person', async () => {
    const seeded = await w.seed({ applicant: { idNumber: tv.CREDIT_LOW_SCORE_ID } });
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    await phoneOutcome(handle, 'passed');
    expect(await w.result(handle)).toEqual({ stage: 'rejected', outcomeReason: 'CREDIT_SCORE_BELOW_FLOOR', loanId: null });
    const s = await waitForState(handle, (x) => x.stage === 'rejected');
    expect(s.decisions).toEqual([expect.objectContaining({ actor: 'system', decision: 'auto_decline', reasonCode: 'CREDIT_SCORE_BELOW_FLOOR' })]);
    expect(s.recommendation).toBe('auto_decline');
    expect(s.flags).toEqual(expect.arrayContaining(['CREDIT_SCORE_BELOW_FLOOR', 'HUMAN_REVIEW_AVAILABLE']));
    expect((await handle.describe()).typedSearchAttributes.get(RiskGrade)).toBe('E');
    expect(await events(seeded.applicationId, 'auto_declined')).toHaveLength(1);
    await keepHistory(handle, 'rejected-auto-decline');
  });

  it('sends a marginal score to an approver, who rejects it with a reason code', async () => {
    const seeded = await w.seed({ applicant: { idNumber: tv.CREDIT_MARGINAL_SCORE_ID } });
    const handle = await w.start(seeded);
    const waiting = await walkToApproval(handle);
    expect(waiting.recommendation).toBe('manual_review');
    expect(['D', 'E']).toContain(waiting.riskGrade);
    // A reject needs a known reason code.
    expect((await refusal(decide(handle, 'approver-1', 'reject'))).code).toBe('INVALID_ACT');
    const s = await decide(handle, 'approver-1', 'reject', { reasonCode: 'INCOME_INSUFFICIENT' });
    expect(s.decisions).toEqual([expect.objectContaining({ actor: 'approver-1', decision: 'reject', reasonCode: 'INCOME_INSUFFICIENT' })]);
    expect(await w.result(handle)).toEqual({ stage: 'rejected', outcomeReason: 'INCOME_INSUFFICIENT', loanId: null });
    await keepHistory(handle, 'rejected-by-approver');
  });

  it('rejects a vehicle reported stolen at valuation', async () => {
    const seeded = await w.seed({ vehicle: { vin: tv.VALUATION_STOLEN_VIN } });
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    await phoneOutcome(handle, 'passed');
    expect(await w.result(handle)).toEqual({ stage: 'rejected', outcomeReason: 'COLLATERAL_UNACCEPTABLE', loanId: null });
  });

  it('lets an approver lower the amount within the limits; the lower amount is what is paid', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    // Above the LTV maximum: refused with the field.
    const tooMuch = await refusal(decide(handle, 'approver-1', 'approve', { amountFen: 24_000_000 }));
    expect(tooMuch).toMatchObject({ code: 'INVALID_ACT', stage: 'approval' });
    expect(tooMuch.message).toContain('amountFen');
    await decide(handle, 'approver-1', 'approve', { amountFen: 12_000_000, termMonths: 24 });
    await waitForTask(handle, 'sign_contract');
    await signOnSite(handle);
    const s = await waitForState(handle, (x) => x.stage === 'servicing');
    expect(s.offer).toMatchObject({ amountFen: 12_000_000, termMonths: 24 });
    expect((await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) })).totalFen).toBe(12_000_000);
  });
});

describe('four eyes', () => {
  it('needs two different approvers at or above the threshold; never the submitter; one approver twice is one', async () => {
    const seeded = await w.seed({
      submittedBy: 'officer-9',
      vehicle: { priceFen: 40_000_000 },
      loan: { amountFen: 25_000_000 },
      applicant: { monthlyIncomeFen: 6_000_000 },
    });
    const handle = await w.start(seeded);
    const waiting = await walkToApproval(handle);
    expect(waiting.requiresFourEyes).toBe(true);
    expect(waiting.pendingTask).toMatchObject({ role: 'approver', approvalsNeeded: 2, approvedBy: [] });

    // The submitting officer cannot decide.
    expect(await refusal(decide(handle, 'officer-9'))).toMatchObject({ code: 'SUBMITTER_CANNOT_APPROVE', stage: 'approval' });

    // One approval is not enough.
    const one = await decide(handle, 'approver-1');
    expect(one.stage).toBe('approval');
    expect(one.pendingTask).toMatchObject({ approvalsNeeded: 2, approvedBy: ['approver-1'] });

    // The same approver again does not count as a second, by update (refused) or by signal (recorded as refused).
    expect(await refusal(decide(handle, 'approver-1'))).toMatchObject({ code: 'ALREADY_APPROVED_BY_THIS_APPROVER' });
    await handle.signal(approvalDecisionSignal, await signAct('approvalDecision', handle.workflowId, { actor: 'approver-1', decision: 'approve' }));
    const afterSignal = await waitForState(handle, (x) => x.refusedActs.length === 1);
    expect(afterSignal.refusedActs).toEqual([expect.objectContaining({ act: 'approvalDecision', actor: 'approver-1', code: 'ALREADY_APPROVED_BY_THIS_APPROVER' })]);
    expect(afterSignal.stage).toBe('approval');
    expect(await refusalEvents(seeded.applicationId)).toHaveLength(1);

    // A second, different approver completes it.
    await decide(handle, 'approver-2');
    const signing = await waitForTask(handle, 'sign_contract');
    expect(signing.decisions.filter((d) => d.counted).map((d) => d.actor)).toEqual(['approver-1', 'approver-2']);
    await keepHistory(handle, 'four-eyes');
  });

  it('a single approver suffices below the threshold', async () => {
    const seeded = await w.seed({ loan: { amountFen: 19_999_900 } });
    const handle = await w.start(seeded);
    const waiting = await walkToApproval(handle);
    expect(waiting.pendingTask).toMatchObject({ approvalsNeeded: 1 });
    await decide(handle, 'approver-1');
    await waitForTask(handle, 'sign_contract');
  });
});

describe('acts the API did not sign (issue 15, finding 1)', () => {
  it('refuses and records unsigned, forged and misdirected approvals by signal and by update; the application does not move', async () => {
    const seeded = await w.seed({ vehicle: { priceFen: 40_000_000 }, loan: { amountFen: 25_000_000 }, applicant: { monthlyIncomeFen: 6_000_000 } });
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    await handle.signal(approvalDecisionSignal, { actor: 'ghost-approver-1', decision: 'approve' });
    expect(await refusal(handle.executeUpdate(approvalDecisionUpdate, { args: [{ actor: 'ghost-approver-2', decision: 'approve' }] }))).toMatchObject({ code: 'NOT_AUTHENTICATED' });
    const signed = await signAct('approvalDecision', handle.workflowId, { actor: 'approver-1', decision: 'approve' as const, actId: 'a-1' });
    await handle.signal(approvalDecisionSignal, { ...signed, actor: 'ghost-approver-3' });
    await handle.signal(approvalDecisionSignal, await signAct('approvalDecision', 'loan-application-another', { actor: 'approver-2', decision: 'approve' as const }));
    const s = await waitForState(handle, (x) => x.refusedActs.length === 4);
    expect(s.refusedActs.map((r) => [r.actor, r.code, r.problem])).toEqual([
      ['ghost-approver-1', 'NOT_AUTHENTICATED', 'missing'],
      ['ghost-approver-2', 'NOT_AUTHENTICATED', 'missing'],
      ['ghost-approver-3', 'NOT_AUTHENTICATED', 'tampered'],
      ['approver-2', 'NOT_AUTHENTICATED', 'wrong_workflow'],
    ]);
    expect(s).toMatchObject({ stage: 'approval', decisions: [], pendingTask: expect.objectContaining({ approvedBy: [] }) });
    // Recorded by activities, a moment after the state shows them.
    for (let i = 0; i < 600 && (await events(seeded.applicationId, 'act_refused')).length < 4; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await events(seeded.applicationId, 'act_refused')).map((e) => e.actor).sort()).toEqual(['approver-2', 'ghost-approver-1', 'ghost-approver-2', 'ghost-approver-3']);
    // The API's own acts still count, and the run goes on.
    await handle.executeUpdate(approvalDecisionUpdate, { args: [signed] });
    await decide(handle, 'approver-2');
    await waitForTask(handle, 'sign_contract');
    // Replay: the signal handlers verify again, on the same workflow time, to the same answers.
    await keepHistory(handle, 'forged-acts-refused');
  });
});

describe('phone verification outcomes', () => {
  it('rejects when the verification fails', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    await phoneOutcome(handle, 'failed');
    expect(await w.result(handle)).toEqual({ stage: 'rejected', outcomeReason: 'PHONE_VERIFICATION_FAILED', loanId: null });
    await keepHistory(handle, 'rejected-phone-failed');
  });

  it('retries an unreachable applicant with a new call task each time, and goes on when reached', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification', (s) => s.pendingTask?.attempt === 1);
    await phoneOutcome(handle, 'unreachable');
    await waitForTask(handle, 'phone_verification', (s) => s.pendingTask?.attempt === 2);
    await phoneOutcome(handle, 'unreachable');
    await waitForTask(handle, 'phone_verification', (s) => s.pendingTask?.attempt === 3);
    await phoneOutcome(handle, 'passed', 'verifier-2', { anomalies: ['PHONE_RECENTLY_CHANGED'] });
    const s = await waitForTask(handle, 'approval');
    expect(s.phoneAttempts).toBe(3);
    expect(s.flags).toEqual(expect.arrayContaining(['PHONE_UNREACHABLE', 'PHONE_RECENTLY_CHANGED']));
    const tasks = await w.admin.callTasks(seeded.applicationId);
    expect(tasks).toHaveLength(3);
    expect(new Set(tasks.map((t) => t.taskId)).size).toBe(3);
    await keepHistory(handle, 'phone-unreachable-then-passed');
  });

  it('rejects after three unreachable attempts', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    for (const attempt of [1, 2, 3]) {
      await waitForTask(handle, 'phone_verification', (s) => s.pendingTask?.attempt === attempt);
      await phoneOutcome(handle, 'unreachable');
    }
    expect(await w.result(handle)).toEqual({ stage: 'rejected', outcomeReason: 'PHONE_UNREACHABLE', loanId: null });
    expect(await w.admin.callTasks(seeded.applicationId)).toHaveLength(3);
    await keepHistory(handle, 'rejected-phone-unreachable');
  });
});

describe('request_info', () => {
  it('goes back to document_check, waits for new documents, and comes round to approval again', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    await decide(handle, 'approver-1', 'request_info', { reasonCode: 'DOCUMENTS_INCONSISTENT' });
    const back = await waitForTask(handle, 'submit_documents');
    expect(back.stage).toBe('document_check');

    const [docId] = await addDocuments(w.h.db, seeded.applicationId, [{ type: 'bank_statement' }]);
    await handle.executeUpdate(documentsSubmittedUpdate, { args: [await signAct('documentsSubmitted', handle.workflowId, { actor: 'officer-1', documentIds: [docId!] })] });
    // The applicant was verified already: no second call; straight on to a fresh decision.
    const again = await waitForTask(handle, 'approval');
    expect(again.stageHistory.map((v) => v.stage)).toEqual([
      'intake', 'document_check', 'phone_verification', 'valuation', 'approval',
      'document_check', 'phone_verification', 'valuation', 'approval',
    ]);
    expect(await w.admin.callTasks(seeded.applicationId)).toHaveLength(1);
    expect(again.decisions).toEqual([expect.objectContaining({ decision: 'request_info', reasonCode: 'DOCUMENTS_INCONSISTENT' })]);
    const s = await walkToServicingFromApproval(handle);
    expect(s.stage).toBe('servicing');
    await keepHistory(handle, 'request-info-loop');
  });

  it('holds an inconsistent document set until a consistent document arrives', async () => {
    const seeded = await w.seed({ documentMarkers: { id_card: tv.OCR_MARKER_MISMATCH } });
    const handle = await w.start(seeded);
    const waiting = await waitForTask(handle, 'submit_documents');
    expect(waiting.documents.problems).toEqual(['id_card:NAME_MISMATCH', 'id_card:ID_NUMBER_MISMATCH']);
    expect(waiting.flags).toContain('DOCUMENTS_INCONSISTENT');
    const [docId] = await addDocuments(w.h.db, seeded.applicationId, [{ type: 'id_card' }]);
    await handle.executeUpdate(documentsSubmittedUpdate, { args: [await signAct('documentsSubmitted', handle.workflowId, { actor: 'officer-1', documentIds: [docId!] })] });
    const s = await waitForTask(handle, 'phone_verification');
    expect(s.documents.problems).toEqual([]);
    expect(s.flags).not.toContain('DOCUMENTS_INCONSISTENT');
  });
});

describe('acts the workflow is not waiting for', () => {
  it('refuses an update with NOT_WAITING and the stage, and records a refused signal', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    const onSite = { actor: 'officer-1', source: 'on_site' as const, signedAt: new Date().toISOString() };
    const r = await refusal(handle.executeUpdate(contractSignedUpdate, { args: [await signAct('contractSigned', handle.workflowId, onSite)] }));
    expect(r).toMatchObject({ code: 'NOT_WAITING', stage: 'phone_verification' });
    expect((await refusal(decide(handle, 'approver-1'))).code).toBe('NOT_WAITING');

    await handle.signal(contractSignedSignal, await signAct('contractSigned', handle.workflowId, onSite));
    const s = await waitForState(handle, (x) => x.refusedActs.length === 1);
    expect(s.refusedActs[0]).toMatchObject({ act: 'contractSigned', code: 'NOT_WAITING' });
    const [ev] = await refusalEvents(seeded.applicationId);
    expect(ev).toMatchObject({ actor: 'officer-1', stage: 'phone_verification', data: expect.objectContaining({ via: 'signal', code: 'NOT_WAITING' }) });
    expect(s.stage).toBe('phone_verification');
    expect((await handle.describe()).typedSearchAttributes.get(LoanStage)).toBe('phone_verification');

    // An act with an id already applied is ALREADY_APPLIED (the API answers it as success).
    await phoneOutcome(handle, 'unreachable');
    await waitForTask(handle, 'phone_verification', (x) => x.pendingTask?.attempt === 2);
    const once = { actor: 'verifier-1', actId: 'act-42', outcome: 'passed' as const, checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };
    await handle.executeUpdate('phoneVerificationCompletedUpdate', { args: [await signAct('phoneVerificationCompleted', handle.workflowId, once)] });
    await waitForTask(handle, 'approval');
    // (the stage moved on; a repeat is refused either way, ALREADY_APPLIED first)
    expect((await refusal(handle.executeUpdate('phoneVerificationCompletedUpdate', { args: [await signAct('phoneVerificationCompleted', handle.workflowId, once)] }))).code).toBe('ALREADY_APPLIED');
  });
});

async function walkToServicingFromApproval(handle: LoanHandle) {
  await decide(handle, 'approver-2');
  await waitForTask(handle, 'sign_contract');
  await signOnSite(handle);
  return waitForState(handle, (s) => s.stage === 'servicing', 'servicing');
}
