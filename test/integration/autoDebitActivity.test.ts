import { createAutoDebitActivities } from '../../src/activities/autoDebit';
import { createLoanActivities } from '../../src/activities/loans';
import { createProviderClients, WithholdingClient } from '../../src/activities/providers';
import { instalmentDebitAttempts, saveMandate } from '../../src/db/autoDebit';
import type { DbHandle } from '../../src/db/client';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../src/sandbox';
import * as tv from '../../src/sandbox/test-values';
import { createTestDb } from '../helpers/db';
import { loadSchedule, seedLoan, testCipher } from '../helpers/servicing';

// One loan's debit on a day (issue 19): the ledger's amount owed, the loan's mandate and the
// policy, against the withholding sandbox over HTTP and a real database. The channel's ledger
// proves each attempt debited at most once whatever the retries and lost answers. Booking the
// debit as a repayment is the caller's (here done by hand, as the debit run will).

let sandbox: RunningSandbox;
let admin: SandboxAdminClient;
let h: DbHandle;
let clock = Date.parse('2027-01-10T01:00:00Z');
let n = 0;

beforeAll(async () => {
  sandbox = await startSandbox({ paymentPendingMs: 3_600_000, now: () => new Date(clock) });
  admin = new SandboxAdminClient(sandbox.url);
  h = await createTestDb();
});
afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});
beforeEach(async () => {
  await admin.reset();
  clock = Date.parse('2027-01-10T01:00:00Z');
});

const withholding = () => new WithholdingClient({ baseUrl: sandbox.providers.withholding });
const acts = () => createAutoDebitActivities({ db: h.db, withholding: withholding(), now: () => new Date(clock) });

/** A loan drawn on 10 December 2026 (first instalment due 10 January 2027) with a mandate on `card`. */
async function loanWithMandate(card: string | null) {
  const applicationId = `ad-act-${++n}`;
  const { loanId } = await seedLoan(h.db, testCipher(), createProviderClients(sandbox.providers), {
    applicationId,
    phone: '13900000097',
    disbursedAtMs: Date.parse('2026-12-10T02:00:00Z'),
  });
  const [first] = await loadSchedule(h.db, loanId);
  expect(first!.dueDate).toBe('2027-01-10');
  if (card) {
    const m = await withholding().registerMandate({ reference: loanId, bankCode: 'ICBC', cardNumber: card, holderName: tv.ORDINARY_NAME, idNumber: tv.ORDINARY_ID_NUMBER }, `mandate-${loanId}`);
    await saveMandate(h.db, testCipher(), { mandateId: m.mandateId, loanId, bankCode: 'ICBC', cardNumber: card, registeredBy: 'finance-1', at: new Date(clock) });
  }
  return { loanId, instalmentFen: first!.totalFen };
}

async function channelLedger(reference: string) {
  const res = await fetch(`${sandbox.providers.withholding}/v1/ledger?reference=${reference}`);
  return (await res.json()) as { count: number; totalFen: number };
}

async function book(loanId: string, reference: string, amountFen: number, day: string) {
  const loans = createLoanActivities({ db: h.db, cipher: testCipher(), callCentre: createProviderClients(sandbox.providers).callCentre });
  const r = await loans.bookServicingTransaction({
    loanId,
    asOfDate: day,
    request: { kind: 'repayment', reference, amountFen, paidAt: `${day}T10:00:00+08:00`, actor: 'auto-debit' },
  });
  expect(r.outcome).toBe('applied');
}

it('debits the instalment on its due date, once; booked, nothing more is owed', async () => {
  const { loanId, instalmentFen } = await loanWithMandate('6222020200112233445');
  expect(await acts().debitLoan({ loanId, today: '2027-01-09' })).toEqual({ outcome: 'nothing_due' });
  const d = await acts().debitLoan({ loanId, today: '2027-01-10' });
  expect(d).toMatchObject({ outcome: 'answered', seq: 1, attempt: 1, status: 'succeeded', amountFen: instalmentFen, replayed: false });
  // The same day again, before it is booked: never two attempts on one day.
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'waiting', reason: 'next_attempt_day' });
  await book(loanId, d.outcome === 'answered' ? d.debitId : '', instalmentFen, '2027-01-10');
  expect(await acts().debitLoan({ loanId, today: '2027-01-11' })).toEqual({ outcome: 'nothing_due' });
  expect(await channelLedger(loanId)).toEqual(expect.objectContaining({ count: 1, totalFen: instalmentFen }));
});

it('with the answer lost, the retried activity asks the same debit again and the channel debits once', async () => {
  const { loanId, instalmentFen } = await loanWithMandate('6222020200112233445');
  await admin.setFault({ provider: 'withholding', mode: 'lost_response', count: 1 });
  await expect(acts().debitLoan({ loanId, today: '2027-01-10' })).rejects.toThrow(/withholding requestDebit/);
  expect(await instalmentDebitAttempts(h.db, loanId, 1)).toEqual([{ attempt: 1, onDate: '2027-01-10', amountFen: instalmentFen }]);
  const retried = await acts().debitLoan({ loanId, today: '2027-01-10' });
  expect(retried).toMatchObject({ outcome: 'answered', attempt: 1, status: 'succeeded', replayed: true });
  expect(await channelLedger(loanId)).toEqual(expect.objectContaining({ count: 1, totalFen: instalmentFen }));
});

it('retries insufficient funds on D+1 and stops the moment the customer pays by transfer', async () => {
  const { loanId, instalmentFen } = await loanWithMandate(tv.WITHHOLDING_INSUFFICIENT_FUNDS_CARD);
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'answered', status: 'failed', failureCode: 'insufficient_funds' });
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'waiting', until: '2027-01-11' });
  clock = Date.parse('2027-01-11T01:00:00Z');
  expect(await acts().debitLoan({ loanId, today: '2027-01-11' })).toMatchObject({ outcome: 'answered', attempt: 2, failureCode: 'insufficient_funds' });
  await book(loanId, 'bank-transfer-1', instalmentFen, '2027-01-12');
  clock = Date.parse('2027-01-13T01:00:00Z');
  expect(await acts().debitLoan({ loanId, today: '2027-01-13' })).toEqual({ outcome: 'nothing_due' });
  expect((await instalmentDebitAttempts(h.db, loanId, 1)).length).toBe(2);
  expect((await channelLedger(loanId)).count).toBe(0);
});

it('stops at once after a final answer', async () => {
  const { loanId } = await loanWithMandate(tv.WITHHOLDING_FROZEN_CARD);
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'answered', failureCode: 'account_frozen' });
  clock = Date.parse('2027-01-11T01:00:00Z');
  expect(await acts().debitLoan({ loanId, today: '2027-01-11' })).toEqual({ outcome: 'stopped', seq: 1, reason: 'final_answer' });
  clock = Date.parse('2027-01-13T01:00:00Z');
  expect(await acts().debitLoan({ loanId, today: '2027-01-13' })).toEqual({ outcome: 'stopped', seq: 1, reason: 'final_answer' });
});

it('learns a pending debit has settled by asking the channel, and does not ask for it again', async () => {
  const { loanId, instalmentFen } = await loanWithMandate(tv.WITHHOLDING_PENDING_CARD);
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'answered', status: 'pending' });
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'waiting', reason: 'pending_settlement' });
  clock += 3_600_000;
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toMatchObject({ outcome: 'answered', attempt: 1, status: 'succeeded', amountFen: instalmentFen });
  expect(await channelLedger(loanId)).toEqual(expect.objectContaining({ count: 1, totalFen: instalmentFen }));
});

it('debits nobody without a mandate', async () => {
  const { loanId } = await loanWithMandate(null);
  expect(await acts().debitLoan({ loanId, today: '2027-01-10' })).toEqual({ outcome: 'no_mandate' });
});
