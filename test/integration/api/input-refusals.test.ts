import { gzipSync } from 'node:zlib';
import { and, eq, sql } from 'drizzle-orm';
import request from 'supertest';
import { createApp } from '../../../src/api/app';
import { applicants, applications, documents, idempotencyKeys, loanEvents, loanTransactions, vehicles } from '../../../src/db/schema';
import { createLogger } from '../../../src/logger';
import { loanServicingWorkflowId, type StaffRole } from '../../../src/workflows/messages';
import { applicationBody, startApiHarness, waitForState, waitForTask, type ApiHarness } from './harness';
import { eventually } from '../../helpers/servicing';

// Issue 15, findings 4, 7 and 8, through the real API (dev server, worker, database, sandbox):
// every bad input is a 400 (or 415) naming the field before anything reaches a workflow or a
// table, and a refusal is never replayed as the answer to its Idempotency-Key. Each refusal is
// checked against the database (every table counted before and after) and the workflow's history
// (no update or signal reached it).

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(() => h?.stop());

const PROBLEM = /^application\/problem\+json/;
const auth = async (role: StaffRole, sub = `${role}-i15`) => `Bearer ${await h.token(sub, role)}`;
const PASSED = { outcome: 'passed', recordingRef: 'rec-1', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

type Res = { status: number; headers: Record<string, string>; body: any };

async function counts() {
  const n = async (table: typeof applications | typeof applicants | typeof vehicles | typeof documents | typeof idempotencyKeys | typeof loanTransactions) =>
    (await h.db.db.select({ n: sql<number>`count(*)::int` }).from(table))[0]?.n ?? -1;
  return {
    applications: await n(applications),
    applicants: await n(applicants),
    vehicles: await n(vehicles),
    documents: await n(documents),
    idempotencyKeys: await n(idempotencyKeys),
    // The API's audit entries: the workflows of other applications write theirs meanwhile.
    auditEntries: (await h.db.db.select({ n: sql<number>`count(*)::int` }).from(loanEvents).where(sql`${loanEvents.eventKey} like 'api:%'`))[0]?.n ?? -1,
    // Money booked on the servicing ledger.
    transactions: await n(loanTransactions),
  };
}

/** The updates and signals a workflow has received, from its history. */
async function messagesReceived(workflowId: string): Promise<number> {
  const history = await h.env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionSignaledEventAttributes).length;
}

/**
 * Sends `send()` and expects `status` with a problem naming `pointer` (and `code` when given), no
 * table changed and, for `workflowId`, no update or signal reaching the workflow.
 */
async function refused(status: number, pointer: string, send: () => Promise<Res>, opts: { code?: string; workflowId?: string } = {}): Promise<Res> {
  const before = await counts();
  const received = opts.workflowId ? await messagesReceived(opts.workflowId) : 0;
  const res = await send();
  expect(`${res.status} ${JSON.stringify(res.body)}`).toMatch(new RegExp(`^${status} `));
  expect(res.headers['content-type']).toMatch(PROBLEM);
  const errors = (res.body.errors ?? []) as { pointer: string; code: string; message: string }[];
  expect(errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer, ...(opts.code ? { code: opts.code } : {}) })]));
  for (const e of errors) expect(e.message).not.toMatch(/Invalid input|expected .*received/);
  expect(await counts()).toEqual(before);
  if (opts.workflowId) expect(await messagesReceived(opts.workflowId)).toBe(received);
  return res;
}

async function post(path: string, body: unknown, role: StaffRole = 'officer', key?: string): Promise<Res> {
  const req = h.http.post(path).set('Authorization', await auth(role));
  if (key) req.set('Idempotency-Key', key);
  return req.send(body as object);
}

/** A POST of exactly these bytes (supertest would serialise a Buffer sent as JSON). */
async function postBytes(path: string, headers: Record<string, string>, bytes: Buffer): Promise<Res> {
  const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: { authorization: await auth('officer'), ...headers }, body: bytes });
  const text = await res.text();
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: text ? JSON.parse(text) : undefined };
}

async function createApp201(body = applicationBody()) {
  const res = await post('/applications', body);
  expect(res.status).toBe(201);
  return res.body as { id: string; workflowId: string };
}

async function toApproval() {
  const app = await createApp201();
  await waitForTask(h, app.id, 'phone_verification');
  expect([200, 202]).toContain((await post(`/applications/${app.id}/phone-verification`, PASSED, 'verifier')).status);
  await waitForTask(h, app.id, 'approval');
  return app;
}

describe('finding 4: broken text in free text is refused before the act reaches the workflow', () => {
  it('a lone surrogate or a control character in notes, reason or comment is 400 naming the field; nothing is written or sent', async () => {
    const app = await createApp201();
    await waitForTask(h, app.id, 'phone_verification');
    const wf = { workflowId: app.workflowId };
    for (const notes of ['客户确认\udfff', '\ud800', 'ok\u001b[2J', 'nul\u0000']) {
      await refused(400, '#/notes', () => post(`/applications/${app.id}/phone-verification`, { ...PASSED, notes }, 'verifier', `notes-${notes.length}`), wf);
    }
    const bad = await refused(400, '#/reason', () => post(`/applications/${app.id}/withdraw`, { reason: 'changed\udfffmind' }), { ...wf, code: 'lone_surrogate' });
    expect(bad.body.errors[0].message).toMatch(/broken character/);
    await refused(400, '#/reason', () => post(`/applications/${app.id}/withdraw`, { reason: 'bell\u0007' }), { ...wf, code: 'control_character' });
    expect((await waitForState(h, app.id, () => true)).pendingTask?.kind).toBe('phone_verification');

    // Free text may span lines: line breaks and tabs are kept exactly.
    const notes = '第一行\n第二行\twith a tab\r\nand a Windows line break 👍🏽';
    expect([200, 202]).toContain((await post(`/applications/${app.id}/phone-verification`, { ...PASSED, notes }, 'verifier')).status);
    await waitForTask(h, app.id, 'approval');
    await refused(400, '#/comment', () => post(`/applications/${app.id}/decision`, { decision: 'approve', comment: 'looks fine\udc00' }, 'approver'), wf);
    const trail = await h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, app.id));
    // The API's audit of the act (the workflow records the same kind as it applies it) keeps the notes.
    expect((trail.find((e) => e.kind === 'phone_verification_completed' && e.eventKey.startsWith('api:'))?.data as { notes?: string }).notes).toBe(notes);
    expect(trail.filter((e) => e.kind === 'act_refused' || e.kind === 'withdrawal' || e.kind === 'approval_decision')).toEqual([]);
  });
});

describe('finding 4: other inputs that answered 500', () => {
  it('an impossible first registration date is 400 naming it', async () => {
    const body = applicationBody({ condition: 'used' });
    (body.vehicle as Record<string, unknown>).firstRegistrationDate = '2026-02-30';
    const res = await refused(400, '#/vehicle/firstRegistrationDate', () => post('/applications', body, 'officer', 'frd-1'));
    expect(res.body.errors.find((e: { pointer: string }) => e.pointer === '#/vehicle/firstRegistrationDate').message).toBe('is not a real calendar date');
  });

  it('a lone surrogate in the vehicle make is 400 naming it', async () => {
    const body = applicationBody();
    body.vehicle.make = '\udfffBYD';
    await refused(400, '#/vehicle/make', () => post('/applications', body), { code: 'lone_surrogate' });
  });

  it('a cursor with an impossible time, or an id PostgreSQL cannot hold, is 400 naming the cursor', async () => {
    const token = await auth('officer');
    for (const forged of [{ c: '2026-13-45 25:61:61+00', i: 'x' }, { c: '2026-02-30 10:00:00+00', i: 'x' }, { c: '2026-11-22 10:00:00+00', i: 'a\u0000b' }]) {
      const cursor = Buffer.from(JSON.stringify(forged)).toString('base64url');
      await refused(400, '#/cursor', () => h.http.get(`/applications?cursor=${cursor}`).set('Authorization', token));
    }
    // A real cursor still pages.
    await createApp201();
    await createApp201();
    const first = await h.http.get('/applications?limit=1').set('Authorization', token);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    expect((await h.http.get(`/applications?limit=1&cursor=${first.body.nextCursor}`).set('Authorization', token)).status).toBe(200);
  });

  it('paths and queries that are not percent-encoded UTF-8 are 400 naming the parameter', async () => {
    const token = await auth('officer');
    await refused(400, '#/id', () => h.http.get('/applications/%E0%A4%A').set('Authorization', token), { code: 'invalid_encoding' });
    await refused(400, '#/id', () => h.http.get('/applications/%C0%AE%C0%AE%2F').set('Authorization', token));
    await refused(400, '#/id', () => h.http.post('/applications/%ED%A0%80/withdraw').set('Authorization', token).send({}));
    await refused(400, '#', () => h.http.get('/%C0%AE%C0%AE%2F').set('Authorization', token));
    await refused(400, '#/stage', () => h.http.get('/applications?stage=%E0%A4%A').set('Authorization', token), { code: 'invalid_encoding' });
    await refused(400, '#/id', () => h.http.get('/applications/a%1Bb').set('Authorization', token), { code: 'control_character' });
    expect((await h.http.get('/healthz')).status).toBe(200);
  });

  it('a compressed body is 415 naming Content-Encoding, whether or not it really is compressed', async () => {
    const body = JSON.stringify(applicationBody());
    for (const [encoding, bytes] of [
      ['gzip', Buffer.from(body)],
      ['br', Buffer.from(body)],
      ['gzip', gzipSync(body)],
      ['deflate, gzip', Buffer.from(body)],
    ] as const) {
      const res = await refused(415, '#/content-encoding', () => postBytes('/applications', { 'content-type': 'application/json', 'content-encoding': encoding }, bytes));
      expect(res.headers['accept-encoding']).toBe('identity');
      expect(res.body.detail).toMatch(/Content-Encoding/);
    }
    // An act too, and `identity` is no compression at all.
    await refused(415, '#/content-encoding', () => postBytes('/applications/x/withdraw', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, Buffer.from('{}')));
    const plain = await postBytes('/applications', { 'content-type': 'application/json', 'content-encoding': 'identity' }, Buffer.from(body));
    expect(plain.status).toBe(201);
  });

  it('a body that is not valid UTF-8 is 400, not stored as U+FFFD', async () => {
    const body = Buffer.from(JSON.stringify(applicationBody({ name: 'NAMEPLACEHOLDER' })));
    const at = body.indexOf('NAMEPLACEHOLDER');
    const broken = Buffer.concat([body.subarray(0, at), Buffer.from([0xe5, 0xbc]), body.subarray(at + 'NAMEPLACEHOLDER'.length)]);
    const before = await counts();
    const res = await postBytes('/applications', { 'content-type': 'application/json' }, broken);
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/UTF-8/);
    expect(await counts()).toEqual(before);
  });
});

describe('finding 7: input that should be refused is not stored', () => {
  it.each([
    ['white space only', '   '],
    ['ideographic spaces only', '\u3000\u3000'],
    ['zero-width characters only', '\u200b\u200c\u200d'],
    ['a zero-width space inside', '张\u200b三'],
    ['ESC', '张三\u001b[0m'],
    ['BEL', '张\u0007三'],
    ['a lone surrogate', '\udfff张三'],
    ['no letter at all', '12345'],
  ])('an applicant name of %s is 400 naming it', async (_what, name) => {
    await refused(400, '#/applicant/name', () => post('/applications', applicationBody({ name })));
  });

  it('a name with stray spaces around it is stored trimmed', async () => {
    const { id } = await createApp201(applicationBody({ name: '  王小明 ' }));
    const [row] = await h.db.db.select().from(applications).where(eq(applications.id, id));
    const [applicant] = await h.db.db.select().from(applicants).where(eq(applicants.id, row!.applicantId));
    expect(h.cipher.decrypt(applicant!.nameEnc)).toBe('王小明');
  });

  const BAD_URIS = [
    'file:///etc/passwd',
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'https://169.254.169.254/latest/meta-data/',
    'https://intranet.bank.internal/hr.pdf',
    'https://user:pw@docs.example/x.pdf',
    'gopher://127.0.0.1:6379/_FLUSHALL',
    'S3://bucket/x.jpg',
  ];

  it.each(BAD_URIS)('a document URI %s is 400 naming it, on a new application and on more documents', async (uri) => {
    const body = applicationBody();
    body.documents![1]!.uri = uri;
    await refused(400, '#/documents/1/uri', () => post('/applications', body));
    await refused(400, '#/documents/0/uri', () => post('/applications/x/documents', { documents: [{ ...body.documents![0]!, uri }] }));
  });

  it('more documents with a disallowed URI reach neither the table nor the workflow', async () => {
    const app = await createApp201();
    await waitForTask(h, app.id, 'phone_verification');
    const docs = applicationBody().documents!.slice(0, 1).map((d) => ({ ...d, uri: 'https://169.254.169.254/latest/meta-data/' }));
    await refused(400, '#/documents/0/uri', () => post(`/applications/${app.id}/documents`, { documents: docs }), { workflowId: app.workflowId, code: 'host_not_allowed' });
  });

  it('an https host is accepted once the configuration allows it, and only that host', async () => {
    const allowing = createApp({
      db: h.db,
      temporal: h.env.client,
      taskQueue: h.config.TEMPORAL_TASK_QUEUE,
      config: { ...h.config, DOCUMENT_URI_HOSTS: ['s3://*', 'https://docs.bank.test'] },
      cipher: h.cipher,
      log: createLogger('silent'),
    });
    const body = applicationBody();
    body.documents![0]!.uri = 'https://docs.bank.test/scans/id-card.jpg';
    const res = await request(allowing).post('/applications').set('Authorization', await auth('officer')).send(body);
    expect(res.status).toBe(201);
    body.documents![0]!.uri = 'https://169.254.169.254/latest/meta-data/';
    const before = await counts();
    const bad = await request(allowing).post('/applications').set('Authorization', await auth('officer')).send(body);
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ pointer: '#/documents/0/uri', code: 'host_not_allowed' })]);
    expect(await counts()).toEqual(before);
  });

  it('a repayment paid in 2099, or before the loan was paid out, is 400 naming paidAt; one paid now is applied', async () => {
    const app = await toApproval();
    expect((await post(`/applications/${app.id}/decision`, { decision: 'approve' }, 'approver')).status).toBe(200);
    await waitForTask(h, app.id, 'sign_contract');
    expect([200, 202]).toContain((await post(`/applications/${app.id}/signature`, {})).status);
    const serviced = await waitForState(h, app.id, (s) => s.stage === 'servicing' && Boolean(s.loanId), { timeoutMs: 180_000 });
    const loanId = serviced.loanId as string;
    const servicing = { workflowId: loanServicingWorkflowId(loanId) };
    // The application shows servicing as it starts the servicing run: wait for that run to exist.
    await eventually(() => h.env.client.workflow.getHandle(servicing.workflowId).describe(), 120_000);
    const pay = (paidAt: string, reference: string, key?: string) => post(`/loans/${loanId}/repayments`, { amountFen: 10_000, paidAt, reference }, 'finance', key);

    await refused(400, '#/paidAt', () => pay('2099-01-01T00:00:00+08:00', 'bank-future', 'pay-future'), { ...servicing, code: 'in_future' });
    await refused(400, '#/paidAt', () => pay(new Date(Date.now() + 10 * 60_000).toISOString(), 'bank-soon'), servicing);
    const early = await refused(400, '#/paidAt', () => pay('1970-01-01T00:00:00Z', 'bank-1970', 'pay-1970'), { ...servicing, code: 'before_disbursement' });
    expect(early.body.errors[0].message).toMatch(/before the loan was paid out/);
    await refused(400, '#/paidAt', () => pay('2026-02-30T10:00:00+08:00', 'bank-feb30'), servicing);

    const ok = await pay(new Date().toISOString(), 'bank-now');
    expect(ok.status).toBe(200);
    expect(ok.body.outcome).toBe('applied');
    const booked = await h.db.db.select().from(loanTransactions).where(eq(loanTransactions.loanId, loanId));
    expect(booked.map((r) => [r.kind, r.reference])).toEqual([['repayment', 'bank-now']]);
  });
});

describe('finding 8: a refusal is not the answer to its Idempotency-Key', () => {
  it('a 409 "not waiting" is not replayed once the workflow waits: the retry with the same key is judged afresh', async () => {
    const app = await createApp201();
    await waitForTask(h, app.id, 'phone_verification');
    const scope = `POST /applications/${app.id}/decision approver-i15`;
    const decide = () => post(`/applications/${app.id}/decision`, { decision: 'approve' }, 'approver', 'decide-early');

    const early = await decide();
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ code: 'NOT_WAITING', stage: 'phone_verification' });
    // Not kept under the key: a refusal depends on the state it met.
    expect(await h.db.db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, 'decide-early')))).toEqual([]);
    const again = await decide();
    expect(again.status).toBe(409);
    expect(again.headers['idempotent-replayed']).toBeUndefined();

    expect([200, 202]).toContain((await post(`/applications/${app.id}/phone-verification`, PASSED, 'verifier')).status);
    await waitForTask(h, app.id, 'approval');
    const now = await decide();
    expect(now.status).toBe(200);
    expect(now.headers['idempotent-replayed']).toBeUndefined();
    expect(now.body.decisions).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'approver-i15', decision: 'approve' })]));

    // A success is the answer to the key: replayed, and the act is not applied twice.
    const replay = await decide();
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(now.body);
    const [stored] = await h.db.db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, 'decide-early')));
    expect(stored).toMatchObject({ status: 'completed', responseStatus: 200 });
    const trail = await h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, app.id));
    expect(trail.filter((e) => e.kind === 'approval_decision' && e.eventKey.startsWith('api:'))).toHaveLength(1);
    // The two refusals were one refusal of one act: one audit row.
    expect(trail.filter((e) => e.kind === 'act_refused')).toEqual([expect.objectContaining({ actor: 'approver-i15', data: expect.objectContaining({ act: 'approval_decision', code: 'NOT_WAITING' }) })]);
  });

  it('a 400 never claims the key, and a 404 is not kept either', async () => {
    const before = await counts();
    const bad = await post('/applications/no-such-app/withdraw', { reason: 'x\u0000' }, 'officer', 'never-kept');
    expect(bad.status).toBe(400);
    const missing = await post('/applications/no-such-app/withdraw', { reason: 'x' }, 'officer', 'never-kept');
    expect(missing.status).toBe(404);
    expect(await counts()).toEqual(before);
  });
});
