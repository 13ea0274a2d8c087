import { OcrClient } from '../../../src/activities/providers';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../../src/sandbox';
import { expectRefusal, expectTransient, sha } from './helpers';

// The admin fault switch itself: set, list, expire by duration or count, clear, reset.
let sandbox: RunningSandbox;
let admin: SandboxAdminClient;
/** The production client, with its production timeout: every answer it waits for arrives, however busy the machine. */
let ocr: OcrClient;
/** The sandbox's clock, moved by the tests: a fault's duration runs out when a test says so. */
let clock = Date.parse('2026-11-23T02:00:00Z');

beforeAll(async () => {
  sandbox = await startSandbox({ now: () => new Date(clock) });
  admin = new SandboxAdminClient(sandbox.url);
  ocr = new OcrClient({ baseUrl: sandbox.providers.ocr });
});
afterAll(() => sandbox.close());
afterEach(() => admin.clearFaults());

const read = () => ocr.recognize({ documentId: 'd', type: 'id_card', uri: 's3://x', sha256: sha('f') });

it('lists an active fault with its counters and clears it', async () => {
  await admin.setFault({ provider: 'ocr', mode: 'error_5xx', rate: 1 });
  await expectTransient(read());
  const [fault] = await admin.listFaults();
  expect(fault).toMatchObject({ provider: 'ocr', mode: 'error_5xx', status: 503, seen: 1, injected: 1, expiresAt: null });
  expect(await admin.clearFaults('ocr')).toBe(1);
  await read();
});

it('switches a fault off after its duration', async () => {
  await admin.setFault({ provider: 'ocr', mode: 'error_5xx', durationMs: 60_000 });
  await expectTransient(read());
  clock += 59_999;
  await expectTransient(read());
  expect(await admin.listFaults()).toMatchObject([{ provider: 'ocr', injected: 2 }]);
  clock += 1;
  expect(await admin.listFaults()).toEqual([]);
  await read();
});

it('spreads a fraction evenly: rate 0.25 hits requests 1, 5, 9', async () => {
  await admin.setFault({ provider: 'ocr', mode: 'fraction', rate: 0.25 });
  const outcomes: boolean[] = [];
  for (let i = 0; i < 9; i++) outcomes.push(await read().then(() => true, () => false));
  expect(outcomes).toEqual([false, true, true, true, false, true, true, true, false]);
});

it('injects a business refusal on demand', async () => {
  await admin.setFault({ provider: 'ocr', mode: 'refusal', code: 'quota_exhausted', count: 1 });
  await expectRefusal(read(), 'OcrRefused', 'quota_exhausted');
  await read();
});

it('only touches the provider it names', async () => {
  await admin.setFault({ provider: 'payments', mode: 'error_5xx' });
  await read();
});

it('rejects a malformed fault and an unknown provider', async () => {
  const post = (body: unknown) =>
    fetch(`${sandbox.url}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const bad = await post({ provider: 'bank', mode: 'error_5xx' });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ code: 'invalid_request', issues: [{ path: 'provider' }] });
  expect((await post({ provider: 'ocr', mode: 'error_5xx', rate: 2 })).status).toBe(400);
  expect((await post({ provider: 'ocr', mode: 'refusal', status: 503 })).status).toBe(400);
});

it('reset clears faults as well as state', async () => {
  // Deterministic: the sandbox holds the request ten minutes, so this client's 1 s timeout always
  // fires first, however slow the machine.
  const impatient = new OcrClient({ baseUrl: sandbox.providers.ocr, timeoutMs: 1_000 });
  await admin.setFault({ provider: 'ocr', mode: 'timeout', latencyMs: 600_000 });
  const err = await expectTransient(impatient.recognize({ documentId: 'd', type: 'id_card', uri: 's3://x', sha256: sha('f') }));
  expect(err.message).toBe('ocr recognize timed out after 1000 ms');
  await admin.reset();
  expect(await admin.listFaults()).toEqual([]);
  await read();
});

it('answers unknown paths and bad JSON with a JSON error', async () => {
  const nf = await fetch(`${sandbox.url}/ocr/v2/nothing`);
  expect(nf.status).toBe(404);
  expect(await nf.json()).toMatchObject({ code: 'not_found' });
  const bad = await fetch(`${sandbox.providers.ocr}/v1/documents/recognize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"documentId":',
  });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ code: 'invalid_json' });
});
