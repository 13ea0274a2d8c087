import { createLoanActivities } from '../../../src/activities/loans';
import { shanghaiDate } from '../../../src/domain';
import { signEsignPayload } from '../../../src/sandbox/esign-signature';
import type { StaffRole } from '../../../src/workflows/messages';
import { sandboxProviders, seedLoan, testCipher } from '../../helpers/servicing';
import { applicationBody, startApiHarness, waitForTask, type ApiHarness } from './harness';

// The authorisation matrix of SPEC section 4, every endpoint against every role and no token, on
// REAL ids and VALID bodies: a role the table allows gets past the role check to the handler (an
// answer other than 401/403, and never a 5xx), a role it does not allow gets 403, no token 401.
// auth-and-validation.test.ts checks the role check itself on made-up ids; this one also proves
// the table is complete: every operation the OpenAPI document lists (and the codec endpoint) has
// a row here, with the roles the document declares.

let h: ApiHarness;
let appId: string;
let loanId: string;
beforeAll(async () => {
  h = await startApiHarness();
  const created = await h.http.post('/applications').set('Authorization', `Bearer ${await h.token('officer-matrix', 'officer')}`).send(applicationBody());
  expect(created.status).toBe(201);
  appId = created.body.id;
  // Waiting for the call: the acts of other stages are refused by the workflow (409), not by the API.
  await waitForTask(h, appId, 'phone_verification');
  const providers = sandboxProviders(h.sandbox);
  ({ loanId } = await seedLoan(h.db.db, testCipher(), providers, { applicationId: 'matrix-loan-app', phone: '13900000001', disbursedAtMs: Date.now() }));
  // A repayment on the books (through the ledger's own activity), for the reversal rows to act on.
  await createLoanActivities({ db: h.db.db, cipher: testCipher(), callCentre: providers.callCentre }).bookServicingTransaction({
    loanId,
    asOfDate: shanghaiDate(Date.now()),
    request: { kind: 'repayment', reference: 'matrix-ref', amountFen: 100, paidAt: new Date().toISOString(), actor: 'finance-matrix' },
  });
});
afterAll(() => h?.stop());

const ROLES: StaffRole[] = ['officer', 'verifier', 'approver', 'supervisor', 'finance', 'collections', 'admin'];
type Who = StaffRole | 'none';
const EVERYONE: Who[] = ['none', ...ROLES];

interface Row {
  method: 'get' | 'post';
  /** OpenAPI path. */
  path: string;
  /** SPEC section 4: the roles that may call it; 'any' is any staff role, 'public' no token at all. */
  roles: StaffRole[] | 'any' | 'public';
  /** Narrower than the document's roles: the handler decides by the application (a claim needs the task's role). */
  allowed?: StaffRole[];
  url: () => string;
  body?: () => unknown;
}

const passed = { outcome: 'passed', recordingRef: 'rec-m', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

/** SPEC section 4, as a table (plus the codec endpoint of issue 8: engineers, i.e. admin). */
const SPEC_TABLE: Row[] = [
  { method: 'post', path: '/applications', roles: ['officer'], url: () => '/applications', body: () => applicationBody() },
  { method: 'get', path: '/applications/{id}', roles: 'any', url: () => `/applications/${appId}` },
  { method: 'get', path: '/applications', roles: 'any', url: () => '/applications?stage=phone_verification&limit=5' },
  { method: 'get', path: '/applications/{id}/events', roles: 'any', url: () => `/applications/${appId}/events` },
  { method: 'get', path: '/escalations', roles: ['supervisor', 'admin'], url: () => '/escalations' },
  // Before the phone verification below: the application waits for a verifier, so only verifiers claim it.
  { method: 'post', path: '/applications/{id}/claim', roles: 'any', allowed: ['verifier'], url: () => `/applications/${appId}/claim` },
  { method: 'post', path: '/applications/{id}/release', roles: 'any', url: () => `/applications/${appId}/release` },
  { method: 'post', path: '/applications/{id}/documents', roles: ['officer'], url: () => `/applications/${appId}/documents`, body: () => ({ documents: applicationBody().documents!.slice(0, 1) }) },
  // Last of the acts on this application in the matrix order below: the first allowed call is accepted.
  { method: 'post', path: '/applications/{id}/phone-verification', roles: ['verifier'], url: () => `/applications/${appId}/phone-verification`, body: () => passed },
  { method: 'post', path: '/applications/{id}/decision', roles: ['approver'], url: () => `/applications/${appId}/decision`, body: () => ({ decision: 'request_info', reasonCode: 'OTHER' }) },
  { method: 'post', path: '/applications/{id}/signature', roles: ['officer'], url: () => `/applications/${appId}/signature`, body: () => ({}) },
  {
    method: 'post',
    path: '/applications/{id}/collateral-registration',
    roles: ['officer'],
    url: () => `/applications/${appId}/collateral-registration`,
    body: () => ({ registrationRef: 'DJ-1', registeredAt: '2026-11-22T10:00:00+08:00' }),
  },
  { method: 'get', path: '/loans/{id}/schedule', roles: 'any', url: () => `/loans/${loanId}/schedule` },
  { method: 'post', path: '/loans/{id}/repayments', roles: ['finance'], url: () => `/loans/${loanId}/repayments`, body: () => ({ amountFen: 100, paidAt: new Date().toISOString(), reference: `m-${Date.now()}` }) },
  // The servicing operations of issue 18 (this loan has no servicing workflow: an act is 409 after the hand-over wait).
  { method: 'get', path: '/loans', roles: ['finance', 'collections'], url: () => '/loans?status=active&limit=5' },
  { method: 'get', path: '/loans/{id}/statement', roles: ['finance', 'collections'], url: () => `/loans/${loanId}/statement` },
  { method: 'get', path: '/loans/{id}/payoff-quote', roles: ['finance', 'collections'], url: () => `/loans/${loanId}/payoff-quote` },
  { method: 'post', path: '/loans/{id}/prepayments', roles: ['finance'], url: () => `/loans/${loanId}/prepayments`, body: () => ({ amountFen: 100, mode: 'reduce_term', reference: `p-${Date.now()}` }) },
  { method: 'post', path: '/loans/{id}/repayments/{reference}/reversal', roles: ['finance'], url: () => `/loans/${loanId}/repayments/matrix-ref/reversal`, body: () => ({ reasonCode: 'BOOKED_IN_ERROR' }) },
  { method: 'post', path: '/loans/{id}/repayments/{reference}/reversal/approve', roles: ['finance'], url: () => `/loans/${loanId}/repayments/matrix-ref/reversal/approve`, body: () => ({}) },
  { method: 'post', path: '/loans/{id}/waivers', roles: ['finance'], url: () => `/loans/${loanId}/waivers`, body: () => ({ component: 'penalty', amountFen: 100, reasonCode: 'GOODWILL' }) },
  { method: 'post', path: '/loans/{id}/waivers/{requestId}/approve', roles: ['finance'], url: () => `/loans/${loanId}/waivers/wv-matrix/approve`, body: () => ({}) },
  { method: 'post', path: '/loans/{id}/refunds', roles: ['finance'], url: () => `/loans/${loanId}/refunds`, body: () => ({ amountFen: 100, reasonCode: 'OVERPAYMENT' }) },
  { method: 'post', path: '/loans/{id}/refunds/{requestId}/approve', roles: ['finance'], url: () => `/loans/${loanId}/refunds/rf-matrix/approve`, body: () => ({}) },
  { method: 'post', path: '/applications/{id}/withdraw', roles: ['officer'], url: () => `/applications/${appId}/withdraw`, body: () => ({ reasonCode: 'CUSTOMER_CHANGED_MIND' }) },
  {
    method: 'post',
    path: '/applications/{id}/emergency-acts',
    roles: ['admin'],
    url: () => `/applications/${appId}/emergency-acts`,
    body: () => ({ act: 'approvalDecision', reasonCode: 'API_OUTAGE', reason: 'authorisation matrix probe', payload: { decision: 'request_info', reasonCode: 'OTHER' } }),
  },
  { method: 'get', path: '/healthz', roles: 'public', url: () => '/healthz' },
  { method: 'get', path: '/readyz', roles: 'public', url: () => '/readyz' },
  { method: 'get', path: '/metrics', roles: 'public', url: () => '/metrics' },
  { method: 'get', path: '/openapi.json', roles: 'public', url: () => '/openapi.json' },
  { method: 'get', path: '/docs', roles: 'public', url: () => '/docs' },
  { method: 'post', path: '/codec/decode', roles: ['admin'], url: () => '/codec/decode', body: () => ({ payloads: [] }) },
  { method: 'post', path: '/codec/encode', roles: ['admin'], url: () => '/codec/encode', body: () => ({ payloads: [] }) },
  { method: 'post', path: '/codec/session', roles: ['admin'], url: () => '/codec/session' },
];
/** Authenticated by the provider's HMAC, never by a staff token: tested on its own below. */
const WEBHOOK = { method: 'post', path: '/webhooks/esign' } as const;

const allowedFor = (row: Row, who: Who) =>
  row.roles === 'public' || (who !== 'none' && (row.allowed ? row.allowed.includes(who) : row.roles === 'any' || row.roles.includes(who)));

async function call(row: Row, who: Who) {
  const req = h.http[row.method](row.url());
  if (who !== 'none') req.set('Authorization', `Bearer ${await h.token(`${who}-matrix`, who)}`);
  return row.body ? req.send(row.body() as object) : req;
}

it('the table covers every operation of the OpenAPI document, with the roles it declares', async () => {
  const doc = (await h.http.get('/openapi.json')).body as { paths: Record<string, Record<string, { 'x-roles'?: string[]; security?: unknown[] }>> };
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method, path, op })));
  for (const { method, path, op } of documented) {
    if (method === WEBHOOK.method && path === WEBHOOK.path) continue;
    const row = SPEC_TABLE.find((r) => r.method === method && r.path === path);
    expect(row ? `${method} ${path}` : `${method} ${path} has no row in the SPEC table`).toBe(`${method} ${path}`);
    if (row!.roles === 'public') expect(op.security ?? []).toEqual([]);
    else if (row!.roles === 'any') expect(op['x-roles']).toBeUndefined();
    else expect([...(op['x-roles'] ?? [])].sort()).toEqual([...row!.roles].sort());
  }
});

describe.each(SPEC_TABLE)('$method $path', (row) => {
  it.each(EVERYONE)('as %s', async (who) => {
    const res = await call(row, who);
    if (allowedFor(row, who)) {
      // Past the role check, with a real id and a valid body: the handler's own answer.
      expect([401, 403]).not.toContain(res.status);
      expect(res.status).toBeLessThan(500);
      if (row.path !== '/readyz') expect([400, 404]).not.toContain(res.status);
    } else if (who === 'none') {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    } else {
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('the e-signature webhook', () => {
  it.each(EVERYONE)('takes no staff token as authentication (as %s, unsigned: 401)', async (who) => {
    const req = h.http.post(WEBHOOK.path).set('content-type', 'application/json');
    if (who !== 'none') req.set('Authorization', `Bearer ${await h.token(`${who}-matrix`, who)}`);
    const res = await req.send(JSON.stringify({ eventId: 'evt_m', type: 'envelope.signed', occurredAt: new Date().toISOString(), data: {} }));
    expect(res.status).toBe(401);
  });

  it('is reached with the provider signature and no token', async () => {
    const raw = JSON.stringify({
      eventId: 'evt_matrix',
      type: 'envelope.signed',
      occurredAt: new Date().toISOString(),
      data: { envelopeId: 'env_m', applicationId: 'no-such-app', status: 'signed', signedAt: new Date().toISOString(), declinedAt: null },
    });
    const res = await h.http.post(WEBHOOK.path).set('content-type', 'application/json').set('X-Esign-Signature', signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, raw)).send(raw);
    expect(res.status).toBe(404);
  });
});

it('a token holding several roles gets the union, and nothing more', async () => {
  const token = `Bearer ${await h.token('multi-matrix', 'verifier', 'finance')}`;
  expect((await h.http.get(`/loans/${loanId}/schedule`).set('Authorization', token)).status).toBe(200);
  expect((await h.http.post('/applications').set('Authorization', token).send(applicationBody())).status).toBe(403);
  expect((await h.http.post('/codec/decode').set('Authorization', token).send({ payloads: [] })).status).toBe(403);
});
