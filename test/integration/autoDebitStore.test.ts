import { eq, sql } from 'drizzle-orm';
import { createProviderClients } from '../../src/activities/providers';
import {
  activeMandate,
  instalmentDebitAttempts,
  mandateCardNumber,
  recordDebitAnswer,
  recordDebitRequested,
  revokeMandate,
  saveMandate,
} from '../../src/db/autoDebit';
import type { DbHandle } from '../../src/db/client';
import { loanMandates } from '../../src/db/schema';
import { decideDebit, debitIdempotencyKey } from '../../src/domain/autoDebit';
import { createTestDb } from '../helpers/db';
import { seedLoan, testCipher } from '../helpers/servicing';

// The stored side of auto-debit (issue 19), on PostgreSQL in CI and PGlite otherwise: a loan's
// mandate with its card number encrypted, one active mandate per loan, and debit attempts written
// once per key and read back as the policy reads them.

const providers = createProviderClients(
  Object.fromEntries(['ocr', 'creditBureau', 'callCentre', 'valuation', 'esign', 'payments', 'sms', 'withholding'].map((p) => [p, `http://127.0.0.1:9/${p}`])) as Parameters<
    typeof createProviderClients
  >[0],
);
const CARD = '6222020200112233445';
const at = new Date('2027-01-05T02:00:00Z');

let h: DbHandle;
let loanId: string;
beforeAll(async () => {
  h = await createTestDb();
  ({ loanId } = await seedLoan(h.db, testCipher(), providers, { applicationId: 'ad-store-1', phone: '13900000098', disbursedAtMs: Date.parse('2026-12-10T02:00:00Z') }));
});
afterAll(() => h?.close());

it('keeps the card number only encrypted, shows its last four, and finds it by keyed hash', async () => {
  const m = await saveMandate(h.db, testCipher(), { mandateId: 'md_1', loanId, bankCode: 'ICBC', cardNumber: CARD, registeredBy: 'finance-1', at });
  expect(m).toMatchObject({ mandateId: 'md_1', loanId, cardLast4: '3445', status: 'active', registeredBy: 'finance-1' });
  const raw = JSON.stringify(await h.db.execute(sql`select * from loan_mandates`));
  expect(raw).not.toContain(CARD);
  expect(await mandateCardNumber(h.db, testCipher(), 'md_1')).toBe(CARD);
  const [found] = await h.db.select().from(loanMandates).where(eq(loanMandates.cardNumberHash, testCipher().lookupHash('card_number', CARD)));
  expect(found?.mandateId).toBe('md_1');
  // The same mandate again (a retried activity) changes nothing.
  expect(await saveMandate(h.db, testCipher(), { mandateId: 'md_1', loanId, bankCode: 'ICBC', cardNumber: CARD, registeredBy: 'finance-2', at })).toMatchObject({
    registeredBy: 'finance-1',
  });
});

it('replaces the active mandate with a new one, and refuses two active at once', async () => {
  const next = await saveMandate(h.db, testCipher(), { mandateId: 'md_2', loanId, bankCode: 'CCB', cardNumber: '6217000000000000103', registeredBy: 'officer-1', at });
  expect(next.status).toBe('active');
  expect(await activeMandate(h.db, loanId)).toMatchObject({ mandateId: 'md_2', bankCode: 'CCB', cardLast4: '0103' });
  const [old] = await h.db.select().from(loanMandates).where(eq(loanMandates.mandateId, 'md_1'));
  expect(old).toMatchObject({ status: 'replaced', endedBy: 'officer-1' });
  await expect(
    h.db.insert(loanMandates).values({ mandateId: 'md_x', loanId, bankCode: 'ICBC', cardLast4: '0000', cardNumberEnc: 'x', cardNumberHash: 'x', registeredBy: 'x' }),
  ).rejects.toThrow();
});

it('records each attempt once and reads the attempts back as the policy decides on them', async () => {
  const key = (n: number) => debitIdempotencyKey(loanId, 1, n);
  const first = { idempotencyKey: key(1), loanId, seq: 1, attempt: 1, onDate: '2027-01-10', mandateId: 'md_2', amountFen: 460_000 };
  await recordDebitRequested(h.db, first);
  await recordDebitRequested(h.db, first);
  expect(await instalmentDebitAttempts(h.db, loanId, 1)).toEqual([{ attempt: 1, onDate: '2027-01-10', amountFen: 460_000 }]);
  // No answer yet: the policy asks again with the same key.
  const state = (attempts: Awaited<ReturnType<typeof instalmentDebitAttempts>>) => ({ loanId, seq: 1, dueDate: '2027-01-10', owedFen: 460_000, attempts });
  expect(decideDebit(state(await instalmentDebitAttempts(h.db, loanId, 1)), '2027-01-10')).toMatchObject({ action: 'ask_again', idempotencyKey: key(1) });

  await recordDebitAnswer(h.db, key(1), { debitId: 'db_1', status: 'failed', failureCode: 'insufficient_funds', at });
  expect(await instalmentDebitAttempts(h.db, loanId, 1)).toEqual([{ attempt: 1, onDate: '2027-01-10', amountFen: 460_000, answer: 'insufficient_funds' }]);
  expect(decideDebit(state(await instalmentDebitAttempts(h.db, loanId, 1)), '2027-01-11')).toMatchObject({ action: 'debit', attempt: 2, idempotencyKey: key(2) });

  await recordDebitRequested(h.db, { ...first, idempotencyKey: key(2), attempt: 2, onDate: '2027-01-11' });
  await recordDebitAnswer(h.db, key(2), { debitId: 'db_2', status: 'succeeded', failureCode: null, at });
  expect((await instalmentDebitAttempts(h.db, loanId, 1)).map((a) => a.answer)).toEqual(['insufficient_funds', 'succeeded']);
  // One attempt number is one row, whatever key a buggy caller sends with it.
  await expect(recordDebitRequested(h.db, { ...first, idempotencyKey: 'other-key' })).rejects.toThrow();
});

it('revokes the active mandate once', async () => {
  expect(await revokeMandate(h.db, loanId, 'finance-1', at)).toMatchObject({ mandateId: 'md_2', status: 'revoked', endedBy: 'finance-1' });
  expect(await revokeMandate(h.db, loanId, 'finance-1', at)).toBeNull();
  expect(await activeMandate(h.db, loanId)).toBeNull();
});
