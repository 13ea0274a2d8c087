import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import { createLoanActivities } from '../../src/activities/loans';
import { disbursementReference } from '../../src/activities/payments';
import { createProviderClients } from '../../src/activities/providers';
import { loanEvents } from '../../src/db/schema';
import { buildOffer } from '../../src/domain';
import * as tv from '../../src/sandbox/test-values';
import { loanApplication } from '../../src/workflows/loanApplication';
import { loanApplicationStartOptions, withdrawSignal, withdrawUpdate, type ActRefusal, type Withdraw } from '../../src/workflows/messages';
import { keepHistory } from '../helpers/histories';
import { testCipher } from '../helpers/seed';
import {
  decide,
  phoneOutcome,
  registerCollateral,
  signOnSite,
  useLoanWorld,
  walkToApproval,
  walkToSigning,
  waitForState,
  waitForTask,
  type LoanHandle,
  type LoanWorld,
} from '../helpers/loanWorld';
import { signAct } from '../helpers/acts';

// Withdrawal at every stage before disbursement, with the compensations of what was done; steps that
// cannot succeed end `failed` after theirs.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
useLoanWorld(
  (world) => ({ env, w } = world),
  (world) => world.admin.clearFaults(),
);

const withdrawal: Withdraw = { actor: 'officer-1', reasonCode: 'CUSTOMER_CHANGED_MIND' };
const WITHDRAWN = { stage: 'withdrawn', outcomeReason: 'CUSTOMER_CHANGED_MIND', loanId: null };

async function compensations(applicationId: string) {
  const rows = await w.h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, applicationId), eq(loanEvents.kind, 'compensated'))).orderBy(loanEvents.seq);
  return rows.map((r) => r.data as { step: string; result: string });
}

async function stagesOf(handle: LoanHandle): Promise<string[]> {
  return (await waitForState(handle, (s) => ['withdrawn', 'failed'].includes(s.stage))).stageHistory.map((v) => v.stage);
}

describe('withdrawal', () => {
  it('at intake (signalled with the start): nothing else happens', async () => {
    const seeded = await w.seed();
    const handle = await env.client.workflow.signalWithStart(loanApplication, {
      ...loanApplicationStartOptions(seeded.input, w.taskQueue),
      signal: withdrawSignal,
      signalArgs: [await signAct('withdraw', loanApplicationStartOptions(seeded.input).workflowId, withdrawal)],
    });
    expect(await w.result(handle)).toEqual(WITHDRAWN);
    expect(await stagesOf(handle)).toEqual(['intake', 'withdrawn']);
    expect(await w.admin.callTasks(seeded.applicationId)).toEqual([]);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['application_withdrawn']);
    await keepHistory(handle, 'withdrawn-intake');
  });

  it('at document_check, while waiting for documents', async () => {
    const seeded = await w.seed({ documents: ['id_card'] });
    const handle = await w.start(seeded);
    await waitForTask(handle, 'submit_documents');
    const answer = await handle.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', handle.workflowId, withdrawal)] });
    expect(answer.stage).toBe('document_check');
    expect(await w.result(handle)).toEqual(WITHDRAWN);
    expect(await stagesOf(handle)).toEqual(['intake', 'document_check', 'withdrawn']);
  });

  it('at phone_verification: the call task is cancelled', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    await handle.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', handle.workflowId, withdrawal)] });
    expect(await w.result(handle)).toEqual(WITHDRAWN);
    const [task] = await w.admin.callTasks(seeded.applicationId);
    expect(task!.status).toBe('cancelled');
    expect(await compensations(seeded.applicationId)).toEqual([expect.objectContaining({ step: 'call-task-1', result: 'cancelled' })]);
    await keepHistory(handle, 'withdrawn-phone-verification');
  });

  it('at valuation (the valuation provider answering slowly)', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    // Held until the withdrawal is in: the run is in valuation when it arrives, however slow the machine.
    await w.admin.setFault({ provider: 'valuation', mode: 'slow', latencyMs: 600_000 });
    try {
      await phoneOutcome(handle, 'passed');
      await waitForState(handle, (s) => s.stage === 'valuation');
      await handle.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', handle.workflowId, withdrawal)] });
    } finally {
      await w.admin.clearFaults();
    }
    expect(await w.result(handle)).toEqual(WITHDRAWN);
    expect(await stagesOf(handle)).toEqual(['intake', 'document_check', 'phone_verification', 'valuation', 'withdrawn']);
  });

  it('at approval', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    await handle.signal(withdrawSignal, await signAct('withdraw', handle.workflowId, withdrawal));
    expect(await w.result(handle)).toEqual(WITHDRAWN);
    expect((await stagesOf(handle)).slice(-2)).toEqual(['approval', 'withdrawn']);
    await keepHistory(handle, 'withdrawn-approval');
  });

  it('at signing: the envelope is voided and the customer told', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    const signing = await walkToSigning(handle);
    await handle.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', handle.workflowId, withdrawal)] });
    expect(await w.result(handle)).toEqual(WITHDRAWN);
    const envelope = await createProviderClients(w.sandbox.providers).esign.getEnvelope(signing.envelopeId!);
    expect(envelope.status).toBe('voided');
    expect(await compensations(seeded.applicationId)).toEqual([expect.objectContaining({ step: 'envelope', result: 'voided' })]);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['signing_link', 'application_withdrawn']);
    await keepHistory(handle, 'withdrawn-signing');
  });

  it('is refused once the money is being paid, and in servicing', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await walkToSigning(handle);
    // The payment hangs until the refusal in disbursement is seen, however slow the machine.
    await w.admin.setFault({ provider: 'payments', mode: 'timeout', latencyMs: 600_000 });
    await signOnSite(handle);
    await waitForState(handle, (s) => s.stage === 'disbursement');
    const err = await handle.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', handle.workflowId, withdrawal)] }).catch((e: unknown) => e);
    await w.admin.clearFaults();
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const refusal = ((err as WorkflowUpdateFailedError).cause as ApplicationFailure).details?.[0] as ActRefusal;
    expect(refusal).toMatchObject({ code: 'NOT_WAITING', stage: 'disbursement' });
    // In servicing the run has handed the loan over and ended: there is nothing left to withdraw
    // from (the API answers 409 NOT_WAITING with the stage the ended run reads, servicing).
    expect(await w.result(handle)).toMatchObject({ stage: 'servicing', outcomeReason: 'HANDED_TO_SERVICING' });
    const late = await handle.executeUpdate(withdrawUpdate, { args: [await signAct('withdraw', handle.workflowId, { ...withdrawal, actId: 'withdraw-late' })] }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(WorkflowNotFoundError);
    expect((await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) })).count).toBe(1);
  });
});

describe('a step that cannot succeed', () => {
  it('a refused disbursement (closed account): nothing paid, the signed contract cancelled, failed', async () => {
    const seeded = await w.seed({ vehicle: { condition: 'used' }, applicant: { bankAccount: tv.PAYMENTS_CLOSED_ACCOUNT } });
    const handle = await w.start(seeded);
    await walkToSigning(handle);
    await signOnSite(handle);
    await waitForTask(handle, 'register_collateral');
    await registerCollateral(handle);
    expect(await w.result(handle)).toEqual({ stage: 'failed', outcomeReason: 'DISBURSEMENT_REFUSED', loanId: null });
    const s = await waitForState(handle, (x) => x.stage === 'failed');
    expect(s.flags).toContain('PAYMENT_ACCOUNT_CLOSED');
    expect(s.stageHistory.map((v) => v.stage).slice(-2)).toEqual(['disbursement', 'failed']);
    expect((await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) })).count).toBe(0);
    expect(await compensations(seeded.applicationId)).toEqual([expect.objectContaining({ step: 'envelope', result: 'contract_cancelled' })]);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['signing_link', 'contract_cancelled']);
    await keepHistory(handle, 'failed-disbursement');
  });

  /**
   * A loan already booked for this application under other terms (what a conflicting earlier run
   * would leave): the workflow's createLoan refuses it for good (LoanTermsConflict) after the payout.
   */
  async function loanAlreadyBookedElsewhere(applicationId: string) {
    const acts = createLoanActivities({ db: w.h.db, cipher: testCipher(), callCentre: createProviderClients(w.sandbox.providers).callCentre });
    const otherTerms = buildOffer({ amountFen: 1_000_000, termMonths: 12, repaymentMethod: 'equal_installment', annualRateBps: 650 });
    await acts.createLoan({ applicationId, offer: otherTerms, disbursedAtMs: Date.now(), transferId: 'tr-booked-elsewhere' });
  }

  it('the loan cannot be booked after the payout: the payout is reversed, the signed contract cancelled, failed', async () => {
    const seeded = await w.seed();
    await loanAlreadyBookedElsewhere(seeded.applicationId);
    const handle = await w.start(seeded);
    await walkToSigning(handle);
    await signOnSite(handle);
    expect(await w.result(handle)).toEqual({ stage: 'failed', outcomeReason: 'STEP_FAILED', loanId: null });
    const s = await waitForState(handle, (x) => x.stage === 'failed');
    expect(s.flags).toContain('LoanTermsConflict');
    expect(s.flags).not.toContain('COMPENSATION_FAILED');
    const ledger = await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) });
    expect(ledger.entries.map((e) => e.kind)).toEqual(['payout', 'reversal']);
    expect(ledger.totalFen).toBe(0);
    // Newest first: the payout, then the envelope of the contract signed before it.
    expect(await compensations(seeded.applicationId)).toEqual([
      expect.objectContaining({ step: 'payout', result: 'reversed' }),
      expect.objectContaining({ step: 'envelope', result: 'contract_cancelled' }),
    ]);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['signing_link', 'contract_cancelled']);
  });

  it('a compensation that fails (the bank refuses to return the payout) is flagged, and the older ones still run', async () => {
    const seeded = await w.seed({ applicant: { bankAccount: tv.PAYMENTS_IRREVERSIBLE_ACCOUNT } });
    await loanAlreadyBookedElsewhere(seeded.applicationId);
    const handle = await w.start(seeded);
    await walkToSigning(handle);
    await signOnSite(handle);
    expect(await w.result(handle)).toEqual({ stage: 'failed', outcomeReason: 'STEP_FAILED', loanId: null });
    const s = await waitForState(handle, (x) => x.stage === 'failed');
    expect(s.flags).toEqual(expect.arrayContaining(['LoanTermsConflict', 'COMPENSATION_FAILED']));
    const ledger = await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) });
    expect(ledger.entries.map((e) => e.kind)).toEqual(['payout']);
    expect(await compensations(seeded.applicationId)).toEqual([
      expect.objectContaining({ step: 'payout', result: 'failed:PaymentRefused:reversal_not_permitted' }),
      expect.objectContaining({ step: 'envelope', result: 'contract_cancelled' }),
    ]);
    expect((await w.admin.smsMessages({ to: seeded.phone })).map((t) => t.template)).toEqual(['signing_link', 'contract_cancelled']);
  });

  it('a signer who fails the real-name check: no envelope, failed', async () => {
    const seeded = await w.seed({ applicant: { idNumber: tv.ESIGN_IDENTITY_UNVERIFIED_ID } });
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    await decide(handle, 'approver-1');
    expect(await w.result(handle)).toEqual({ stage: 'failed', outcomeReason: 'CONTRACT_NOT_SENT', loanId: null });
    expect((await waitForState(handle, (x) => x.stage === 'failed')).flags).toContain('ESIGN_SIGNER_IDENTITY_UNVERIFIED');
  });

  it('a phone number on the do-not-call list: failed', async () => {
    const seeded = await w.seed({ applicant: { phone: tv.CALL_CENTRE_NOT_CALLABLE_PHONE } });
    const handle = await w.start(seeded);
    expect(await w.result(handle)).toEqual({ stage: 'failed', outcomeReason: 'PHONE_NOT_CALLABLE', loanId: null });
  });
});
