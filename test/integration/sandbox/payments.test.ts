import { PaymentsClient, type TransferRequest } from '../../../src/activities/providers';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../../src/sandbox';
import * as tv from '../../../src/sandbox/test-values';
import { expectRefusal, expectTransient } from './helpers';

// The payment sandbox's promise: one idempotency key is one payment, whatever the retries, faults
// and lost answers — and the ledger proves it. (Temporal retrying real payouts through a fraction of
// failures, with the production retry policy: retries.test.ts.)
let sandbox: RunningSandbox;
let admin: SandboxAdminClient;
let payments: PaymentsClient;
/** The sandbox's clock, moved by the tests: a pending transfer settles when a test says so. */
let clock = Date.parse('2026-11-23T02:00:00Z');

beforeAll(async () => {
  sandbox = await startSandbox({ paymentPendingMs: 60_000, now: () => new Date(clock) });
  admin = new SandboxAdminClient(sandbox.url);
  payments = new PaymentsClient({ baseUrl: sandbox.providers.payments });
});
afterAll(() => sandbox.close());
beforeEach(() => admin.reset());

const transfer = (reference: string, over: Partial<TransferRequest['toAccount']> = {}, amountFen = 15_000_000): TransferRequest => ({
  amountFen,
  currency: 'CNY',
  toAccount: { accountNumber: '6222020200112233445', accountName: '北京某某汽车销售服务有限公司', bankCode: 'ICBC', ...over },
  reference,
});

it('pays once per idempotency key: the same key twice is one ledger entry', async () => {
  const first = await payments.createTransfer(transfer('loan-1'), 'disburse-loan-1');
  const second = await payments.createTransfer(transfer('loan-1'), 'disburse-loan-1');
  expect(first.status).toBe('succeeded');
  expect(first.replayed).toBe(false);
  expect(second.replayed).toBe(true);
  expect(second.transferId).toBe(first.transferId);
  const ledger = await admin.ledger({ reference: 'loan-1' });
  expect(ledger.count).toBe(1);
  expect(ledger.totalFen).toBe(15_000_000);
  expect(ledger.entries[0]).toMatchObject({ transferId: first.transferId, kind: 'payout', accountLast4: '3445' });
});

it('refuses the same key with another body as IdempotencyKeyReused, paying nothing more', async () => {
  await payments.createTransfer(transfer('loan-2'), 'disburse-loan-2');
  await expectRefusal(
    payments.createTransfer(transfer('loan-2', {}, 15_000_001), 'disburse-loan-2'),
    'IdempotencyKeyReused',
    'idempotency_key_reused',
  );
  expect((await admin.ledger()).count).toBe(1);
});

it('requires an Idempotency-Key header', async () => {
  const res = await fetch(`${sandbox.providers.payments}/v1/transfers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(transfer('loan-x')),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ code: 'idempotency_key_required' });
});

it('refuses a closed account (and a name mismatch) as PaymentRefused, remembering the refusal under the key', async () => {
  const closed = transfer('loan-3', { accountNumber: tv.PAYMENTS_CLOSED_ACCOUNT });
  await expectRefusal(payments.createTransfer(closed, 'disburse-loan-3'), 'PaymentRefused', 'account_closed', [
    tv.PAYMENTS_CLOSED_ACCOUNT,
    '北京某某汽车销售服务有限公司',
  ]);
  await expectRefusal(payments.createTransfer(closed, 'disburse-loan-3'), 'PaymentRefused', 'account_closed');
  await expectRefusal(
    payments.createTransfer(transfer('loan-4', { accountNumber: tv.PAYMENTS_NAME_MISMATCH_ACCOUNT }), 'disburse-loan-4'),
    'PaymentRefused',
    'account_name_mismatch',
  );
  await expectRefusal(
    payments.createTransfer(transfer('loan-5', {}, tv.PAYMENTS_SINGLE_TRANSFER_LIMIT_FEN + 1), 'disburse-loan-5'),
    'PaymentRefused',
    'amount_exceeds_limit',
  );
  expect((await admin.ledger()).count).toBe(0);
});

it('leaves a transfer to the pending test account pending, then succeeded', async () => {
  const t = await payments.createTransfer(transfer('loan-6', { accountNumber: tv.PAYMENTS_PENDING_ACCOUNT }), 'disburse-loan-6');
  expect(t.status).toBe('pending');
  expect(t.completedAt).toBeNull();
  clock += 59_999;
  expect((await payments.getTransfer(t.transferId)).status).toBe('pending');
  clock += 1;
  const later = await payments.getTransfer(t.transferId);
  expect(later.status).toBe('succeeded');
  expect(later.completedAt).not.toBeNull();
  expect((await admin.ledger({ reference: 'loan-6' })).count).toBe(1);
});

it('reverses a transfer once, however often asked', async () => {
  const t = await payments.createTransfer(transfer('loan-7'), 'disburse-loan-7');
  const r1 = await payments.reverseTransfer(t.transferId, 'wrong account');
  const r2 = await payments.reverseTransfer(t.transferId, 'wrong account');
  expect(r1.status).toBe('reversed');
  expect(r2.reversal?.reversalId).toBe(r1.reversal?.reversalId);
  expect(r2.replayed).toBe(true);
  const ledger = await admin.ledger({ transferId: t.transferId });
  expect(ledger.entries.map((e) => e.kind)).toEqual(['payout', 'reversal']);
  expect(ledger.totalFen).toBe(0);
  await expectRefusal(payments.getTransfer('tr_unknown'), 'ProviderResourceNotFound', 'transfer_not_found');
});

it('pays the irreversible test account, then refuses to reverse it as PaymentRefused', async () => {
  const t = await payments.createTransfer(transfer('loan-9', { accountNumber: tv.PAYMENTS_IRREVERSIBLE_ACCOUNT }), 'disburse-loan-9');
  expect(t.status).toBe('succeeded');
  await expectRefusal(payments.reverseTransfer(t.transferId, 'loan not booked'), 'PaymentRefused', 'reversal_not_permitted');
  expect((await payments.getTransfer(t.transferId)).status).toBe('succeeded');
  expect((await admin.ledger({ transferId: t.transferId })).entries.map((e) => e.kind)).toEqual(['payout']);
});

it('survives a lost answer: the retry with the same key is answered from the first payment', async () => {
  await admin.setFault({ provider: 'payments', mode: 'lost_response', count: 1 });
  await expectTransient(payments.createTransfer(transfer('loan-8'), 'disburse-loan-8'));
  // The provider did pay; the caller does not know. The retry must not pay again.
  const retried = await payments.createTransfer(transfer('loan-8'), 'disburse-loan-8');
  expect(retried.replayed).toBe(true);
  expect((await admin.ledger({ reference: 'loan-8' })).count).toBe(1);
});

describe('refunds', () => {
  const refund = (reference: string, amountFen = 50_000) => ({
    amountFen,
    currency: 'CNY' as const,
    toAccount: { accountNumber: '6222020200112233445', accountName: '张三', bankCode: 'ICBC' },
    reference,
  });

  it('pays a refund once per idempotency key, one refund entry in the ledger, even through a lost answer', async () => {
    await admin.setFault({ provider: 'payments', mode: 'lost_response', count: 1 });
    await expectTransient(payments.createRefund(refund('L-1/refund/rf-1'), 'refund-rf-1'));
    // The provider paid; the caller does not know. The retry is answered from the first payment.
    const retried = await payments.createRefund(refund('L-1/refund/rf-1'), 'refund-rf-1');
    expect(retried).toMatchObject({ status: 'succeeded', amountFen: 50_000, replayed: true, toAccount: { accountLast4: '3445' } });
    const ledger = await admin.ledger({ reference: 'L-1/refund/rf-1' });
    expect(ledger.entries).toEqual([expect.objectContaining({ kind: 'refund', amountFen: 50_000, transferId: retried.refundId })]);
    expect(ledger.totalFen).toBe(50_000);
  });

  it('refuses a refund to a closed account, paying nothing; the same key with another amount is IdempotencyKeyReused', async () => {
    await expectRefusal(
      payments.createRefund({ ...refund('L-2/refund/rf-2'), toAccount: { ...refund('x').toAccount, accountNumber: tv.PAYMENTS_CLOSED_ACCOUNT } }, 'refund-rf-2'),
      'PaymentRefused',
      'account_closed',
    );
    await payments.createRefund(refund('L-3/refund/rf-3'), 'refund-rf-3');
    await expectRefusal(payments.createRefund(refund('L-3/refund/rf-3', 50_001), 'refund-rf-3'), 'IdempotencyKeyReused', 'idempotency_key_reused');
    expect((await admin.ledger()).entries.map((e) => e.kind)).toEqual(['refund']);
  });
});
