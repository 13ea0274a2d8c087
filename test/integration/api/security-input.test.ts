import { eq, sql } from 'drizzle-orm';
import { applicants, applications, documents, idempotencyKeys, loanEvents, vehicles } from '../../../src/db/schema';
import type { StaffRole } from '../../../src/workflows/messages';
import { applicationBody, startApiHarness, waitForTask, type ApiHarness } from './harness';

// Hostile input (issue 8): what an attacker or a broken client sends. Every refusal is a clear 4xx
// problem and writes nothing (the tables are counted before and after); strings that look like SQL
// or script are stored exactly as sent and come back exactly as sent, as JSON data, never as markup
// or a query. The real app, database, Temporal dev server and worker.

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(() => h?.stop());

const PROBLEM = /^application\/problem\+json/;
const auth = async (role: StaffRole, sub = `${role}-hostile`) => `Bearer ${await h.token(sub, role)}`;

async function counts() {
  const n = async (table: typeof applications | typeof applicants | typeof vehicles | typeof documents | typeof idempotencyKeys | typeof loanEvents) =>
    (await h.db.db.select({ n: sql<number>`count(*)::int` }).from(table))[0]?.n ?? -1;
  return {
    applications: await n(applications),
    applicants: await n(applicants),
    vehicles: await n(vehicles),
    documents: await n(documents),
    idempotencyKeys: await n(idempotencyKeys),
    loanEvents: await n(loanEvents),
  };
}

/** Sends `send()`, expects a 4xx problem with `status`, and that no table changed. */
async function refusedWithNothingWritten(status: number, send: () => Promise<{ status: number; headers: Record<string, string>; body: any }>) {
  const before = await counts();
  const res = await send();
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(PROBLEM);
  expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+|node_modules|SELECT|INSERT/i);
  expect(await counts()).toEqual(before);
  return res;
}

const post = async (path: string, body: unknown, opts: { role?: StaffRole; contentType?: string; raw?: boolean; key?: string } = {}) => {
  const req = h.http.post(path).set('Authorization', await auth(opts.role ?? 'officer'));
  if (opts.key) req.set('Idempotency-Key', opts.key);
  if (opts.contentType) req.set('content-type', opts.contentType);
  return req.send(opts.raw ? (body as string) : (body as object));
};

describe('oversized and deeply nested bodies', () => {
  it('a body over the 64 kB limit is 413, even with a valid Idempotency-Key', async () => {
    const body = { ...applicationBody(), padding: 'x'.repeat(100 * 1024) };
    await refusedWithNothingWritten(413, () => post('/applications', body, { key: 'big-1' }));
  });

  it('a 10 MB body is cut off with 413 without being read whole', async () => {
    await refusedWithNothingWritten(413, () => post('/applications', `{"a":"${'y'.repeat(10 * 1024 * 1024)}"}`, { contentType: 'application/json', raw: true }));
  });

  it('JSON nested 10,000 deep is 400, and the server keeps answering', async () => {
    const depth = 10_000;
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const res = await refusedWithNothingWritten(400, () => post('/applications', nested, { contentType: 'application/json', raw: true }));
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('#/a');
    const arrays = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    await refusedWithNothingWritten(400, () => post('/applications', arrays, { contentType: 'application/json', raw: true }));
    // Nesting inside a field the schema knows: the field is named, nothing else is walked.
    const body = applicationBody() as Record<string, any>;
    body.applicant.name = JSON.parse(`${'{"x":'.repeat(2000)}1${'}'.repeat(2000)}`);
    const deep = await refusedWithNothingWritten(400, () => post('/applications', body));
    expect(deep.body.errors).toEqual([expect.objectContaining({ pointer: '#/applicant/name' })]);
    expect((await h.http.get('/healthz')).status).toBe(200);
  });
});

describe('wrong content types', () => {
  it.each([
    ['text/plain', 'channel=branch'],
    ['application/x-www-form-urlencoded', 'channel=branch&branchId=BJ-001'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="channel"\r\n\r\nbranch\r\n--x--'],
    ['application/xml', '<application><channel>branch</channel></application>'],
    ['text/html', '<script>alert(1)</script>'],
  ])('%s is 415', async (contentType, raw) => {
    await refusedWithNothingWritten(415, () => post('/applications', raw, { contentType, raw: true }));
  });

  it('JSON in a charset other than UTF is 415; JSON that does not parse is 400', async () => {
    await refusedWithNothingWritten(415, () => post('/applications', JSON.stringify(applicationBody()), { contentType: 'application/json; charset=koi8-r', raw: true }));
    await refusedWithNothingWritten(400, () => post('/applications', JSON.stringify(applicationBody()), { contentType: 'application/json; charset=utf-16', raw: true }));
    await refusedWithNothingWritten(400, () => post('/applications', "{'channel': 'branch'}", { contentType: 'application/json', raw: true }));
    await refusedWithNothingWritten(400, () => post('/applications', '', { contentType: 'application/json', raw: true }));
  });

  it('a JSON body on an act is also refused when it is sent as text', async () => {
    await refusedWithNothingWritten(415, () => post('/applications/x/withdraw', '{"reason":"x"}', { contentType: 'text/plain', raw: true }));
  });
});

describe('numbers', () => {
  const withLoan = (loan: Record<string, unknown>) => ({ ...applicationBody(), loan: { ...applicationBody().loan, ...loan } });
  it.each([
    ['a negative amount', withLoan({ amountFen: -15_000_000 }), '#/loan/amountFen'],
    ['a zero amount', withLoan({ amountFen: 0 }), '#/loan/amountFen'],
    ['a fractional amount of fen', withLoan({ amountFen: 100.5 }), '#/loan/amountFen'],
    ['an amount beyond 2^53', withLoan({ amountFen: 9007199254740993 }), '#/loan/amountFen'],
    ['an amount of 1e20', withLoan({ amountFen: 1e20 }), '#/loan/amountFen'],
    ['an amount as a string', withLoan({ amountFen: '15000000' }), '#/loan/amountFen'],
    ['a negative income', { ...applicationBody(), applicant: { ...applicationBody().applicant, monthlyIncomeFen: -1 } }, '#/applicant/monthlyIncomeFen'],
    ['a negative mileage', { ...applicationBody(), vehicle: { ...applicationBody().vehicle, mileageKm: -5 } }, '#/vehicle/mileageKm'],
    ['a year in the far future', { ...applicationBody(), vehicle: { ...applicationBody().vehicle, year: 99999 } }, '#/vehicle/year'],
  ])('%s is 400 naming the field', async (_what, body, pointer) => {
    const res = await refusedWithNothingWritten(400, () => post('/applications', body));
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
  });

  it('a number too large for a double (1e400) is 400, not Infinity stored', async () => {
    const raw = JSON.stringify(applicationBody()).replace('"amountFen":15000000', '"amountFen":1e400');
    const res = await refusedWithNothingWritten(400, () => post('/applications', raw, { contentType: 'application/json', raw: true }));
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('#/loan/amountFen');
  });

  it('negative, huge and fractional repayments and offer changes are 400', async () => {
    const pay = (amountFen: unknown) => post('/loans/no-such-loan/repayments', { amountFen, paidAt: '2026-11-22T10:00:00+08:00', reference: 'bank-1' }, { role: 'finance' });
    for (const amountFen of [-100, 0, 1.5, 1e20, '100']) await refusedWithNothingWritten(400, () => pay(amountFen));
    for (const patch of [{ amountFen: -1 }, { annualRateBps: -650 }, { annualRateBps: 1e9 }, { termMonths: 1e6 }]) {
      await refusedWithNothingWritten(400, () => post('/applications/x/decision', { decision: 'approve', ...patch }, { role: 'approver' }));
    }
  });
});

describe('unknown fields and prototype keys', () => {
  it.each([
    ['a top-level field', { ...applicationBody(), approved: true }, '#/approved'],
    ['a nested field', { ...applicationBody(), applicant: { ...applicationBody().applicant, roles: ['admin'] } }, '#/applicant/roles'],
    ['a status the client may not set', { ...applicationBody(), stage: 'disbursement' }, '#/stage'],
  ])('%s is 400 naming it', async (_what, body, pointer) => {
    const res = await refusedWithNothingWritten(400, () => post('/applications', body));
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
  });

  it('__proto__ and constructor keys are refused and pollute nothing', async () => {
    const raw = JSON.stringify(applicationBody()).replace(/^\{/, '{"__proto__":{"polluted":true,"roles":["admin"]},"constructor":{"prototype":{"polluted":true}},');
    const res = await refusedWithNothingWritten(400, () => post('/applications', raw, { contentType: 'application/json', raw: true }));
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(expect.arrayContaining(['#/__proto__', '#/constructor']));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A refused act's free text is not kept either.
    await refusedWithNothingWritten(400, () => post('/applications/x/withdraw', { reason: 'x', isAdmin: true }));
  });
});

describe('the NUL character (PostgreSQL cannot store it)', () => {
  it('in a body, a path or a query it is 400 naming the field, not a 500', async () => {
    const body = applicationBody();
    body.vehicle.make = 'BYD\u0000';
    const res = await refusedWithNothingWritten(400, () => post('/applications', body));
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '#/vehicle/make', code: 'nul_character' })]);
    const act = await refusedWithNothingWritten(400, () =>
      post('/applications/x/collateral-registration', { registrationRef: '\u0000\u00e3', registeredAt: '2026-11-22T10:00:00+08:00' }),
    );
    expect(act.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('#/registrationRef');
    const token = await auth('officer');
    expect((await h.http.get('/applications/a%00b').set('Authorization', token)).status).toBe(400);
    expect((await h.http.get('/applications?cursor=a%00b').set('Authorization', token)).status).toBe(400);
  });
});

describe('strings that look like SQL or script', () => {
  const SQL = "Robert'); DROP TABLE applications;--";
  const SCRIPT = '<script>alert(document.cookie)</script>';
  const BOTH = `' OR '1'='1'; DELETE FROM loan_events; -- <img src=x onerror=alert(1)>`;

  it('in fields that only take codes they are 400 and nothing is written', async () => {
    for (const branchId of [SQL, SCRIPT, "BJ-001' OR '1'='1"]) {
      const res = await refusedWithNothingWritten(400, () => post('/applications', { ...applicationBody(), branchId }));
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['#/branchId']);
    }
    const token = await auth('officer');
    for (const q of [`stage=${encodeURIComponent("intake' OR 1=1--")}`, `cursor=${encodeURIComponent(SQL)}`, `limit=${encodeURIComponent('1; DROP TABLE applications')}`]) {
      const res = await h.http.get(`/applications?${q}`).set('Authorization', token);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    }
    // In a path: an unknown id, not an error.
    for (const id of ["1' OR '1'='1", '1;DROP TABLE applications', '<script>x</script>']) {
      const res = await h.http.get(`/applications/${encodeURIComponent(id)}`).set('Authorization', token);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.text).not.toContain('<script>');
    }
  });

  it('in free text they are stored and returned verbatim, as JSON data, and every table is still there', async () => {
    const body = applicationBody({ name: SQL.slice(0, 64) });
    body.vehicle.make = SCRIPT;
    body.vehicle.model = BOTH.slice(0, 64);
    const created = await post('/applications', body);
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // The verifier sees the full name: exactly what was typed, as a JSON string.
    const asVerifier = await h.http.get(`/applications/${id}`).set('Authorization', await auth('verifier'));
    expect(asVerifier.status).toBe(200);
    expect(asVerifier.headers['content-type']).toMatch(/^application\/json/);
    expect(asVerifier.headers['x-content-type-options']).toBe('nosniff');
    expect(asVerifier.body.applicant.name).toBe(SQL.slice(0, 64));
    expect(asVerifier.body.vehicle).toMatchObject({ make: SCRIPT, model: BOTH.slice(0, 64) });
    // Harmless as data: JSON that a browser will not sniff into HTML, under a no-script policy.
    expect(asVerifier.headers['content-security-policy']).toContain("default-src 'self'");
    const [row] = await h.db.db.select().from(applications).where(eq(applications.id, id));
    const [applicant] = await h.db.db.select().from(applicants).where(eq(applicants.id, row!.applicantId));
    expect(h.cipher.decrypt(applicant!.nameEnc)).toBe(SQL.slice(0, 64));
    const [vehicle] = await h.db.db.select().from(vehicles).where(eq(vehicles.applicationId, id));
    expect(vehicle).toMatchObject({ make: SCRIPT, model: BOTH.slice(0, 64) });

    // Notes and comments go to the audit trail exactly as typed.
    await waitForTask(h, id, 'phone_verification');
    const notes = `${SQL} ${SCRIPT} ${BOTH}`;
    const verified = await post(
      `/applications/${id}/phone-verification`,
      { outcome: 'passed', recordingRef: SCRIPT, checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true }, notes },
      { role: 'verifier' },
    );
    expect([200, 202]).toContain(verified.status);
    await waitForTask(h, id, 'approval');
    const decided = await post(`/applications/${id}/decision`, { decision: 'reject', reasonCode: 'OTHER', comment: BOTH }, { role: 'approver' });
    expect([200, 202]).toContain(decided.status);
    const trail = await h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, id));
    // The API's audit rows (the workflow records the same kinds as it applies the acts).
    const audited = trail.filter((e) => e.eventKey.startsWith('api:'));
    const phone = audited.find((e) => e.kind === 'phone_verification_completed');
    expect((phone?.data as { notes?: string }).notes).toBe(notes);
    expect((phone?.data as { recordingRef?: string }).recordingRef).toBe(SCRIPT);
    expect((audited.find((e) => e.kind === 'approval_decision')?.data as { comment?: string }).comment).toBe(BOTH);

    // Nothing was executed: every table answers and still holds its rows.
    const c = await counts();
    expect(c.applications).toBeGreaterThan(0);
    expect(c.loanEvents).toBeGreaterThan(0);
  });
});
