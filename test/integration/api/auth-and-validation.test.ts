import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { createApp } from '../../../src/api/app';
import { createLogger } from '../../../src/logger';
import { signEsignPayload } from '../../../src/sandbox/esign-signature';
import type { StaffRole } from '../../../src/workflows/messages';
import { capturedLogger } from '../../helpers/log-capture';
import { applicationBody, startApiHarness, type ApiHarness } from './harness';

// What the API refuses before any workflow is involved: who may call (401/403), what a request
// must look like (400/413/415), what does not exist (404), and the headers every answer carries.
// The real app, database and Temporal server; no worker is needed for any of it.

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ noWorker: true });
});
afterAll(() => h?.stop());

const PROBLEM = /^application\/problem\+json/;
const ROLES: StaffRole[] = ['officer', 'verifier', 'approver', 'supervisor', 'finance', 'collections', 'admin'];

/** Every staff operation with the role(s) SPEC section 4 gives it (undefined: any staff). */
const STAFF_OPERATIONS: { method: 'get' | 'post'; path: string; roles?: StaffRole[] }[] = [
  { method: 'post', path: '/applications', roles: ['officer'] },
  { method: 'get', path: '/applications/some-id' },
  { method: 'get', path: '/applications' },
  { method: 'post', path: '/applications/some-id/documents', roles: ['officer'] },
  { method: 'post', path: '/applications/some-id/phone-verification', roles: ['verifier'] },
  { method: 'post', path: '/applications/some-id/decision', roles: ['approver'] },
  { method: 'post', path: '/applications/some-id/signature', roles: ['officer'] },
  { method: 'post', path: '/applications/some-id/collateral-registration', roles: ['officer'] },
  { method: 'post', path: '/applications/some-id/withdraw', roles: ['officer'] },
  { method: 'post', path: '/applications/some-id/emergency-acts', roles: ['admin'] },
  { method: 'get', path: '/loans/some-loan/schedule' },
  { method: 'post', path: '/loans/some-loan/repayments', roles: ['finance'] },
  { method: 'get', path: '/loans', roles: ['finance', 'collections'] },
  { method: 'get', path: '/loans/some-loan/statement', roles: ['finance', 'collections'] },
  { method: 'get', path: '/loans/some-loan/payoff-quote', roles: ['finance', 'collections'] },
  { method: 'post', path: '/loans/some-loan/prepayments', roles: ['finance'] },
  { method: 'post', path: '/loans/some-loan/repayments/ref-1/reversal', roles: ['finance'] },
  { method: 'post', path: '/loans/some-loan/repayments/ref-1/reversal/approve', roles: ['finance'] },
  { method: 'post', path: '/loans/some-loan/waivers', roles: ['finance'] },
  { method: 'post', path: '/loans/some-loan/waivers/wv-1/approve', roles: ['finance'] },
  { method: 'post', path: '/loans/some-loan/refunds', roles: ['finance'] },
  { method: 'post', path: '/loans/some-loan/refunds/rf-1/approve', roles: ['finance'] },
];

function send(method: 'get' | 'post', path: string, token?: string) {
  const req = h.http[method](path);
  if (token) req.set('Authorization', `Bearer ${token}`);
  return method === 'post' ? req.send({}) : req;
}

describe('authentication (401)', () => {
  it.each(STAFF_OPERATIONS)('$method $path without a token is 401 with a Bearer challenge', async ({ method, path }) => {
    const res = await send(method, path);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="car-loans"/);
    expect(res.body).toMatchObject({ status: 401, type: expect.stringContaining('unauthenticated'), title: expect.any(String) });
  });

  const secret = () => new TextEncoder().encode(h.config.JWT_SECRET);
  const base = () => new SignJWT({ roles: ['officer'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('officer-1').setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).setIssuedAt();

  it.each([
    ['not a bearer header', async () => 'Token abc'],
    ['a token signed with another secret', async () => `Bearer ${await base().setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-another-secret-0123456789'))}`],
    ['an expired token', async () => `Bearer ${await base().setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(secret())}`],
    ['a token for another audience', async () => `Bearer ${await base().setAudience('someone-else').setExpirationTime('1h').sign(secret())}`],
    ['a token from another issuer', async () => `Bearer ${await base().setIssuer('evil').setExpirationTime('1h').sign(secret())}`],
    ['a token without sub', async () => `Bearer ${await new SignJWT({ roles: ['officer'] }).setProtectedHeader({ alg: 'HS256' }).setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).setExpirationTime('1h').sign(secret())}`],
    [
      'an unsigned (alg none) token',
      async () => {
        const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'officer-1', roles: ['officer'], iss: h.config.JWT_ISSUER, aud: h.config.JWT_AUDIENCE, exp: 9999999999 })}.`;
      },
    ],
  ])('refuses %s', async (_what, header) => {
    const res = await h.http.get('/applications').set('Authorization', await header());
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  // Issue 15, finding 6: a token's time is bounded (exp required, at most 12 hours, iat not ahead).
  const nowS = () => Math.floor(Date.now() / 1000);
  it.each([
    ['a token without exp', async () => base().sign(secret())],
    ['a token that expires in 2286', async () => base().setExpirationTime(9_999_999_999).sign(secret())],
    ['a token issued ten years ahead', async () => base().setIssuedAt(nowS() + 10 * 365 * 86_400).setExpirationTime(nowS() + 10 * 365 * 86_400 + 3600).sign(secret())],
    ['a token issued two minutes ahead', async () => base().setIssuedAt(nowS() + 120).setExpirationTime('1h').sign(secret())],
    ['a token that lives 13 hours', async () => base().setIssuedAt(nowS() - 60).setExpirationTime(nowS() - 60 + 13 * 3600).sign(secret())],
    [
      'a token without iat that ends in 13 hours',
      async () => new SignJWT({ roles: ['officer'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('officer-1').setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).setExpirationTime('13h').sign(secret()),
    ],
  ])('refuses %s (401)', async (_what, token) => {
    const res = await h.http.get('/applications').set('Authorization', `Bearer ${await token()}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('accepts the longest and the most forward tokens allowed: 12 hours, iat a minute ahead, no iat ending within 12 hours', async () => {
    for (const token of [
      await base().setIssuedAt(nowS()).setExpirationTime(nowS() + 12 * 3600).sign(secret()),
      await base().setIssuedAt(nowS() + 50).setExpirationTime('1h').sign(secret()),
      await new SignJWT({ roles: ['officer'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('officer-1').setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).setExpirationTime('11h').sign(secret()),
    ]) {
      expect((await h.http.get('/applications').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    }
  });

  it('refuses a token with no known role everything, reads included (403)', async () => {
    for (const roles of [[], ['auditor'], 'superuser']) {
      const token = await new SignJWT({ roles }).setProtectedHeader({ alg: 'HS256' }).setSubject('someone-1').setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).setIssuedAt().setExpirationTime('1h').sign(secret());
      for (const path of ['/applications', '/applications/some-id', '/loans/some-loan/schedule']) {
        const res = await h.http.get(path).set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(403);
        expect(res.headers['content-type']).toMatch(PROBLEM);
      }
    }
  });

  it('accepts a token minted like `npm run token` does', async () => {
    const res = await h.http.get('/applications').set('Authorization', `Bearer ${await h.token('officer-1', 'officer')}`);
    expect(res.status).toBe(200);
  });

  it('verifies tokens from a JWKS URL when one is configured (production mode)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwksServer = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    try {
      const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
      const app = createApp({
        db: h.db,
        temporal: h.env.client,
        taskQueue: h.config.TEMPORAL_TASK_QUEUE,
        config: { ...h.config, JWT_JWKS_URL: jwksUrl },
        cipher: h.cipher,
        log: createLogger('silent'),
      });
      const idpToken = await new SignJWT({ roles: ['approver'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setSubject('approver-9')
        .setIssuer(h.config.JWT_ISSUER)
        .setAudience(h.config.JWT_AUDIENCE)
        .setExpirationTime('5m')
        .sign(privateKey);
      expect((await request(app).get('/applications').set('Authorization', `Bearer ${idpToken}`)).status).toBe(200);
      // The development secret means nothing once the identity provider is in charge.
      const devToken = await h.token('officer-1', 'officer');
      expect((await request(app).get('/applications').set('Authorization', `Bearer ${devToken}`)).status).toBe(401);
    } finally {
      await new Promise<void>((r) => jwksServer.close(() => r()));
    }
  });
});

describe('authorisation (403): the role table of SPEC section 4', () => {
  const cases = STAFF_OPERATIONS.flatMap((op) => ROLES.map((role) => ({ ...op, role, allowed: !op.roles || op.roles.includes(role) })));

  it.each(cases)('$method $path as $role: allowed=$allowed', async ({ method, path, role, allowed }) => {
    const res = await send(method, path, await h.token(`${role}-1`, role));
    if (allowed) {
      // Past the role check: a bad body (400), an unknown id (404) or a page (200), never 401/403.
      expect([200, 400, 404]).toContain(res.status);
    } else {
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.requiredRoles).toEqual(expect.any(Array));
    }
  });

  it('a token with no known role may neither read nor act (issue 15, finding 6)', async () => {
    const token = await h.token('visitor-1');
    expect((await h.http.get('/applications').set('Authorization', `Bearer ${token}`)).status).toBe(403);
    expect((await h.http.post('/applications').set('Authorization', `Bearer ${token}`).send(applicationBody())).status).toBe(403);
  });
});

describe('malformed requests (400, 413, 415) name every bad field and echo no personal data', () => {
  let officer: string;
  beforeAll(async () => {
    officer = await h.token('officer-1', 'officer');
  });
  const post = (path: string, body: unknown) => h.http.post(path).set('Authorization', `Bearer ${officer}`).send(body as object);
  const pointers = (res: request.Response) => (res.body.errors as { pointer: string }[]).map((e) => e.pointer).sort();

  it('a body missing every field names each one', async () => {
    const res = await post('/applications', {});
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(pointers(res)).toEqual(['#/applicant', '#/branchId', '#/channel', '#/loan', '#/vehicle']);
  });

  it('wrong types, bad ID checksum, bad phone, unknown enums, a bad term, cross-field rules and unknown fields: all in one answer', async () => {
    const body = applicationBody({ condition: 'used', channel: 'dealer' }) as Record<string, any>;
    const idNumber = '110105194912310021'; // 11010519491231002X with a wrong check character
    const phone = '12800138000';
    delete body.dealerId;
    delete body.vehicle.firstRegistrationDate;
    body.applicant = { ...body.applicant, idNumber, phone, monthlyIncomeFen: '2000000', nickname: 'x' };
    body.vehicle = { ...body.vehicle, condition: 'used', energy: 'steam', year: 2021.5, vin: 'LFV2A21K2A30100IO' };
    body.loan = { amountFen: -5, termMonths: 18, repaymentMethod: 'balloon' };
    body.documents = [{ type: 'selfie', uri: 'not a uri', sha256: 'abc' }];
    const res = await post('/applications', body);
    expect(res.status).toBe(400);
    expect(pointers(res)).toEqual(
      [
        '#/applicant/idNumber',
        '#/applicant/monthlyIncomeFen',
        '#/applicant/nickname',
        '#/applicant/phone',
        '#/dealerId',
        '#/documents/0/sha256',
        '#/documents/0/type',
        '#/documents/0/uri',
        '#/loan/amountFen',
        '#/loan/repaymentMethod',
        '#/loan/termMonths',
        '#/vehicle/energy',
        '#/vehicle/firstRegistrationDate',
        '#/vehicle/vin',
        '#/vehicle/year',
      ].sort(),
    );
    const idError = (res.body.errors as { pointer: string; message: string }[]).find((e) => e.pointer === '#/applicant/idNumber');
    expect(idError?.message).toMatch(/check character/);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(idNumber);
    expect(text).not.toContain('1101051949');
    expect(text).not.toContain(phone);
    expect(text).not.toContain(body.applicant.name);
    expect(text).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('each resident ID failure has its own message', async () => {
    const cases: [string, RegExp][] = [
      ['11010519491231002', /17 digits/],
      ['99010519491231002X', /province/],
      ['110105194913310029', /birth date/],
      ['110105194912310021', /check character/],
    ];
    for (const [idNumber, message] of cases) {
      const body = applicationBody();
      body.applicant.idNumber = idNumber;
      const res = await post('/applications', body);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '#/applicant/idNumber', message: expect.stringMatching(message) })]);
    }
  });

  it('a VIN that fails only its check digit is accepted and flagged for manual review, not refused', async () => {
    const res = await post('/applications', applicationBody({ vin: 'LFV2A21K3A3010006' }));
    expect(res.status).toBe(201);
    expect(res.body.flags).toEqual(['VIN_CHECK_DIGIT_MISMATCH']);
  });

  it('malformed JSON, a JSON string and an array are 400 problems', async () => {
    const bad = await h.http.post('/applications').set('Authorization', `Bearer ${officer}`).set('content-type', 'application/json').send('{"channel": "branch",');
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(PROBLEM);
    expect(bad.body.type).toMatch(/malformed-json/);
    const str = await h.http.post('/applications').set('Authorization', `Bearer ${officer}`).set('content-type', 'application/json').send('"hello"');
    expect(str.status).toBe(400);
    const arr = await post('/applications', [1, 2]);
    expect(arr.status).toBe(400);
    expect(arr.body.errors[0].pointer).toBe('#');
  });

  it('a body over 64 kB is 413', async () => {
    const body = { ...applicationBody(), padding: 'x'.repeat(70 * 1024) };
    const res = await post('/applications', body);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('a body that is not JSON is 415', async () => {
    const res = await h.http.post('/applications').set('Authorization', `Bearer ${officer}`).set('content-type', 'text/plain').send('channel=branch');
    expect(res.status).toBe(415);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('action bodies: decision rules, enums and types', async () => {
    const approver = await h.token('approver-1', 'approver');
    const verifier = await h.token('verifier-1', 'verifier');
    const decide = (body: unknown) => h.http.post('/applications/x/decision').set('Authorization', `Bearer ${approver}`).send(body as object);
    expect(pointers(await decide({ decision: 'reject' }))).toEqual(['#/reasonCode']);
    expect(pointers(await decide({ decision: 'request_info', reasonCode: 'NOT_A_CODE' }))).toEqual(['#/reasonCode']);
    expect(pointers(await decide({ decision: 'reject', reasonCode: 'OTHER', amountFen: 100 }))).toEqual(['#/amountFen']);
    expect(pointers(await decide({ decision: 'maybe', termMonths: 7, annualRateBps: '650' }))).toEqual(['#/annualRateBps', '#/decision', '#/termMonths']);
    const phone = await h.http
      .post('/applications/x/phone-verification')
      .set('Authorization', `Bearer ${verifier}`)
      .send({ outcome: 'maybe', checklist: { identityConfirmed: 'yes', incomeConfirmed: true } });
    expect(pointers(phone)).toEqual(['#/checklist/identityConfirmed', '#/checklist/purposeConfirmed', '#/outcome']);
    const docs = await post('/applications/x/documents', { documents: [] });
    expect(pointers(docs)).toEqual(['#/documents']);
    const collateral = await post('/applications/x/collateral-registration', { registeredAt: 'yesterday' });
    expect(pointers(collateral)).toEqual(['#/registeredAt', '#/registrationRef']);
    const signature = await post('/applications/x/signature', { signedAt: '2026-13-01' });
    expect(pointers(signature)).toEqual(['#/signedAt']);
    const finance = await h.token('finance-1', 'finance');
    const repayment = await h.http.post('/loans/l/repayments').set('Authorization', `Bearer ${finance}`).send({ amountFen: 0, paidAt: 'now', reference: 'has space' });
    expect(pointers(repayment)).toEqual(['#/amountFen', '#/paidAt', '#/reference']);
  });

  it('a bad Idempotency-Key is named as a header field', async () => {
    const res = await h.http.post('/applications').set('Authorization', `Bearer ${officer}`).set('Idempotency-Key', 'has spaces in it').send(applicationBody());
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '#/idempotency-key', in: 'header' })]);
  });

  it('bad query parameters of the work queue', async () => {
    const get = (q: string) => h.http.get(`/applications?${q}`).set('Authorization', `Bearer ${officer}`);
    expect(pointers(await get('limit=0'))).toEqual(['#/limit']);
    expect(pointers(await get('limit=abc&stage=limbo&pendingTask=nap'))).toEqual(['#/limit', '#/pendingTask/0', '#/stage/0']);
    expect(pointers(await get('cursor=not!base64'))).toEqual(['#/cursor']);
    expect(pointers(await get(`cursor=${Buffer.from('{"x":1}').toString('base64url')}`))).toEqual(['#/cursor']);
    expect(pointers(await get('colour=red'))).toEqual(['#/colour']);
  });
});

describe('unknown ids and routes (404)', () => {
  it.each([
    ['get', '/applications/no-such-app', 'officer', undefined],
    ['post', '/applications/no-such-app/documents', 'officer', { documents: [{ type: 'id_card', uri: 's3://b/k.jpg', sha256: 'a'.repeat(64) }] }],
    ['post', '/applications/no-such-app/phone-verification', 'verifier', { outcome: 'passed', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } }],
    ['post', '/applications/no-such-app/decision', 'approver', { decision: 'approve' }],
    ['post', '/applications/no-such-app/signature', 'officer', {}],
    ['post', '/applications/no-such-app/collateral-registration', 'officer', { registrationRef: 'R1', registeredAt: '2026-11-22T10:00:00+08:00' }],
    ['post', '/applications/no-such-app/withdraw', 'officer', {}],
    ['get', '/loans/no-such-loan/schedule', 'finance', undefined],
    ['post', '/loans/no-such-loan/repayments', 'finance', { amountFen: 100, paidAt: '2026-11-22T10:00:00+08:00', reference: 'r-1' }],
    ['get', '/loans/no-such-loan/statement', 'collections', undefined],
    ['get', '/loans/no-such-loan/payoff-quote', 'finance', undefined],
    ['post', '/loans/no-such-loan/prepayments', 'finance', { amountFen: 100, mode: 'reduce_term', reference: 'p-1' }],
    ['post', '/loans/no-such-loan/repayments/r-1/reversal', 'finance', { reasonCode: 'BOOKED_IN_ERROR' }],
    ['post', '/loans/no-such-loan/waivers', 'finance', { component: 'penalty', amountFen: 100, reasonCode: 'GOODWILL' }],
    ['post', '/loans/no-such-loan/refunds/rf-1/approve', 'finance', {}],
  ] as const)('%s %s is 404', async (method, path, role, body) => {
    const req = h.http[method](path).set('Authorization', `Bearer ${await h.token(`${role}-1`, role)}`);
    const res = await (body ? req.send(body) : req);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 404, type: expect.stringContaining('not-found') });
  });

  it('an unknown route is a 404 problem', async () => {
    const res = await h.http.get('/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });
});

describe('the e-signature webhook is authenticated by its HMAC, not a token', () => {
  const event = (applicationId: string) =>
    JSON.stringify({
      eventId: 'evt_test_1',
      type: 'envelope.signed',
      occurredAt: new Date().toISOString(),
      data: { envelopeId: 'env_1', applicationId, status: 'signed', signedAt: new Date().toISOString(), declinedAt: null },
    });
  const post = (raw: string, signature?: string) => {
    const req = h.http.post('/webhooks/esign').set('content-type', 'application/json');
    if (signature) req.set('X-Esign-Signature', signature);
    return req.send(raw);
  };

  it('refuses a missing, wrong or stale signature with 401', async () => {
    const raw = event('no-such-app');
    expect((await post(raw)).status).toBe(401);
    expect((await post(raw, signEsignPayload('not-the-secret-0123456789', raw))).status).toBe(401);
    expect((await post(raw, signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, raw, Math.floor(Date.now() / 1000) - 3600))).status).toBe(401);
    // Signed for other bytes: the signature covers the raw body exactly.
    expect((await post(raw.replace('no-such-app', 'other-app'), signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, raw))).status).toBe(401);
  });

  it('answers a well-signed event about an unknown application with 404, and a malformed one with 400', async () => {
    const raw = event('no-such-app');
    expect((await post(raw, signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, raw))).status).toBe(404);
    const bad = JSON.stringify({ eventId: 'e', type: 'envelope.signed' });
    const res = await post(bad, signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, bad));
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['#/data', '#/occurredAt']);
  });
});

describe('headers of every answer', () => {
  it('security headers from helmet, a request id, and no x-powered-by', async () => {
    const res = await h.http.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const given = await h.http.get('/healthz').set('X-Request-Id', 'trace-abc-12345');
    expect(given.headers['x-request-id']).toBe('trace-abc-12345');
  });

  it('a malformed X-Request-Id is replaced by a new one, answered and logged, and never written anywhere', async () => {
    const logs = capturedLogger();
    const app = createApp({ db: h.db, temporal: h.env.client, taskQueue: h.config.TEMPORAL_TASK_QUEUE, config: h.config, cipher: h.cipher, log: logs.log });
    // 8–128 characters of A-Z a-z 0-9 . _ - are kept as they are, at both ends of the range.
    for (const kept of ['a'.repeat(8), `trace.${'x'.repeat(122)}`, 'Trace_ID-0.9']) {
      expect((await request(app).get('/healthz').set('X-Request-Id', kept)).headers['x-request-id']).toBe(kept);
    }
    const malformed = ['short-7', 'x'.repeat(129), 'trace id with spaces', 'trace/../../etc', 'trace;drop', 'tracé-00000001', '{"$gt":""}xx'];
    const answered: string[] = [];
    for (const bad of malformed) {
      const res = await request(app).get('/healthz').set('X-Request-Id', bad);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      answered.push(res.headers['x-request-id'] as string);
    }
    expect(new Set(answered).size).toBe(malformed.length);
    const logged = logs.lines().filter((l) => l.msg === 'request').map((l) => l.requestId);
    expect(logged.slice(-malformed.length)).toEqual(answered);
    for (const bad of malformed) expect(logs.text()).not.toContain(bad);
  });

  it('Prometheus metrics count requests by route and status', async () => {
    const res = await h.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  });
});
