import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter } from '@temporalio/common';
import { and, asc, eq } from 'drizzle-orm';
import { disbursementReference, sandboxAccountNumber } from '../../src/activities/payments';
import { applications, installments, loanEvents, loans } from '../../src/db/schema';
import { shanghaiDate } from '../../src/domain';
import { loanServicingWorkflowId } from '../../src/workflows/messages';
import { earlyPayoffRequestedUpdate, repaymentRecordedUpdate } from '../../src/workflows/servicingMessages';
import { LoanStage, PendingTask, RiskGrade, LoanChannel, BranchId, LoanAmountFen } from '../../src/workflows/searchAttributes';
import { historyText, keepHistory } from '../helpers/histories';
import { useLoanWorld, walkToServicing, type LoanHandle, type LoanWorld } from '../helpers/loanWorld';
import type { Seeded } from '../helpers/seed';
import { waitFor } from '../helpers/wait';
import { signAct } from '../helpers/acts';

// The whole way from intake to servicing for each channel and for new and used cars, on the
// time-skipping server with the real activities calling the provider sandbox over HTTP.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
useLoanWorld((world) => ({ env, w } = world));


async function stagesRecorded(applicationId: string): Promise<string[]> {
  const rows = await w.h.db.select().from(loanEvents).where(eq(loanEvents.applicationId, applicationId)).orderBy(asc(loanEvents.seq));
  return rows.filter((r) => r.kind === 'stage_entered').map((r) => r.stage as string);
}

const FULL_PATH = ['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing', 'disbursement', 'servicing'];

async function expectServiced(seeded: Seeded, handle: LoanHandle, opts: { used?: boolean } = {}) {
  const s = await walkToServicing(handle, opts);
  expect(s.stage).toBe('servicing');
  expect(s.stageHistory.map((v) => v.stage)).toEqual(FULL_PATH);
  expect(s.loanId).toEqual(expect.any(String));
  expect(s.transferId).toEqual(expect.any(String));
  expect(s.pendingTask).toBeNull();
  expect(s.decisions).toEqual([expect.objectContaining({ decision: 'approve', counted: true })]);

  // Recorded in loan_events and mirrored for the work queues.
  await until(async () => (await stagesRecorded(seeded.applicationId)).length === FULL_PATH.length, 'every stage in loan_events');
  expect(await stagesRecorded(seeded.applicationId)).toEqual(FULL_PATH);
  await w.settle(); // the mirror is written by its own activity, after the state shows servicing
  const [row] = await w.h.db.select().from(applications).where(eq(applications.id, seeded.applicationId));
  expect(row).toMatchObject({ stage: 'servicing', pendingTask: null, loanId: s.loanId, riskGrade: s.riskGrade });

  // One loan, one result: the application run ends once it has handed the loan to its servicing
  // run, which carries the loan's stage and what a loan book is queried by.
  const servicingWorkflowId = loanServicingWorkflowId(s.loanId!);
  expect(await w.result(handle)).toEqual({ stage: 'servicing', outcomeReason: 'HANDED_TO_SERVICING', loanId: s.loanId, servicingWorkflowId });
  const app = await handle.describe();
  expect(app.status.name).toBe('COMPLETED');
  const sa = app.typedSearchAttributes;
  expect(sa.get(LoanStage)).toBe('handed_over');
  expect(sa.get(PendingTask)).toBe('none');
  expect(sa.get(RiskGrade)).toBe(s.riskGrade);
  expect(sa.get(LoanChannel)).toBe(seeded.input.channel);
  expect(sa.get(BranchId)).toBe(seeded.input.branchId);
  expect(sa.get(LoanAmountFen)).toBe(seeded.input.amountFen);
  const child = env.client.workflow.getHandle(servicingWorkflowId);
  const serviced = await child.describe();
  expect(serviced.status.name).toBe('RUNNING');
  const ssa = serviced.typedSearchAttributes;
  expect(ssa.get(LoanStage)).toBe('servicing');
  expect(ssa.get(BranchId)).toBe(seeded.input.branchId);
  expect(ssa.get(LoanChannel)).toBe(seeded.input.channel);
  expect(ssa.get(RiskGrade)).toBe(s.riskGrade);
  expect(ssa.get(LoanAmountFen)).toBe(s.offer!.amountFen);
  expect(ssa.get(PendingTask)).toBe(opts.used ? 'none' : 'register_collateral');
  // Of the loan's two runs, one says servicing.
  expect([sa, ssa].filter((x) => x.get(LoanStage) === 'servicing')).toHaveLength(1);

  // Paid exactly once, the amount of the offer.
  const ledger = await w.admin.ledger({ reference: disbursementReference(seeded.applicationId) });
  expect(ledger.count).toBe(1);
  expect(ledger.totalFen).toBe(s.offer!.amountFen - s.offer!.upfrontFeeFen);

  // The loan and its schedule are stored; the servicing workflow runs as a child.
  const [loan] = await w.h.db.select().from(loans).where(eq(loans.id, s.loanId!));
  expect(loan).toMatchObject({
    applicationId: seeded.applicationId,
    applicantId: seeded.applicantId,
    principalFen: s.offer!.amountFen,
    annualRateBps: s.offer!.annualRateBps,
    aprBps: s.offer!.aprBps,
    termMonths: s.offer!.termMonths,
    repaymentMethod: s.offer!.repaymentMethod,
    upfrontFeeFen: s.offer!.upfrontFeeFen,
    transferId: s.transferId,
    status: 'active',
  });
  const rows = await w.h.db.select().from(installments).where(eq(installments.loanId, s.loanId!));
  expect(rows).toHaveLength(seeded.input.termMonths);

  // No personal data anywhere in the history: not in inputs, results, signals or activity payloads.
  const text = await historyText(handle);
  for (const secret of [seeded.idNumber, seeded.phone, '张三', '6222020200112233445']) expect(text).not.toContain(secret);
  return { state: s, ledger };
}

async function stageOfRow(applicationId: string): Promise<string | undefined> {
  const [row] = await w.h.db.select({ stage: applications.stage }).from(applications).where(eq(applications.id, applicationId));
  return row?.stage;
}

/** Waits (the shared ceiling) until `check` holds; a timeout names `what`. */
const until = (check: () => Promise<boolean>, what: string) => waitFor(async () => ((await check()) ? true : undefined), what);

describe('happy paths', () => {
  it('a new car at a branch: every stage in order, paid once to the customer, serviced', async () => {
    const seeded = await w.seed({ channel: 'branch' });
    const handle = await w.start(seeded);
    const { state, ledger } = await expectServiced(seeded, handle);
    expect(ledger.entries[0]).toMatchObject({ kind: 'payout', accountLast4: '3445' });
    expect(state.collateralRegistered).toBe(false);
    await keepHistory(handle, 'happy-new-branch');
  });

  it('a used car: the mortgage registration comes before the money', async () => {
    const seeded = await w.seed({ channel: 'branch', vehicle: { condition: 'used' } });
    const handle = await w.start(seeded);
    const { state } = await expectServiced(seeded, handle, { used: true });
    expect(state.collateralRegistered).toBe(true);
    expect(state.documents.required).toContain('vehicle_registration');
    await keepHistory(handle, 'happy-used-branch');
  });

  it('door to door, equal principal', async () => {
    const seeded = await w.seed({ channel: 'door_to_door', loan: { repaymentMethod: 'equal_principal', termMonths: 24 } });
    const handle = await w.start(seeded);
    const { state } = await expectServiced(seeded, handle);
    expect(state.offer).toMatchObject({ repaymentMethod: 'equal_principal', termMonths: 24 });
    await keepHistory(handle, 'happy-new-door-to-door');
  });

  it('online: the bank statement is required as well', async () => {
    const seeded = await w.seed({ channel: 'online' });
    const handle = await w.start(seeded);
    const { state } = await expectServiced(seeded, handle);
    expect(state.documents.required).toEqual(['id_card', 'driver_license', 'income_proof', 'purchase_contract', 'bank_statement']);
    await keepHistory(handle, 'happy-new-online');
  });

  it('a new car through a dealer: the dealer is paid, on its settlement account', async () => {
    const seeded = await w.seed({ channel: 'dealer', dealerId: 'D-200', dealerAccount: '6222000011112222999' });
    const handle = await w.start(seeded);
    const { state, ledger } = await expectServiced(seeded, handle);
    expect(ledger.entries[0]).toMatchObject({ accountLast4: '2999' });
    await keepHistory(handle, 'happy-new-dealer');
  });

  it('a used car through a dealer without an account on file: the sandbox fallback account, flagged', async () => {
    const seeded = await w.seed({ channel: 'dealer', dealerId: 'D-404', vehicle: { condition: 'used' } });
    const handle = await w.start(seeded);
    const { state, ledger } = await expectServiced(seeded, handle, { used: true });
    expect(ledger.entries[0]).toMatchObject({ accountLast4: sandboxAccountNumber('dealer:D-404').slice(-4), bankCode: 'SANDBOX' });
    expect(state.flags).toContain('SANDBOX_PAYEE_ACCOUNT');
  });

  it('a customer with no bank account on file is paid on the deterministic sandbox account', async () => {
    const seeded = await w.seed({ channel: 'branch', applicant: { bankAccount: null } });
    const handle = await w.start(seeded);
    const { state, ledger } = await expectServiced(seeded, handle);
    expect(ledger.entries[0]).toMatchObject({ accountLast4: sandboxAccountNumber(`customer:${seeded.applicationId}`).slice(-4) });
  });

  it('pays exactly once when the payment provider loses its answer and is retried', async () => {
    const seeded = await w.seed({ channel: 'branch' });
    const handle = await w.start(seeded);
    await w.admin.setFault({ provider: 'payments', mode: 'lost_response', count: 1 });
    try {
      const { ledger } = await expectServiced(seeded, handle);
      expect(ledger.count).toBe(1);
    } finally {
      await w.admin.clearFaults('payments');
    }
  });

  it('the application reads closed once servicing closes the loan (early payoff)', async () => {
    const seeded = await w.seed({ channel: 'branch', loan: { termMonths: 12, amountFen: 5_000_000 } });
    const handle = await w.start(seeded);
    const s = await walkToServicing(handle);
    expect(s.stage).toBe('servicing');
    const servicing = env.client.workflow.getHandle(loanServicingWorkflowId(s.loanId!));
    expect(await w.result(handle)).toMatchObject({ stage: 'servicing', outcomeReason: 'HANDED_TO_SERVICING' });
    await until(async () => (await stagesRecorded(seeded.applicationId)).length === FULL_PATH.length, 'every stage in loan_events');
    await w.settle();
    expect(await stageOfRow(seeded.applicationId)).toBe('servicing');

    // What the servicing run shows in the Temporal UI: its summary and details, current details
    // with Shanghai times and rates in percent, and its activities and timer summarised.
    const described = await servicing.describe();
    expect(await described.staticSummary()).toMatch(new RegExp(`^Servicing of loan ${s.loanId}: 50,000\\.00 CNY over 12 months at \\d+\\.\\d{2}%, branch ${seeded.input.branchId}$`));
    expect(await described.staticDetails()).toContain(`**Sold** branch · branch ${seeded.input.branchId} · risk grade ${s.riskGrade}`);
    // Read once the run has gone to sleep until its next look (a query answered before its first
    // wait finds details without that line yet).
    const currentDetails = async () => (await servicing.query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
    await until(async () => (await currentDetails()).includes('**Next look**'), 'the next look in the current details');
    const details = await currentDetails();
    expect(details).toContain('**Stage** servicing');
    expect(details).toMatch(/\*\*Terms\*\* 50,000\.00 CNY · 12 months · \d+\.\d{2}% a year \(APR \d+\.\d{2}%\)/);
    expect(details).toMatch(/\*\*Next look\*\* \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia\/Shanghai\)/);
    expect(details).not.toMatch(/bps|T\d{2}:\d{2}:\d{2}/);
    const events = (await servicing.fetchHistory()).events ?? [];
    const summaryOf = (e: (typeof events)[number]) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined);
    const activities = events.filter((e) => e.activityTaskScheduledEventAttributes).map(summaryOf);
    expect(activities.length).toBeGreaterThan(0);
    expect(activities.every((x) => typeof x === 'string' && x.length > 0)).toBe(true);
    const timers = events.filter((e) => e.timerStartedEventAttributes).map(summaryOf);
    expect(timers.length).toBeGreaterThan(0);
    for (const t of timers) expect(t).toMatch(/^next look at the loan: \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Asia\/Shanghai\)$/);

    const asOfDate = shanghaiDate(await env.currentTimeMs());
    const quoted = await servicing.executeUpdate(earlyPayoffRequestedUpdate, { args: [await signAct('earlyPayoffRequested', servicing.workflowId, { actor: 'finance-1', asOfDate })] });
    const payoff = { actor: 'finance-1', amountFen: quoted.payoffQuote!.amountFen, paidAt: new Date(await env.currentTimeMs()).toISOString(), reference: `payoff-${seeded.applicationId}` };
    await servicing.executeUpdate(repaymentRecordedUpdate, { args: [await signAct('repaymentRecorded', servicing.workflowId, payoff)] });
    // The servicing run records the closure: the audit trail, the applications row and its stage.
    await until(async () => (await stagesRecorded(seeded.applicationId)).length === FULL_PATH.length + 1, 'the closed stage in loan_events');
    expect(await stagesRecorded(seeded.applicationId)).toEqual([...FULL_PATH, 'closed']);
    const [closedEvent] = await w.h.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, seeded.applicationId), eq(loanEvents.stage, 'closed')));
    expect(closedEvent).toMatchObject({ kind: 'stage_entered', actor: 'system', data: { from: 'servicing', outcomeReason: 'EARLY_PAYOFF', loanId: s.loanId } });
    await until(async () => (await stageOfRow(seeded.applicationId)) === 'closed', 'the row to read closed');
    await until(() => servicing.describe().then((d) => d.typedSearchAttributes.get(LoanStage) === 'closed'), 'the servicing run to show LoanStage closed');
    // The application run stays as it ended: handed over.
    expect((await handle.describe()).typedSearchAttributes.get(LoanStage)).toBe('handed_over');
    await keepHistory(handle, 'happy-closed-early-payoff');
  });
});
