import { createProviderClients, ValuationClient, type ProviderClients } from '../../../src/activities/providers';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../../src/sandbox';
import * as tv from '../../../src/sandbox/test-values';
import { SMS_BATCH_MAX } from '../../../src/sandbox/providers/sms';
import { expectRefusal, expectTransient, sha } from './helpers';

// Each provider's client against the running sandbox: the favourable answer, a business refusal (a
// non-retryable typed failure) and a transient fault. That Temporal's retries outlast the faults,
// with the real activities and retry policies, is retries.test.ts.
let sandbox: RunningSandbox;
let admin: SandboxAdminClient;
let clients: ProviderClients;

beforeAll(async () => {
  sandbox = await startSandbox();
  admin = new SandboxAdminClient(sandbox.url);
  clients = createProviderClients(sandbox.providers);
});
afterAll(() => sandbox.close());
afterEach(() => admin.clearFaults());

const name = '张三';
const idNumber = tv.ORDINARY_ID_NUMBER;
const phone = '13800138000';

describe('OCR', () => {
  const doc = (uri: string, type: 'id_card' | 'driver_license' = 'id_card') => ({
    documentId: 'doc-1',
    type,
    uri,
    sha256: sha('a'),
    expected: { name, idNumber },
  });

  it('reads an ordinary ID card back as expected, confidently and unexpired', async () => {
    const r = await clients.ocr.recognize(doc('s3://docs/id.jpg'));
    expect(r.fields.name?.value).toBe(name);
    expect(r.fields.idNumber?.value).toBe(idNumber);
    expect(r.fields.birthDate?.value).toBe('1949-12-31');
    expect(r.minConfidence).toBeGreaterThanOrEqual(0.95);
    expect(String(r.fields.expiryDate?.value) > new Date().toISOString().slice(0, 10)).toBe(true);
    expect(r.warnings).toEqual([]);
  });

  it('reads a driving licence whose number is the ID number', async () => {
    const r = await clients.ocr.recognize(doc('s3://docs/dl.jpg', 'driver_license'));
    expect(r.fields.licenceNumber?.value).toBe(idNumber);
    expect(r.fields.vehicleClass?.value).toBe('C1');
  });

  it('answers the URI markers: blurry, expired, mismatch', async () => {
    const blurry = await clients.ocr.recognize(doc(`s3://docs/id.jpg${tv.OCR_MARKER_BLURRY}`));
    expect(blurry.minConfidence).toBeLessThan(0.6);
    expect(blurry.warnings).toContain('low_confidence');
    const expired = await clients.ocr.recognize(doc(`s3://docs/id.jpg${tv.OCR_MARKER_EXPIRED}`));
    expect(expired.fields.expiryDate?.value).toBe('2021-06-30');
    expect(expired.warnings).toContain('document_expired');
    const mismatch = await clients.ocr.recognize(doc(`s3://docs/id.jpg${tv.OCR_MARKER_MISMATCH}`));
    expect(mismatch.fields.name?.value).toBe(tv.OCR_MISMATCH_NAME);
    expect(mismatch.fields.idNumber?.value).toBe(tv.OCR_MISMATCH_ID_NUMBER);
  });

  it('refuses an unreadable document as OcrRefused', async () => {
    await expectRefusal(clients.ocr.recognize(doc(`s3://docs/id.jpg${tv.OCR_MARKER_UNREADABLE}`)), 'OcrRefused', 'document_unreadable', [
      name,
      idNumber,
    ]);
  });

  it('reports a 5xx as a transient failure, and reads again once the outage is over', async () => {
    await admin.setFault({ provider: 'ocr', mode: 'error_5xx', count: 1 });
    const err = await expectTransient(clients.ocr.recognize(doc('s3://docs/id.jpg')));
    expect(err.message).toBe('ocr recognize answered HTTP 503 (sandbox_fault)');
    expect((await clients.ocr.recognize(doc('s3://docs/id.jpg'))).fields.name?.value).toBe(name);
  });
});

describe('credit bureau', () => {
  const pull = (id: string) => clients.creditBureau.pullReport({ idNumber: id, name, consentRef: 'consent-1' });

  it('gives an ordinary applicant a good, deterministic report', async () => {
    const a = await pull(idNumber);
    const b = await pull(idNumber);
    expect(a.score).toBeGreaterThanOrEqual(720);
    expect(a.score).toBeLessThanOrEqual(900);
    expect(a.flags).toEqual([]);
    expect(a.monthlyDebtFen).toBe(a.openDebts.reduce((s, d) => s + d.monthlyPaymentFen, 0));
    expect(b.reportId).toBe(a.reportId);
    expect(b.score).toBe(a.score);
  });

  it('answers each adverse test ID number', async () => {
    expect((await pull(tv.CREDIT_LOW_SCORE_ID)).score).toBe(455);
    expect((await pull(tv.CREDIT_MARGINAL_SCORE_ID)).score).toBe(610);
    expect((await pull(tv.CREDIT_HIGH_DEBT_ID)).monthlyDebtFen).toBe(1_800_000);
    expect((await pull(tv.CREDIT_MANY_INQUIRIES_ID)).inquiriesLast6Months).toBe(14);
    expect((await pull(tv.CREDIT_BLACKLISTED_ID)).flags).toContain('court_enforcement_blacklist');
    expect((await pull(tv.CREDIT_FRAUD_ALERT_ID)).flags).toContain('fraud_alert');
  });

  it('refuses a person without a credit file as CreditReportRefused', async () => {
    await expectRefusal(pull(tv.CREDIT_NO_FILE_ID), 'CreditReportRefused', 'no_credit_file', [tv.CREDIT_NO_FILE_ID, name]);
    await expectRefusal(pull('110105198506151010'), 'CreditReportRefused', 'invalid_id_number', ['110105198506151010']);
  });

});

describe('call centre', () => {
  const task = (key: string, p = phone) =>
    clients.callCentre.createTask({ applicationId: 'app-1', idempotencyKey: key, phone: p, script: 'loan_verification_v1' });

  it('creates a task once per idempotency key, reads and cancels it idempotently', async () => {
    const a = await task('cc-1');
    const b = await task('cc-1');
    expect(b.taskId).toBe(a.taskId);
    expect(a.status).toBe('queued');
    expect(a.phoneMasked).toBe('138****8000');
    expect((await clients.callCentre.getTask(a.taskId)).taskId).toBe(a.taskId);
    expect((await clients.callCentre.cancelTask(a.taskId, 'withdrawn')).status).toBe('cancelled');
    expect((await clients.callCentre.cancelTask(a.taskId)).status).toBe('cancelled');
    await expectRefusal(
      clients.callCentre.createTask({ applicationId: 'app-2', idempotencyKey: 'cc-1', phone, script: 'x' }),
      'IdempotencyKeyReused',
      'idempotency_key_reused',
    );
  });

  it('refuses to cancel a completed call, and to call a do-not-call number', async () => {
    const t = await task('cc-2');
    await admin.completeCallTask(t.taskId, 'passed');
    await expectRefusal(clients.callCentre.cancelTask(t.taskId), 'CallTaskRefused', 'task_already_completed');
    await expectRefusal(task('cc-3', tv.CALL_CENTRE_NOT_CALLABLE_PHONE), 'CallTaskRefused', 'number_not_callable', [
      tv.CALL_CENTRE_NOT_CALLABLE_PHONE,
    ]);
  });

});

describe('valuation', () => {
  const vehicle = {
    vin: 'LFV2A21K2A3010006',
    make: 'BYD',
    model: 'Han',
    year: new Date().getUTCFullYear(),
    mileageKm: 0,
    condition: 'new' as const,
    priceFen: 25_000_000,
  };

  it('values a new car at its price and a used car down the depreciation curve', async () => {
    const fresh = await clients.valuation.valueVehicle(vehicle);
    expect(fresh.valuationFen).toBe(25_000_000);
    expect(fresh.method).toBe('new_vehicle_invoice');
    const year = new Date().getUTCFullYear();
    const used = (age: number, km: number) =>
      clients.valuation.valueVehicle({ ...vehicle, condition: 'used', year: year - age, mileageKm: km, priceFen: 15_000_000 });
    const threeYears = await used(3, 60_000);
    const sixYears = await used(6, 120_000);
    const sixYearsWorn = await used(6, 250_000);
    expect(threeYears.method).toBe('depreciation_curve');
    expect(threeYears.valuationFen).toBeLessThan(25_000_000);
    expect(sixYears.valuationFen).toBeLessThan(threeYears.valuationFen);
    expect(sixYearsWorn.valuationFen).toBeLessThan(sixYears.valuationFen);
    expect(threeYears.valuationFen % 10_000).toBe(0);
    const unknown = await clients.valuation.valueVehicle({ ...vehicle, make: 'Hongqi', model: 'H5', condition: 'used', mileageKm: 10_000 });
    expect(unknown.method).toBe('market_comparables');
    expect(unknown.valuationFen).toBeGreaterThan(24_000_000);
  });

  it('answers the test VINs: low valuation, not found, stolen', async () => {
    const low = await clients.valuation.valueVehicle({ ...vehicle, vin: tv.VALUATION_LOW_VIN });
    expect(low.valuationFen).toBe(8_750_000);
    expect(low.flags).toContain('flood_damage');
    await expectRefusal(clients.valuation.valueVehicle({ ...vehicle, vin: tv.VALUATION_NOT_FOUND_VIN }), 'ValuationRefused', 'vehicle_not_found', [
      tv.VALUATION_NOT_FOUND_VIN,
    ]);
    await expectRefusal(
      clients.valuation.valueVehicle({ ...vehicle, vin: tv.VALUATION_STOLEN_VIN }),
      'ValuationRefused',
      'vehicle_reported_stolen',
    );
  });

  it('holds a slow answer back, then gives it', async () => {
    // Held ten minutes: this client's 1 s timeout always fires first, however slow the machine.
    const impatient = new ValuationClient({ baseUrl: sandbox.providers.valuation, timeoutMs: 1_000 });
    await admin.setFault({ provider: 'valuation', mode: 'slow', latencyMs: 600_000, count: 1 });
    expect((await expectTransient(impatient.valueVehicle(vehicle))).message).toBe('valuation valueVehicle timed out after 1000 ms');
    // A short hold and the production client (15 s): the answer comes, late but right.
    await admin.setFault({ provider: 'valuation', mode: 'slow', latencyMs: 300, count: 1 });
    expect((await clients.valuation.valueVehicle(vehicle)).valuationFen).toBe(25_000_000);
    expect(await admin.listFaults()).toEqual([]); // the hold was spent on that request
  });
});

describe('e-signature', () => {
  const envelope = (key: string, signerId = idNumber) =>
    clients.esign.createEnvelope({
      applicationId: 'app-1',
      idempotencyKey: key,
      documentHash: sha('b'),
      signerRef: 'applicant-1',
      signer: { name, idNumber: signerId, phone },
    });

  it('creates an envelope once per key with a working signing link, and voids it idempotently', async () => {
    const a = await envelope('es-1');
    const b = await envelope('es-1');
    expect(b.envelopeId).toBe(a.envelopeId);
    expect(a.status).toBe('sent');
    const page = await fetch(a.signingUrl);
    expect(page.status).toBe(200);
    expect((await clients.esign.voidEnvelope(a.envelopeId, 'offer expired')).status).toBe('voided');
    expect((await clients.esign.voidEnvelope(a.envelopeId)).status).toBe('voided');
    expect((await clients.esign.getEnvelope(a.envelopeId)).voidReason).toBe('offer expired');
  });

  it('refuses a signer who fails identity verification, and voiding a signed envelope', async () => {
    await expectRefusal(envelope('es-2', tv.ESIGN_IDENTITY_UNVERIFIED_ID), 'EsignRefused', 'signer_identity_unverified', [
      tv.ESIGN_IDENTITY_UNVERIFIED_ID,
      name,
    ]);
    const e = await envelope('es-3');
    await admin.signEnvelope(e.envelopeId);
    await expectRefusal(clients.esign.voidEnvelope(e.envelopeId), 'EsignRefused', 'envelope_already_signed');
  });

  it('loses an answer after doing the work: the same key then answers the envelope made', async () => {
    await admin.setFault({ provider: 'esign', mode: 'lost_response', count: 1 });
    await expectTransient(envelope('es-4'));
    const again = await envelope('es-4');
    expect((await clients.esign.getEnvelope(again.envelopeId)).status).toBe('sent');
  });
});

describe('SMS', () => {
  it('sends once per messageId, singly and in batches', async () => {
    const first = await clients.sms.send({ messageId: 'sms-1', to: phone, text: '您的合同已生成' });
    const again = await clients.sms.send({ messageId: 'sms-1', to: phone, text: '您的合同已生成' });
    expect(first.status).toBe('accepted');
    expect(again).toEqual({ ...first, status: 'duplicate' });
    const results = await clients.sms.sendBatch([
      { messageId: 'sms-1', to: phone, text: '您的合同已生成' },
      { messageId: 'sms-2', to: '13900139000', text: '还款提醒' },
      { messageId: 'sms-3', to: tv.SMS_NOT_IN_SERVICE_PHONE, text: '还款提醒' },
    ]);
    expect(results.map((r) => r.status)).toEqual(['duplicate', 'accepted', 'rejected']);
    const recorded = await admin.smsMessages({ to: phone });
    expect(recorded.map((m) => m.messageId)).toEqual(['sms-1']);
  });

  it('refuses a number not in service as SmsRefused', async () => {
    await expectRefusal(clients.sms.send({ messageId: 'sms-4', to: tv.SMS_NOT_IN_SERVICE_PHONE, text: 'x' }), 'SmsRefused', 'number_not_in_service', [
      tv.SMS_NOT_IN_SERVICE_PHONE,
    ]);
  });

  it('an outage of every provider fails a text, which is then sent once', async () => {
    await admin.setFault({ provider: 'all', mode: 'error_5xx', count: 1 });
    await expectTransient(clients.sms.send({ messageId: 'sms-5', to: phone, text: 'x' }));
    expect((await clients.sms.send({ messageId: 'sms-5', to: phone, text: 'x' })).status).toBe('accepted');
    expect((await admin.smsMessages()).filter((m) => m.messageId === 'sms-5')).toHaveLength(1);
  });
});

describe('SMS batches', () => {
  const recorded = async (ids: string[]) => (await admin.smsMessages()).filter((m) => ids.includes(m.messageId));
  const postBatch = (body: unknown) =>
    fetch(`${sandbox.providers.sms}/v1/messages/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('answers each message of a batch on its own, in the order sent, and texts only the deliverable ones', async () => {
    await clients.sms.send({ messageId: 'b1-taken', to: phone, text: '第一条' });
    const results = await clients.sms.sendBatch([
      { messageId: 'b1-a', to: '13900139001', text: '还款提醒 A', template: 'due_today', tag: 'repayment_reminder' },
      { messageId: 'b1-bad', to: '1390013900', text: '还款提醒' },
      { messageId: 'b1-b', to: '13900139002', text: '还款提醒 B' },
      { messageId: 'b1-dead', to: tv.SMS_NOT_IN_SERVICE_PHONE, text: '还款提醒' },
      { messageId: 'b1-taken', to: phone, text: '另一条' },
    ]);
    expect(results).toEqual([
      { messageId: 'b1-a', status: 'accepted', providerMessageId: expect.stringMatching(/^sms_/) },
      { messageId: 'b1-bad', status: 'rejected', code: 'invalid_phone_number', message: expect.any(String) },
      { messageId: 'b1-b', status: 'accepted', providerMessageId: expect.stringMatching(/^sms_/) },
      { messageId: 'b1-dead', status: 'rejected', code: 'number_not_in_service', message: expect.any(String) },
      { messageId: 'b1-taken', status: 'rejected', code: 'message_id_reused', message: expect.any(String) },
    ]);
    const a = results[0] as { providerMessageId: string };
    const b = results[2] as { providerMessageId: string };
    expect(a.providerMessageId).not.toBe(b.providerMessageId);
    const texted = await recorded(['b1-a', 'b1-bad', 'b1-b', 'b1-dead', 'b1-taken']);
    expect(texted.map((m) => [m.messageId, m.text]).sort()).toEqual([
      ['b1-a', '还款提醒 A'],
      ['b1-b', '还款提醒 B'],
      ['b1-taken', '第一条'],
    ]);
    expect(texted.find((m) => m.messageId === 'b1-a')).toMatchObject({ to: '13900139001', template: 'due_today', tag: 'repayment_reminder' });
  });

  it('answers a repeated batch (a retry, or an answer lost after the work) with duplicates and texts nobody twice', async () => {
    const batch = Array.from({ length: SMS_BATCH_MAX }, (_, i) => ({ messageId: `b2-${i}`, to: `1370000${String(i).padStart(4, '0')}`, text: `提醒 ${i}` }));
    await admin.setFault({ provider: 'sms', mode: 'lost_response', count: 1 });
    await expectTransient(clients.sms.sendBatch(batch));
    const first = await recorded(batch.map((m) => m.messageId));
    expect(first).toHaveLength(SMS_BATCH_MAX); // the gateway took the whole batch before the answer was lost
    const again = await clients.sms.sendBatch(batch);
    const third = await clients.sms.sendBatch(batch);
    expect(again.map((r) => r.status)).toEqual(batch.map(() => 'duplicate'));
    const ids = new Map(first.map((m) => [m.messageId, m.providerMessageId]));
    expect(again.map((r) => (r.status === 'rejected' ? null : r.providerMessageId))).toEqual(batch.map((m) => ids.get(m.messageId)));
    expect(third).toEqual(again);
    expect(await recorded(batch.map((m) => m.messageId))).toHaveLength(SMS_BATCH_MAX);
  });

  it('refuses a malformed batch whole with 400 and the failing fields, sending none of it', async () => {
    const ok = (i: number) => ({ messageId: `b3-${i}`, to: '13600136000', text: `提醒 ${i}` });
    const cases: Array<[unknown, string, RegExp]> = [
      [{}, 'messages', /array/i],
      [{ messages: [] }, 'messages', /1/],
      [{ messages: Array.from({ length: SMS_BATCH_MAX + 1 }, (_, i) => ok(i)) }, 'messages', /100/],
      [{ messages: [ok(0), { messageId: 'b3-x', text: '提醒' }] }, 'messages.1.to', /.+/],
      [{ messages: [ok(0), ok(1), { ...ok(0), text: '另一条' }] }, 'messages.2.messageId', /repeats messages\.0\.messageId/],
    ];
    for (const [body, path, message] of cases) {
      const res = await postBatch(body);
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { code: string; issues: { path: string; message: string }[] };
      expect(answer.code).toBe('invalid_request');
      expect(answer.issues).toContainEqual({ path, message: expect.stringMatching(message) });
    }
    expect(await recorded(Array.from({ length: SMS_BATCH_MAX + 1 }, (_, i) => `b3-${i}`))).toEqual([]);
    // Through the client, a malformed batch is a bug: non-retryable, not a transient error.
    const err = await clients.sms.sendBatch([ok(0), ok(0)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'ProviderRequestInvalid', nonRetryable: true });
  });

  it('applies the fault switch to the batch request as a whole', async () => {
    await admin.setFault({ provider: 'sms', mode: 'refusal', status: 422, code: 'quota_exhausted', count: 1 });
    const batch = [
      { messageId: 'b4-0', to: '13500135000', text: '提醒' },
      { messageId: 'b4-1', to: '13500135001', text: '提醒' },
    ];
    await expectRefusal(clients.sms.sendBatch(batch), 'SmsRefused', 'quota_exhausted', ['13500135000']);
    expect(await recorded(['b4-0', 'b4-1'])).toEqual([]);
    expect((await clients.sms.sendBatch(batch)).map((r) => r.status)).toEqual(['accepted', 'accepted']);
  });
});

describe('network faults', () => {
  it('turns an unreachable provider into a retryable error', async () => {
    const dead = createProviderClients({ ...sandbox.providers, ocr: 'http://127.0.0.1:1/ocr' });
    const err = await expectTransient(
      dead.ocr.recognize({ documentId: 'd', type: 'id_card', uri: 's3://x', sha256: sha('c'), expected: { name, idNumber } }),
    );
    expect(err.message).toMatch(/^ocr recognize failed to reach the provider/);
  });
});
