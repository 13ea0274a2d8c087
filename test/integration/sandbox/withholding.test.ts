import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSettlementFile, ProviderTransientError, WithholdingClient } from '../../../src/activities/providers';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../../src/sandbox';
import * as tv from '../../../src/sandbox/test-values';
import { expectRefusal, expectTransient } from './helpers';

// The withholding channel of the sandbox (代扣, issue 19), over real HTTP: mandates checked by the
// bank, debits answered with each documented answer, one debit per idempotency key whatever the
// retries and lost answers (the ledger proves it), and the day's settlement file. The sandbox's
// clock is the test's, so pending debits settle and days end when the test says.
let sandbox: RunningSandbox;
let admin: SandboxAdminClient;
let base: string;
let clock = Date.parse('2027-01-10T01:00:00Z'); // 09:00 in Shanghai

beforeAll(async () => {
  sandbox = await startSandbox({ paymentPendingMs: 3_600_000, now: () => new Date(clock) });
  admin = new SandboxAdminClient(sandbox.url);
  base = sandbox.providers.withholding;
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  await admin.reset();
  clock = Date.parse('2027-01-10T01:00:00Z');
});

const HOLDER = { holderName: tv.ORDINARY_NAME, idNumber: tv.ORDINARY_ID_NUMBER };
const ORDINARY_CARD = '6222020200112233445';

async function post(pathname: string, body: unknown, key?: string) {
  const res = await fetch(`${base}${pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', body: (await res.json()) as Record<string, unknown> };
}

async function mandate(cardNumber: string, reference = 'ln-1', bankCode = 'ICBC') {
  const r = await post('/v1/mandates', { reference, bankCode, cardNumber, ...HOLDER }, `mandate-${reference}-${cardNumber}`);
  expect(r.status).toBe(201);
  return r.body.mandateId as string;
}

const debit = (mandateId: string, key: string, amountFen = 300_000, reference = 'ln-1') =>
  post('/v1/debits', { mandateId, amountFen, currency: 'CNY', reference }, key);

async function ledger(reference?: string) {
  const res = await fetch(`${base}/v1/ledger${reference ? `?reference=${reference}` : ''}`);
  return (await res.json()) as { count: number; totalFen: number; entries: { debitId: string; idempotencyKey: string; cardLast4: string }[] };
}

describe('mandates', () => {
  it('registers a card and shows only its last four digits, never the holder', async () => {
    const r = await post('/v1/mandates', { reference: 'ln-1', bankCode: 'ICBC', cardNumber: ORDINARY_CARD, ...HOLDER }, 'm-1');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ reference: 'ln-1', bankCode: 'ICBC', cardLast4: '3445', status: 'active', revokedAt: null });
    const text = JSON.stringify(r.body);
    for (const secret of [ORDINARY_CARD, HOLDER.holderName, HOLDER.idNumber]) expect(text).not.toContain(secret);
    const again = await post('/v1/mandates', { reference: 'ln-1', bankCode: 'ICBC', cardNumber: ORDINARY_CARD, ...HOLDER }, 'm-1');
    expect(again).toMatchObject({ status: 201, replayed: true, body: { mandateId: r.body.mandateId } });
    const other = await post('/v1/mandates', { reference: 'ln-2', bankCode: 'ICBC', cardNumber: ORDINARY_CARD, ...HOLDER }, 'm-1');
    expect(other).toMatchObject({ status: 409, body: { code: 'idempotency_key_reused' } });
  });

  it.each([
    ['card_cancelled', tv.WITHHOLDING_CANCELLED_CARD, 'ICBC'],
    ['holder_mismatch', tv.WITHHOLDING_HOLDER_MISMATCH_CARD, 'ICBC'],
    ['bank_not_supported', ORDINARY_CARD, tv.WITHHOLDING_UNSUPPORTED_BANK_CODE],
  ])('refuses a mandate with %s, and answers the same refusal to a retry', async (code, cardNumber, bankCode) => {
    const body = { reference: 'ln-1', bankCode, cardNumber, ...HOLDER };
    expect(await post('/v1/mandates', body, `m-${code}`)).toMatchObject({ status: 422, body: { code } });
    expect(await post('/v1/mandates', body, `m-${code}`)).toMatchObject({ status: 422, replayed: true, body: { code } });
  });

  it('refuses bad input with every failing field, and a missing key', async () => {
    const r = await post('/v1/mandates', { reference: '', bankCode: 'ICBC', cardNumber: '12ab', holderName: '张三', idNumber: '110105194912310021' }, 'm-bad');
    expect(r.status).toBe(400);
    expect((r.body.issues as { path: string }[]).map((i) => i.path).sort()).toEqual(['cardNumber', 'idNumber', 'reference']);
    expect(await post('/v1/mandates', { reference: 'ln-1', bankCode: 'ICBC', cardNumber: ORDINARY_CARD, ...HOLDER })).toMatchObject({
      status: 400,
      body: { code: 'idempotency_key_required' },
    });
  });

  it('revokes once; a debit under a revoked mandate answers mandate_revoked and takes nothing', async () => {
    const id = await mandate(ORDINARY_CARD);
    const first = await post(`/v1/mandates/${id}/revocation`, {});
    expect(first).toMatchObject({ status: 200, replayed: false, body: { status: 'revoked' } });
    expect(await post(`/v1/mandates/${id}/revocation`, {})).toMatchObject({ status: 200, replayed: true, body: { revokedAt: first.body.revokedAt } });
    expect(await debit(id, 'd-revoked')).toMatchObject({ status: 201, body: { status: 'failed', failureCode: 'mandate_revoked' } });
    expect((await ledger()).count).toBe(0);
    expect(await post('/v1/mandates/md_nope/revocation', {})).toMatchObject({ status: 404, body: { code: 'mandate_not_found' } });
  });
});

describe('debits', () => {
  it('debits once per key: a retried key is answered the same debit, one ledger entry', async () => {
    const id = await mandate(ORDINARY_CARD);
    const first = await debit(id, 'auto-debit:ln-1:1:1');
    expect(first).toMatchObject({ status: 201, replayed: false, body: { status: 'succeeded', failureCode: null, amountFen: 300_000 } });
    const again = await debit(id, 'auto-debit:ln-1:1:1');
    expect(again).toMatchObject({ status: 201, replayed: true, body: { debitId: first.body.debitId } });
    expect(await debit(id, 'auto-debit:ln-1:1:1', 300_001)).toMatchObject({ status: 409, body: { code: 'idempotency_key_reused' } });
    const l = await ledger('ln-1');
    expect(l).toMatchObject({ count: 1, totalFen: 300_000 });
    expect(l.entries[0]).toMatchObject({ debitId: first.body.debitId, idempotencyKey: 'auto-debit:ln-1:1:1', cardLast4: '3445' });
  });

  it.each([
    ['account_frozen', tv.WITHHOLDING_FROZEN_CARD],
    ['card_cancelled', tv.WITHHOLDING_CANCELLED_LATER_CARD],
    ['over_daily_limit', tv.WITHHOLDING_OVER_LIMIT_CARD],
    ['insufficient_funds', tv.WITHHOLDING_INSUFFICIENT_FUNDS_CARD],
  ])('answers %s for its test card, takes nothing, and answers a retry of the key the same', async (code, card) => {
    const id = await mandate(card);
    const r = await debit(id, `d-${code}`);
    expect(r).toMatchObject({ status: 201, body: { status: 'failed', failureCode: code, settledAt: null } });
    expect(await debit(id, `d-${code}`)).toMatchObject({ replayed: true, body: { debitId: r.body.debitId, failureCode: code } });
    expect((await ledger()).count).toBe(0);
  });

  it('takes the money once the customer has topped the card up, and no more than the balance', async () => {
    const id = await mandate(tv.WITHHOLDING_INSUFFICIENT_FUNDS_CARD);
    expect((await debit(id, 'a1')).body).toMatchObject({ failureCode: 'insufficient_funds' });
    const put = await fetch(`${base}/v1/mandates/${id}/balance`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ balanceFen: 400_000 }) });
    expect(put.status).toBe(200);
    expect((await debit(id, 'a2')).body).toMatchObject({ status: 'succeeded' });
    expect((await debit(id, 'a3')).body).toMatchObject({ status: 'failed', failureCode: 'insufficient_funds' });
    expect(await ledger()).toMatchObject({ count: 1, totalFen: 300_000 });
  });

  it('stops a card at the daily limit of one Asia/Shanghai day, and takes again the next day', async () => {
    const id = await mandate(ORDINARY_CARD);
    expect((await debit(id, 'l1', tv.WITHHOLDING_DAILY_LIMIT_FEN - 100)).body).toMatchObject({ status: 'succeeded' });
    expect((await debit(id, 'l2', 101)).body).toMatchObject({ status: 'failed', failureCode: 'over_daily_limit' });
    expect((await debit(id, 'l3', 100)).body).toMatchObject({ status: 'succeeded' });
    clock = Date.parse('2027-01-10T16:00:00Z'); // midnight in Shanghai: a new day
    expect((await debit(id, 'l4', 101)).body).toMatchObject({ status: 'succeeded' });
  });

  it('keeps a pending debit out of the ledger until it settles', async () => {
    const id = await mandate(tv.WITHHOLDING_PENDING_CARD);
    const r = await debit(id, 'p1');
    expect(r.body).toMatchObject({ status: 'pending', settledAt: null });
    expect((await ledger()).count).toBe(0);
    clock += 3_600_000;
    const read = await fetch(`${base}/v1/debits/${r.body.debitId}`);
    expect(await read.json()).toMatchObject({ status: 'succeeded', settledAt: new Date(clock).toISOString() });
    expect(await ledger()).toMatchObject({ count: 1, totalFen: 300_000 });
    expect((await fetch(`${base}/v1/debits/db_nope`)).status).toBe(404);
  });

  it('refuses an unknown mandate without remembering the key, and bad amounts', async () => {
    expect(await debit('md_nope', 'u1')).toMatchObject({ status: 404, body: { code: 'mandate_not_found' } });
    const id = await mandate(ORDINARY_CARD);
    expect((await debit(id, 'u1')).body).toMatchObject({ status: 'succeeded' });
    expect(await post('/v1/debits', { mandateId: id, amountFen: 0, currency: 'CNY', reference: 'ln-1' }, 'u2')).toMatchObject({ status: 400 });
    expect(await post('/v1/debits', { mandateId: id, amountFen: 12.5, currency: 'CNY', reference: 'ln-1' }, 'u3')).toMatchObject({ status: 400 });
    expect(await post('/v1/debits', { mandateId: id, amountFen: 100, currency: 'USD', reference: 'ln-1' }, 'u4')).toMatchObject({
      status: 422,
      body: { code: 'unsupported_currency' },
    });
  });

  it('with the answer lost, makes the debit, and a retry with the same key learns it: one entry', async () => {
    const id = await mandate(ORDINARY_CARD);
    await admin.setFault({ provider: 'withholding', mode: 'lost_response', count: 1 });
    await expect(debit(id, 'lost-1')).rejects.toThrow();
    const retry = await debit(id, 'lost-1');
    expect(retry).toMatchObject({ status: 201, replayed: true, body: { status: 'succeeded' } });
    expect(await ledger()).toMatchObject({ count: 1, totalFen: 300_000 });
  });
});

describe('the settlement file', () => {
  it('is published once the day is over and lists every debit settled that day, with its merchant reference', async () => {
    const id = await mandate(ORDINARY_CARD);
    const paid = await debit(id, 'auto-debit:ln-1:1:1', 250_000);
    await debit(await mandate(tv.WITHHOLDING_FROZEN_CARD, 'ln-2'), 'auto-debit:ln-2:1:1', 1_000, 'ln-2');
    const pendingId = await mandate(tv.WITHHOLDING_PENDING_CARD, 'ln-3');
    const pending = await debit(pendingId, 'auto-debit:ln-3:1:1', 7_000, 'ln-3');
    expect(pending.body.status).toBe('pending');

    const notYet = await fetch(`${base}/v1/settlements/2027-01-10`);
    expect(notYet.status).toBe(409);
    expect(await notYet.json()).toMatchObject({ code: 'settlement_not_ready' });

    clock = Date.parse('2027-01-10T17:00:00Z'); // 01:00 on the 11th in Shanghai; the pending one settled at 10:00 on the 10th
    const res = await fetch(`${base}/v1/settlements/2027-01-10`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...rows] = (await res.text()).trim().split('\n');
    expect(header).toBe('debit_id,merchant_reference,reference,mandate_id,amount_fen,currency,settled_at');
    expect(rows.map((r) => r.split(',').slice(0, 5))).toEqual([
      [paid.body.debitId, 'auto-debit:ln-1:1:1', 'ln-1', id, '250000'],
      [pending.body.debitId, 'auto-debit:ln-3:1:1', 'ln-3', pendingId, '7000'],
    ]);
    const empty = await fetch(`${base}/v1/settlements/2027-01-09`);
    expect((await empty.text()).trim().split('\n')).toHaveLength(1);
    expect((await fetch(`${base}/v1/settlements/2027-1-9`)).status).toBe(400);
  });
});

describe('the client the activities use', () => {
  const client = () => new WithholdingClient({ baseUrl: base });
  const mandateReq = (cardNumber: string) => ({ reference: 'ln-c', bankCode: 'ICBC', cardNumber, ...HOLDER });

  it('registers and debits, answering a bank refusal of a debit as a result, not an exception', async () => {
    const c = client();
    const m = await c.registerMandate(mandateReq(tv.WITHHOLDING_FROZEN_CARD), 'cm-1');
    expect(m).toMatchObject({ status: 'active', cardLast4: '0042', replayed: false });
    expect((await c.registerMandate(mandateReq(tv.WITHHOLDING_FROZEN_CARD), 'cm-1')).replayed).toBe(true);
    const d = await c.requestDebit({ mandateId: m.mandateId, amountFen: 100, currency: 'CNY', reference: 'ln-c' }, 'cd-1');
    expect(d).toMatchObject({ status: 'failed', failureCode: 'account_frozen', replayed: false });
    expect(await c.getDebit(d.debitId)).toMatchObject({ debitId: d.debitId, failureCode: 'account_frozen' });
    expect(await c.revokeMandate(m.mandateId)).toMatchObject({ status: 'revoked' });
    expect(await c.getMandate(m.mandateId)).toMatchObject({ status: 'revoked' });
  });

  it('raises a refused mandate as WithholdingRefused with its code and no personal data', async () => {
    await expectRefusal(client().registerMandate(mandateReq(tv.WITHHOLDING_HOLDER_MISMATCH_CARD), 'cm-2'), 'WithholdingRefused', 'holder_mismatch', [
      tv.WITHHOLDING_HOLDER_MISMATCH_CARD,
      HOLDER.holderName,
      HOLDER.idNumber,
    ]);
    await expectRefusal(client().getMandate('md_nope'), 'ProviderResourceNotFound', 'mandate_not_found');
  });

  it('raises a channel outage as transient, and the retry with the same key debits once', async () => {
    const c = client();
    const m = await c.registerMandate(mandateReq(ORDINARY_CARD), 'cm-3');
    await admin.setFault({ provider: 'withholding', mode: 'error_5xx', count: 1 });
    const req = { mandateId: m.mandateId, amountFen: 9_900, currency: 'CNY' as const, reference: 'ln-c' };
    await expectTransient(c.requestDebit(req, 'cd-3'));
    expect(await c.requestDebit(req, 'cd-3')).toMatchObject({ status: 'succeeded', replayed: false });
    await admin.setFault({ provider: 'withholding', mode: 'lost_response', count: 1 });
    await expectTransient(c.requestDebit({ ...req, amountFen: 100 }, 'cd-4'));
    expect(await c.requestDebit({ ...req, amountFen: 100 }, 'cd-4')).toMatchObject({ status: 'succeeded', replayed: true });
    expect(await ledger('ln-c')).toMatchObject({ count: 2, totalFen: 10_000 });
  });

  it('reads the settlement file as lines, and answers settlement_not_ready before the day is over', async () => {
    const c = client();
    const m = await c.registerMandate(mandateReq(ORDINARY_CARD), 'cm-5');
    const d = await c.requestDebit({ mandateId: m.mandateId, amountFen: 12_345, currency: 'CNY', reference: 'ln-c' }, 'auto-debit:ln-c:1:1');
    await expectRefusal(c.settlementFile('2027-01-10'), 'WithholdingRefused', 'settlement_not_ready');
    clock = Date.parse('2027-01-11T01:00:00Z');
    expect(await c.settlementFile('2027-01-10')).toEqual([
      { debitId: d.debitId, merchantReference: 'auto-debit:ln-c:1:1', reference: 'ln-c', mandateId: m.mandateId, amountFen: 12_345, currency: 'CNY', settledAt: d.settledAt },
    ]);
  });

  it('treats a settlement file that is not as documented as a torn answer', () => {
    const fail = (what: string) => new ProviderTransientError(what, 'withholding', 'settlementFile', 200);
    const header = 'debit_id,merchant_reference,reference,mandate_id,amount_fen,currency,settled_at';
    expect(parseSettlementFile(`${header}\n"db_1","k,1",ln,md,5,CNY,2027-01-10T01:00:00.000Z\n`, fail)).toEqual([
      { debitId: 'db_1', merchantReference: 'k,1', reference: 'ln', mandateId: 'md', amountFen: 5, currency: 'CNY', settledAt: '2027-01-10T01:00:00.000Z' },
    ]);
    expect(() => parseSettlementFile('id,amount\n', fail)).toThrow(/header/);
    expect(() => parseSettlementFile(`${header}\ndb_1,k,ln,md,5.5,CNY,2027-01-10T01:00:00.000Z\n`, fail)).toThrow(/line 2/);
    expect(() => parseSettlementFile(`${header}\ndb_1,k,ln,md,5,CNY\n`, fail)).toThrow(/line 2/);
    expect(() => parseSettlementFile(`${header}\n"db_1,k\n`, fail)).toThrow(/not CSV/);
  });
});

it('keeps mandates, debits, keys and the ledger across a restart', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'withholding-state-'));
  try {
    const stateFile = path.join(dir, 'state.jsonl');
    const first = await startSandbox({ stateFile });
    const url = first.providers.withholding;
    const call = (p: string, body: unknown, key: string) =>
      fetch(`${url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    const m = (await (await call('/v1/mandates', { reference: 'ln-r', bankCode: 'ICBC', cardNumber: ORDINARY_CARD, ...HOLDER }, 'm-r')).json()) as { mandateId: string };
    const d = (await (await call('/v1/debits', { mandateId: m.mandateId, amountFen: 5_000, currency: 'CNY', reference: 'ln-r' }, 'd-r')).json()) as { debitId: string };
    await first.close();

    const second = await startSandbox({ stateFile });
    try {
      const again = await fetch(`${second.providers.withholding}/v1/debits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'd-r' },
        body: JSON.stringify({ mandateId: m.mandateId, amountFen: 5_000, currency: 'CNY', reference: 'ln-r' }),
      });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await again.json()).toMatchObject({ debitId: d.debitId });
      const l = (await (await fetch(`${second.providers.withholding}/v1/ledger`)).json()) as { count: number };
      expect(l.count).toBe(1);
    } finally {
      await second.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
