import { eq } from 'drizzle-orm';
import { disbursementReference } from '../../../src/activities/payments';
import { createProviderClients, type ProviderClients } from '../../../src/activities/providers';
import { documents } from '../../../src/db/schema';
import { buildOffer, shanghaiDate } from '../../../src/domain';
import { loanApplicationWorkflowId } from '../../../src/workflows/messages';
import { startActivityWorld, type ActivityWorld } from './activityWorld';

// Each provider's real activity, run by a real worker under the retry policy the loan workflows give
// it (src/activities/providers/options.ts), against a sandbox fault set by count or rate: Temporal,
// not the test, retries; the history says how many attempts it took and why the failed ones failed;
// the sandbox's own records say the work was done once.
let w: ActivityWorld;
let clients: ProviderClients;

beforeAll(async () => {
  w = await startActivityWorld();
  clients = createProviderClients(w.sandbox.providers);
});
afterAll(() => w?.close());
afterEach(() => w.admin.clearFaults());

const today = () => shanghaiDate(Date.now());
const transient = (message: string | RegExp) => ({ type: 'ProviderTransientError', message: typeof message === 'string' ? message : expect.stringMatching(message) });

it('OCR: recognizeDocument outlasts two 503s and stores one reading', async () => {
  const s = await w.seed();
  const documentId = s.documentIds[0]!;
  await w.admin.setFault({ provider: 'ocr', mode: 'error_5xx', count: 2 });
  const run = await w.run('ocr', 'recognizeDocument', { applicationId: s.applicationId, documentId, asOfDate: today() });
  expect(run.value).toMatchObject({ documentId, status: 'read', problems: [] });
  expect(run.attempts).toBe(3);
  expect(run.lastFailure).toEqual(transient('ocr recognize answered HTTP 503 (sandbox_fault)'));
  const [row] = await w.h.db.select().from(documents).where(eq(documents.id, documentId));
  expect(row?.ocrStatus).toBe('read');
});

it('credit bureau: assessCredit outlasts a fraction of failures (the first request of a fraction is hit)', async () => {
  const s = await w.seed();
  await w.admin.setFault({ provider: 'creditBureau', mode: 'fraction', rate: 0.5 });
  const run = await w.run('creditBureau', 'assessCredit', { applicationId: s.applicationId, asOfDate: today(), valuationFen: 25_000_000, additionalReasonCodes: [] });
  expect(run.value.reportId).not.toBeNull();
  expect(run.value.score).toBeGreaterThanOrEqual(720);
  expect(run.attempts).toBe(2);
  expect(run.lastFailure).toEqual(transient('creditBureau pullReport answered HTTP 503 (sandbox_fault)'));
  expect(await w.admin.listFaults()).toMatchObject([{ provider: 'creditBureau', seen: 2, injected: 1 }]);
});

it('call centre: openCallTask outlasts a hung request, which did nothing; the retry creates the task once', async () => {
  const s = await w.seed();
  // The sandbox holds the first request ten minutes: the client's own timeout (production's, 10 s)
  // always ends that attempt, however slow the machine.
  await w.admin.setFault({ provider: 'callCentre', mode: 'timeout', count: 1, latencyMs: 600_000 });
  const idempotencyKey = `${loanApplicationWorkflowId(s.applicationId)}/phone-verification/1`;
  const run = await w.run('callCentre', 'openCallTask', { applicationId: s.applicationId, idempotencyKey, attempt: 1 });
  expect(run.value.status).toBe('queued');
  expect(run.attempts).toBe(2);
  expect(run.lastFailure).toEqual(transient('callCentre createTask timed out after 10000 ms'));
  expect((await w.admin.callTasks(s.applicationId)).map((t) => t.taskId)).toEqual([run.value.taskId]);
});

it('valuation: valueVehicle outlasts two 502s', async () => {
  const s = await w.seed();
  await w.admin.setFault({ provider: 'valuation', mode: 'error_5xx', status: 502, count: 2 });
  const run = await w.run('valuation', 'valueVehicle', { applicationId: s.applicationId });
  expect(run.value.valuationFen).toBe(25_000_000);
  expect(run.attempts).toBe(3);
  expect(run.lastFailure).toEqual(transient('valuation valueVehicle answered HTTP 502 (sandbox_fault)'));
});

it('e-signature: openEnvelope outlasts a lost answer; the envelope the provider made is the one the retry gets', async () => {
  const s = await w.seed();
  const input = {
    applicationId: s.applicationId,
    idempotencyKey: `${loanApplicationWorkflowId(s.applicationId)}/signing/1`,
    offer: buildOffer({ amountFen: 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment', annualRateBps: 650 }),
    asOfDate: today(),
  };
  await w.admin.setFault({ provider: 'esign', mode: 'lost_response', count: 1 });
  const run = await w.run('esign', 'openEnvelope', input);
  expect(run.attempts).toBe(2);
  expect(run.lastFailure).toEqual(transient(/^esign createEnvelope failed to reach the provider/));
  expect((await clients.esign.getEnvelope(run.value.envelopeId)).status).toBe('sent');
  // The same key again (a replay of the stage) finds that same envelope: one envelope, not two.
  expect((await w.run('esign', 'openEnvelope', input)).value.envelopeId).toBe(run.value.envelopeId);
});

it('SMS: notifyApplicant outlasts an outage of every provider and sends the text once', async () => {
  const s = await w.seed();
  const messageId = `${loanApplicationWorkflowId(s.applicationId)}/sms/signing_link`;
  await w.admin.setFault({ provider: 'all', mode: 'error_5xx', count: 2 });
  const run = await w.run('sms', 'notifyApplicant', { applicationId: s.applicationId, messageId, template: 'signing_link', params: { days: 7, url: 'https://esign.example/x' } });
  expect(run.value).toEqual({ messageId, status: 'accepted', code: null });
  expect(run.attempts).toBe(3);
  expect(run.lastFailure).toEqual(transient('sms send answered HTTP 503 (sandbox_fault)'));
  expect((await w.admin.smsMessages({ to: s.phone })).map((m) => m.messageId)).toEqual([messageId]);
});

it('payments: disburseLoan pays each of 30 loans exactly once while half of all requests fail', async () => {
  const seeded = await Promise.all(Array.from({ length: 30 }, () => w.seed()));
  await w.admin.setFault({ provider: 'payments', mode: 'fraction', rate: 0.5 });
  const runs = await Promise.all(seeded.map((s) => w.run('payments', 'disburseLoan', { applicationId: s.applicationId, amountFen: 15_000_000 })));
  const [fault] = await w.admin.listFaults();

  // Every failed attempt was one injected fault and every request one attempt: nothing else failed.
  expect(fault!.injected).toBeGreaterThanOrEqual(15);
  expect(runs.reduce((n, r) => n + r.attempts - 1, 0)).toBe(fault!.injected);
  expect(runs.reduce((n, r) => n + r.attempts, 0)).toBe(fault!.seen);
  for (const r of runs.filter((x) => x.attempts > 1)) expect(r.lastFailure).toEqual(transient('payments createTransfer answered HTTP 503 (sandbox_fault)'));

  const ledger = await w.admin.ledger();
  expect(ledger.count).toBe(30);
  expect(new Set(ledger.entries.map((e) => e.reference))).toEqual(new Set(seeded.map((s) => disbursementReference(s.applicationId))));
  expect(ledger.totalFen).toBe(30 * 15_000_000);
  expect(runs.every((r) => r.value.status === 'succeeded')).toBe(true);
});
