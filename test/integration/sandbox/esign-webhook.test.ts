import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EsignClient, type EsignWebhookEvent } from '../../../src/activities/providers';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../../src/sandbox';
import { verifyEsignSignature } from '../../../src/sandbox/esign-signature';
import { waitFor as waitUntil } from '../../helpers/wait';
import { sha } from './helpers';

// The e-signature callback: delivered to the configured URL, signed with HMAC-SHA256 over
// "<t>.<body>", retried until the receiver answers 2xx, and verifiable by verifyEsignSignature.
const SECRET = 'test-esign-webhook-secret-0123456789';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
}

let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** How many of the next deliveries the receiver fails with 500. */
let failNext = 0;

let sandbox: RunningSandbox;
let admin: SandboxAdminClient;
let esign: EsignClient;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = failNext-- > 0 ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/esign`;
  sandbox = await startSandbox({ esignWebhookUrl: receiverUrl, esignWebhookSecret: SECRET, esignWebhookRetryDelaysMs: [50, 50, 50] });
  admin = new SandboxAdminClient(sandbox.url);
  esign = new EsignClient({ baseUrl: sandbox.providers.esign });
});
afterAll(async () => {
  await sandbox.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});
beforeEach(() => {
  received.length = 0;
  failNext = 0;
});

const waitFor = <T>(probe: () => T | undefined | Promise<T | undefined>) => waitUntil(probe, 'the webhook', { intervalMs: 20 });

const create = (key: string) =>
  esign.createEnvelope({ applicationId: 'app-1', idempotencyKey: key, documentHash: sha('d'), signerRef: 'applicant-1' });

it('calls the webhook with a valid HMAC signature when the customer signs', async () => {
  const envelope = await create('wh-1');
  await admin.signEnvelope(envelope.envelopeId, '2026-11-22T10:00:00+08:00');
  const delivery = await waitFor(() => received[0]);

  const header = delivery.headers['x-esign-signature'] as string;
  expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  expect(verifyEsignSignature(SECRET, header, delivery.raw, 300)).toBe(true);
  expect(verifyEsignSignature('another-secret-entirely-000000', header, delivery.raw, 300)).toBe(false);
  expect(verifyEsignSignature(SECRET, header, delivery.raw.replace('app-1', 'app-2'), 300)).toBe(false);
  expect(verifyEsignSignature(SECRET, header, delivery.raw, 300, Math.floor(Date.now() / 1000) + 3600)).toBe(false);

  const event = JSON.parse(delivery.raw) as EsignWebhookEvent;
  expect(event).toMatchObject({
    type: 'envelope.signed',
    data: { envelopeId: envelope.envelopeId, applicationId: 'app-1', status: 'signed', signedAt: '2026-11-22T02:00:00.000Z' },
  });
  expect(delivery.headers['x-esign-event-id']).toBe(event.eventId);

  // Signing again changes nothing and sends nothing: every event is a delivery on the envelope,
  // scheduled by the sign request itself, so the record shows at once whether a second one exists.
  await admin.signEnvelope(envelope.envelopeId);
  expect((await esign.getEnvelope(envelope.envelopeId)).webhooks).toHaveLength(1);
  const after = await waitFor(async () => {
    const e = await esign.getEnvelope(envelope.envelopeId);
    return e.webhooks[0]?.state === 'delivered' ? e : undefined;
  });
  expect(after.webhooks).toHaveLength(1);
  expect(after.webhooks[0]).toMatchObject({ state: 'delivered', attempts: [{ status: 204 }] });
  expect(received).toHaveLength(1);
});

it('retries a failing webhook with the same event id, each attempt freshly signed', async () => {
  failNext = 2;
  const envelope = await create('wh-2');
  await admin.signEnvelope(envelope.envelopeId);
  await waitFor(() => received[2]);
  expect(new Set(received.map((r) => r.headers['x-esign-event-id'])).size).toBe(1);
  expect(received.map((r) => r.headers['x-esign-delivery-attempt'])).toEqual(['1', '2', '3']);
  for (const r of received) expect(verifyEsignSignature(SECRET, r.headers['x-esign-signature'] as string, r.raw, 300)).toBe(true);
  const after = await waitFor(async () => {
    const e = await esign.getEnvelope(envelope.envelopeId);
    return e.webhooks[0]?.state === 'delivered' ? e : undefined;
  });
  expect(after.webhooks[0]?.attempts.map((a) => a.status)).toEqual([500, 500, 204]);
});

it('gives up after the last retry and records the failure', async () => {
  failNext = 10;
  const envelope = await create('wh-3');
  await admin.signEnvelope(envelope.envelopeId);
  const after = await waitFor(async () => {
    const e = await esign.getEnvelope(envelope.envelopeId);
    return e.webhooks[0]?.state === 'failed' ? e : undefined;
  });
  expect(received).toHaveLength(4);
  expect(after.webhooks[0]?.attempts).toHaveLength(4);
});

it('sends a declined event too, and refuses to sign a voided envelope', async () => {
  const declined = await create('wh-4');
  await admin.declineEnvelope(declined.envelopeId, 'changed my mind');
  const delivery = await waitFor(() => received[0]);
  expect((JSON.parse(delivery.raw) as EsignWebhookEvent).type).toBe('envelope.declined');

  const voided = await create('wh-5');
  await esign.voidEnvelope(voided.envelopeId, 'offer expired');
  await expect(admin.signEnvelope(voided.envelopeId)).rejects.toThrow(/409/);
});
