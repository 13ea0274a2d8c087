import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import request from 'supertest';
import { createApp } from '../../../src/api/app';
import { CODEC_SESSION_COOKIE, codecCorsOrigins, codecSessionKey, signCodecSession } from '../../../src/api/codecServer';
import { createLogger } from '../../../src/logger';
import { codecFromConfig, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../../src/temporal/codec';
import type { StaffRole } from '../../../src/workflows/messages';
import { capturedLogger } from '../../helpers/log-capture';
import { startApiHarness, type ApiHarness } from './harness';

// The codec endpoint the Temporal UI decodes payloads through (Temporal's remote codec protocol):
// engineers only (role admin, by bearer token or the session cookie made from one), CORS for the
// UI's origin only, and it decodes exactly what the workers' codec encodes.

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ noWorker: true });
});
afterAll(() => h?.stop());

const PROBLEM = /^application\/problem\+json/;
const UI = 'http://127.0.0.1:8233';
const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('base64');
const toJson = (ps: Payload[]) => ({
  payloads: ps.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) })),
});
const text = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const bearer = async (role: StaffRole) => `Bearer ${await h.token(`${role}-codec`, role)}`;

/** What a worker writes to the history: the applicant's name here, to make the point. */
async function encryptedByWorker(value: unknown): Promise<Payload[]> {
  return codecFromConfig(h.config).encode([defaultPayloadConverter.toPayload(value)]);
}

describe('decode and encode (engineers only)', () => {
  it('an admin decodes what the workers encrypted, and encodes what they can decrypt', async () => {
    const secret = { applicationId: 'app-1', note: '欧阳青云 11010519491231002X' };
    const encrypted = await encryptedByWorker(secret);
    expect(b64(encrypted[0]!.data)).not.toContain(b64(Buffer.from('欧阳青云')));
    const res = await h.http.post('/codec/decode').set('Authorization', await bearer('admin')).set('X-Namespace', 'default').send(toJson(encrypted));
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const [p] = res.body.payloads;
    expect(text(p.metadata.encoding)).toBe('json/plain');
    expect(JSON.parse(text(p.data))).toEqual(secret);

    const plain = toJson([defaultPayloadConverter.toPayload({ hello: 'world' })]);
    const enc = await h.http.post('/codec/encode').set('Authorization', await bearer('admin')).send(plain);
    expect(enc.status).toBe(200);
    expect(text(enc.body.payloads[0].metadata.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(enc.body.payloads[0].metadata[KEY_ID_METADATA])).toBe(h.config.TEMPORAL_CODEC_KEY_ID);
    const back = await codecFromConfig(h.config).decode([
      { metadata: Object.fromEntries(Object.entries(enc.body.payloads[0].metadata as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(enc.body.payloads[0].data, 'base64') },
    ]);
    expect(defaultPayloadConverter.fromPayload(back[0]!)).toEqual({ hello: 'world' });
  });

  it('without a token it is 401; any role but admin is 403; a forged token is 401', async () => {
    const body = toJson(await encryptedByWorker({ x: 1 }));
    const none = await h.http.post('/codec/decode').send(body);
    expect(none.status).toBe(401);
    expect(none.headers['content-type']).toMatch(PROBLEM);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.stringify(none.body)).not.toContain('"data"');
    for (const role of ['officer', 'verifier', 'approver', 'finance'] as const) {
      for (const op of ['decode', 'encode']) {
        const res = await h.http.post(`/codec/${op}`).set('Authorization', await bearer(role)).send(body);
        expect(res.status).toBe(403);
        expect(res.body.payloads).toBeUndefined();
      }
    }
    const forged = await h.http.post('/codec/decode').set('Authorization', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZXMiOlsiYWRtaW4iXX0.').send(body);
    expect(forged.status).toBe(401);
  });

  it('names malformed payloads and refuses ciphertext it cannot authenticate, echoing nothing', async () => {
    const admin = await bearer('admin');
    const bad = await h.http.post('/codec/decode').set('Authorization', admin).send({ payloads: [{ metadata: { encoding: '!!!' }, data: 'not base64 at all' }, 'x'] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['#/payloads/0/data', '#/payloads/0/metadata/encoding', '#/payloads/1']);
    expect((await h.http.post('/codec/decode').set('Authorization', admin).send({ payloads: 'x' })).status).toBe(400);
    expect((await h.http.post('/codec/decode').set('Authorization', admin).send([])).status).toBe(400);
    const [p] = await encryptedByWorker({ secret: 'x' });
    const data = Buffer.from(p!.data!);
    data[20] = (data[20] as number) ^ 0xff;
    const tampered = await h.http.post('/codec/decode').set('Authorization', admin).send(toJson([{ ...p, data }]));
    expect(tampered.status).toBe(400);
    expect(tampered.body.errors[0].code).toBe('undecodable');
    const unknownKey = await h.http
      .post('/codec/decode')
      .set('Authorization', admin)
      .send(toJson([{ ...p, metadata: { ...p!.metadata, [KEY_ID_METADATA]: Buffer.from('retired') } }]));
    expect(unknownKey.status).toBe(400);
    expect((await h.http.post('/codec/decode').set('Authorization', admin).set('content-type', 'text/plain').send('{}')).status).toBe(415);
  });
});

describe('what the Temporal CLI sends', () => {
  it('accepts `{}`, the protojson form of an empty payload list, and answers an empty list', async () => {
    for (const op of ['decode', 'encode']) {
      const res = await h.http.post(`/codec/${op}`).set('Authorization', await bearer('admin')).send({});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ payloads: [] });
    }
  });
});

describe('the browser: a session cookie and CORS for the Temporal UI', () => {
  it('an admin token becomes an HttpOnly, SameSite=Strict cookie for /codec that decodes on its own', async () => {
    const adminToken = await bearer('admin');
    const started = await h.http.post('/codec/session').set('Authorization', adminToken);
    expect(started.status).toBe(200);
    const cookie = (started.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(`${CODEC_SESSION_COOKIE}=`)) as string;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/codec/);
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(3600);
    // Reached over plain HTTP with no trusted proxy: not Secure (the browser would drop it).
    expect(cookie).not.toMatch(/Secure/);
    const pair = cookie.split(';')[0] as string;
    // A signed session, not the bearer token: the cookie is no token anyone could replay elsewhere.
    expect(pair).not.toContain(adminToken.replace('Bearer ', '').split('.')[2]);
    expect(pair.split('=')[1]!.split('.')).toHaveLength(2);
    const body = toJson(await encryptedByWorker({ ok: true }));
    const res = await h.http.post('/codec/decode').set('Origin', UI).set('Cookie', pair).send(body);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    const out = await h.http.post('/codec/logout');
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(new RegExp(`${CODEC_SESSION_COOKIE}=;`));
  });

  it('the login page sets the cookie from a pasted token; a non-admin token gets none', async () => {
    const page = await h.http.get('/codec/login');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post" action="session">');
    expect(page.text).toContain(`<code id="endpoint">${h.url}/codec</code>`);
    const ok = await h.http.post('/codec/session').type('form').send({ token: await h.token('eng-1', 'admin') });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/html/);
    expect(String(ok.headers['set-cookie'])).toContain(`${CODEC_SESSION_COOKIE}=`);
    const officer = await h.http.post('/codec/session').type('form').send({ token: await h.token('officer-1', 'officer') });
    expect(officer.status).toBe(403);
    expect(officer.headers['set-cookie']).toBeUndefined();
    expect((await h.http.post('/codec/session')).status).toBe(401);
    // A cookie holding a token (set by hand), a forged or an expired session: no session at all.
    const sneaky = await h.http.post('/codec/decode').set('Cookie', `${CODEC_SESSION_COOKIE}=${await h.token('officer-1', 'officer')}`).send({ payloads: [] });
    expect(sneaky.status).toBe(401);
    const key = codecSessionKey(h.config.TEMPORAL_CODEC_KEY);
    const expired = signCodecSession(key, { sub: 'eng-1', exp: Math.floor(Date.now() / 1000) - 1 });
    expect((await h.http.post('/codec/decode').set('Cookie', `${CODEC_SESSION_COOKIE}=${expired}`).send({ payloads: [] })).status).toBe(401);
    const forged = signCodecSession(Buffer.alloc(32, 1), { sub: 'eng-1', exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await h.http.post('/codec/decode').set('Cookie', `${CODEC_SESSION_COOKIE}=${forged}`).send({ payloads: [] })).status).toBe(401);
    const valid = signCodecSession(key, { sub: 'eng-1', exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await h.http.post('/codec/decode').set('Cookie', `${CODEC_SESSION_COOKIE}=${valid}`).send({ payloads: [] })).status).toBe(200);
  });

  it('answers the UI origins preflight and refuses any other origin', async () => {
    for (const origin of [UI, 'http://localhost:8233']) {
      const pre = await h.http.options('/codec/decode').set('Origin', origin).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type,x-namespace,authorization');
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe(origin);
      expect(pre.headers['access-control-allow-credentials']).toBe('true');
      expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
      expect(pre.headers['access-control-allow-headers']).toMatch(/X-Namespace/);
      expect(pre.headers.vary).toMatch(/Origin/);
    }
    // Even a refusal carries CORS headers for the UI, so it can show why.
    const unauth = await h.http.post('/codec/decode').set('Origin', UI).send({ payloads: [] });
    expect(unauth.status).toBe(401);
    expect(unauth.headers['access-control-allow-origin']).toBe(UI);

    const evil = await h.http.options('/codec/decode').set('Origin', 'http://evil.example').set('Access-Control-Request-Method', 'POST');
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const evilPost = await h.http.post('/codec/decode').set('Origin', 'http://evil.example').set('Authorization', await bearer('admin')).send({ payloads: [] });
    expect(evilPost.status).toBe(403);
    // The refusal says what it is: the origin, not the caller's role.
    expect(evilPost.body.title).toBe('This origin may not call the codec endpoint');
    expect(evilPost.body.detail).toContain('http://evil.example');
    const opaque = await h.http.post('/codec/session').set('Origin', 'null').type('form').send({ token: await h.token('eng-1', 'admin') });
    expect(opaque.status).toBe(403);
    expect(opaque.body.detail).toContain('"null"');
    const evilLogin = await h.http.post('/codec/session').set('Origin', 'http://evil.example').type('form').send({ token: await h.token('eng-1', 'admin') });
    expect(evilLogin.status).toBe(403);
    expect(evilLogin.headers['set-cookie']).toBeUndefined();
  });

  it('the codec pages keep their origin on form posts (Referrer-Policy same-origin, not no-referrer)', async () => {
    const page = await h.http.get('/codec/login');
    expect(page.headers['referrer-policy']).toBe('same-origin');
    const out = await h.http.post('/codec/logout').type('form').send('');
    expect(out.status).toBe(200);
    expect(out.headers['referrer-policy']).toBe('same-origin');
    expect(out.text).toContain('Codec session ended');
  });

  it('behind a proxy the API trusts (TRUST_PROXY), X-Forwarded-Proto https makes the cookie Secure', async () => {
    const behindProxy = createApp({ db: h.db, temporal: h.env.client, taskQueue: 'car-loans', config: { ...h.config, TRUST_PROXY: 'loopback' }, cipher: h.cipher, log: createLogger('silent') });
    const token = await bearer('admin');
    const secure = await request(behindProxy).post('/codec/session').set('Authorization', token).set('X-Forwarded-Proto', 'https');
    expect(secure.status).toBe(200);
    expect(String(secure.headers['set-cookie'])).toMatch(/; Secure/);
    // The same header from a proxy it does not trust changes nothing.
    const untrusted = await h.http.post('/codec/session').set('Authorization', token).set('X-Forwarded-Proto', 'https');
    expect(String(untrusted.headers['set-cookie'])).not.toMatch(/Secure/);
  });

  it('the allowed origins follow the UI port or CODEC_CORS_ORIGINS', () => {
    expect(codecCorsOrigins({ TEMPORAL_UI_PORT: 9233 })).toEqual(['http://127.0.0.1:9233', 'http://localhost:9233']);
    expect(codecCorsOrigins({ CODEC_CORS_ORIGINS: 'https://temporal.bank.internal/, https://ui.example' })).toEqual(['https://temporal.bank.internal', 'https://ui.example']);
  });
});

describe('what the codec endpoint logs', () => {
  it('who decoded or encoded how many payloads, never their contents, not even when it refuses them', async () => {
    const logs = capturedLogger();
    const app = createApp({ db: h.db, temporal: h.env.client, taskQueue: h.config.TEMPORAL_TASK_QUEUE, config: h.config, cipher: h.cipher, log: logs.log });
    const person = { applicationId: 'app-codec-log', name: '欧阳青云', idNumber: '11010519491231002X', phone: '13912345678', account: '6222020200112233445' };
    const encrypted = await encryptedByWorker(person);
    const admin = await bearer('admin');

    const decoded = await request(app).post('/codec/decode').set('Authorization', admin).set('X-Namespace', 'default').send(toJson(encrypted));
    expect(decoded.status).toBe(200);
    const encoded = await request(app).post('/codec/encode').set('Authorization', admin).send(toJson([defaultPayloadConverter.toPayload(person)]));
    expect(encoded.status).toBe(200);
    // Refused: tampered ciphertext, a payload that is not one, JSON that does not parse, a role that may not.
    const data = Buffer.from(encrypted[0]!.data!);
    data[20] = (data[20] as number) ^ 0xff;
    expect((await request(app).post('/codec/decode').set('Authorization', admin).send(toJson([{ ...encrypted[0], data }]))).status).toBe(400);
    expect((await request(app).post('/codec/decode').set('Authorization', admin).send({ payloads: [{ metadata: {}, data: JSON.stringify(person) }] })).status).toBe(400);
    const broken = `{"payloads":[{"data":"${JSON.stringify(person).replace(/"/g, "'")}"`;
    expect((await request(app).post('/codec/decode').set('Authorization', admin).set('content-type', 'application/json').send(broken)).status).toBe(400);
    expect((await request(app).post('/codec/decode').set('Authorization', await bearer('officer')).send(toJson(encrypted))).status).toBe(403);

    const text = logs.text();
    const contents = [
      ...[person.name, person.idNumber, person.phone, person.account],
      b64(Buffer.from(JSON.stringify(person))).slice(0, 40), // the plaintext as the payload carries it
      b64(encrypted[0]!.data).slice(0, 40), // the ciphertext a worker wrote
      (decoded.body.payloads[0].data as string).slice(0, 40),
      (encoded.body.payloads[0].data as string).slice(0, 40),
    ];
    for (const c of contents) expect(text).not.toContain(c);
    expect(logs.lines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'codec', op: 'decode', payloads: 1, staff: 'admin-codec', namespace: 'default' }),
        expect.objectContaining({ msg: 'codec', op: 'encode', payloads: 1, staff: 'admin-codec' }),
      ]),
    );
  });
});
