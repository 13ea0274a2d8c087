import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { decodeJwt } from 'jose';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from '../logger';
import { assertRole, type Authenticator, type Staff } from './auth';
import { ProblemError, validationProblem, type FieldError } from './problem';

/**
 * The remote codec endpoint of Temporal's codec-server protocol, so engineers read decrypted
 * payloads in the Temporal Web UI (or `temporal workflow show --codec-endpoint`) while Temporal
 * itself only ever stores ciphertext: `POST /codec/decode` and `POST /codec/encode` take and answer
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`.
 *
 * Only engineers (role `admin`) may use it. They authenticate either with `Authorization: Bearer
 * <token>` (the CLI; the UI's "pass access token" when it logs in with the same identity provider)
 * or with a session cookie that `POST /codec/session` sets from such a token (the browser: the
 * dev UI has no login of its own, so the engineer opens /codec/login once, pastes a token, and turns
 * on the UI's "Include cross-origin credentials"). The cookie is HttpOnly, SameSite=Strict, scoped
 * to /codec, Secure when the API is reached over HTTPS, and holds a short-lived signed session (the
 * engineer's id and an expiry, HMAC-signed with a key derived from the codec key), never the token:
 * every API process verifies it, nothing is kept server-side, and a stolen cookie is worth an hour
 * at most. Browsers get CORS answers for the configured Temporal UI origins only; a request from any
 * other origin is refused. Payload contents are never logged.
 */
export const CODEC_SESSION_COOKIE = 'car_loans_codec';
/** A session never outlives this, whatever the token's own expiry. */
export const CODEC_SESSION_MAX_S = 3600;
const ENGINEER_ROLES = ['admin'] as const;
const MAX_PAYLOADS = 10_000;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface CodecServerOptions {
  codec: PayloadCodec;
  authenticate: Authenticator;
  /** Origins (scheme://host:port) of the Temporal Web UI that may call from a browser. */
  allowedOrigins: readonly string[];
  log: Logger;
  /** Signs the browser sessions (32 bytes; `codecSessionKey` derives it from the codec key). */
  sessionKey: Buffer;
  /** Largest request body (default 4mb: the UI sends a whole event's payloads at once). */
  bodyLimit?: string;
}

/** The session-signing key: derived from the codec key, so every API process holding it agrees. */
export function codecSessionKey(codecKeyBase64: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(codecKeyBase64, 'base64'), Buffer.alloc(0), 'car-loans codec session v1', 32));
}

interface CodecSession {
  sub: string;
  /** Unix seconds. */
  exp: number;
}

const sign = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest('base64url');

export function signCodecSession(key: Buffer, s: CodecSession): string {
  const body = Buffer.from(JSON.stringify({ v: 1, sub: s.sub, exp: s.exp }), 'utf8').toString('base64url');
  return `${body}.${sign(key, body)}`;
}

/** The session a cookie holds, or null when it is malformed, forged or expired. */
export function verifyCodecSession(key: Buffer, value: string, nowS = Math.floor(Date.now() / 1000)): CodecSession | null {
  const [body, mac, extra] = value.split('.');
  if (!body || !mac || extra !== undefined) return null;
  const want = Buffer.from(sign(key, body));
  const got = Buffer.from(mac);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
  try {
    const s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { v?: unknown; sub?: unknown; exp?: unknown };
    if (s.v !== 1 || typeof s.sub !== 'string' || typeof s.exp !== 'number' || s.exp <= nowS) return null;
    return { sub: s.sub, exp: s.exp };
  } catch {
    return null;
  }
}

/** `CODEC_CORS_ORIGINS` (comma-separated) or the dev server's UI on both loopback names. */
export function codecCorsOrigins(cfg: { CODEC_CORS_ORIGINS?: string | undefined; TEMPORAL_UI_PORT?: number | undefined }): string[] {
  if (cfg.CODEC_CORS_ORIGINS) {
    return cfg.CODEC_CORS_ORIGINS.split(',')
      .map((s) => s.trim().replace(/\/+$/, ''))
      .filter(Boolean);
  }
  const port = cfg.TEMPORAL_UI_PORT ?? 8233;
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

const b64 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('base64');

/** JSON payloads → protobuf-shaped ones, naming every malformed field. */
function parsePayloads(body: unknown): Payload[] {
  const errors: FieldError[] = [];
  const bad = (pointer: string, message: string) => errors.push({ pointer, in: 'body', code: 'invalid', message });
  // protojson leaves out an empty repeated field: the Temporal CLI sends `{}` for no payloads.
  const list = (body as { payloads?: unknown } | null)?.payloads ?? [];
  if (!body || typeof body !== 'object' || Array.isArray(body)) bad('#', 'must be an object { payloads: [...] }');
  else if (!Array.isArray(list)) bad('#/payloads', 'must be an array');
  else if (list.length > MAX_PAYLOADS) bad('#/payloads', `at most ${MAX_PAYLOADS} payloads`);
  if (errors.length > 0) throw validationProblem(errors);
  const out: Payload[] = [];
  (list as unknown[]).forEach((p, i) => {
    if (!p || typeof p !== 'object' || Array.isArray(p)) return void bad(`#/payloads/${i}`, 'must be an object { metadata, data }');
    const { metadata, data } = p as { metadata?: unknown; data?: unknown };
    const meta: Record<string, Uint8Array> = {};
    if (metadata !== undefined && metadata !== null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata)) bad(`#/payloads/${i}/metadata`, 'must map names to base64 strings');
      else {
        for (const [k, v] of Object.entries(metadata)) {
          if (typeof v !== 'string' || !BASE64.test(v)) bad(`#/payloads/${i}/metadata/${k}`, 'must be base64');
          else meta[k] = Buffer.from(v, 'base64');
        }
      }
    }
    if (data !== undefined && data !== null && (typeof data !== 'string' || !BASE64.test(data))) bad(`#/payloads/${i}/data`, 'must be base64');
    out.push({ metadata: meta, data: typeof data === 'string' ? Buffer.from(data, 'base64') : new Uint8Array() });
  });
  if (errors.length > 0) throw validationProblem(errors);
  return out;
}

function toJson(payloads: Payload[]) {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
      data: b64(p.data),
    })),
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif;max-width:44rem;margin:2rem auto">${body}</body></html>`;
}

const isForm = (req: Request) => /^application\/x-www-form-urlencoded\b/i.test(req.get('content-type') ?? '');

/**
 * The codec's own pages send their forms with the page's origin: under helmet's
 * `Referrer-Policy: no-referrer` Chromium sends `Origin: null` with a form post, which the origin
 * check rightly refuses.
 */
function sendPage(res: Response, html: string, status = 200): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.status(status).type('html').send(html);
}

/** The sign-in page; `endpoint` is this codec endpoint's URL, to paste into the UI's settings. */
const loginPage = (endpoint: string) =>
  page(
    'Codec session for the Temporal UI',
    `<h1>Decrypt payloads in the Temporal UI</h1>
<p>Paste an engineer's token (role <code>admin</code>), e.g. from <code>npm run -s token -- --sub you@bank --roles admin</code>.
This sets an HttpOnly cookie for <code>/codec</code> on this host holding a signed session (not the token) that lasts an hour, or less when the token expires sooner.</p>
<form method="post" action="session"><label for="token">Token</label><br><textarea id="token" name="token" rows="5" cols="70" required></textarea><br><button type="submit">Start session</button></form>
<p>Then, in the Temporal UI (opened on the same host name as this page): open a workflow, click the codec icon at the top right,
choose <b>Use my browser setting and ignore Cluster-level setting</b>, paste <code id="endpoint">${esc(endpoint)}</code> as the browser endpoint,
turn on <b>Include cross-origin credentials</b>, press <b>Apply</b> and reload the page.</p>
<form method="post" action="logout"><button type="submit">End session</button></form>`,
  );

export function codecRouter(opts: CodecServerOptions): Router {
  const router = Router();
  const allowed = new Set(opts.allowedOrigins);
  const limit = opts.bodyLimit ?? '4mb';

  // CORS for the Temporal UI; any other browser origin is refused outright (no side effects either way,
  // but an answer it could not read is still work done with an engineer's cookie).
  router.use((req, res, next) => {
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin === undefined) return next();
    const sameOrigin = origin === `${req.protocol}://${req.get('host')}`;
    if (!allowed.has(origin) && !sameOrigin) {
      return next(new ProblemError('origin_refused', `The origin ${origin === 'null' ? '"null" (an opaque origin)' : origin} is not one of the Temporal UI origins allowed to call the codec endpoint (CODEC_CORS_ORIGINS)`));
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    // The UI reads the answer from another origin: helmet's same-origin resource policy does not apply.
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  });

  async function engineer(req: Request): Promise<Staff> {
    const header = req.get('authorization');
    const cookie = cookieValue(req, CODEC_SESSION_COOKIE);
    if (header === undefined && cookie !== undefined) {
      const session = verifyCodecSession(opts.sessionKey, cookie);
      if (!session) throw new ProblemError('unauthenticated', 'The codec session has expired or is not valid: sign in again at /codec/login');
      // Only an admin token ever becomes a session (checked at sign-in).
      return { id: session.sub, roles: new Set(ENGINEER_ROLES) };
    }
    const staff = await opts.authenticate(header);
    assertRole(staff, ENGINEER_ROLES);
    return staff;
  }

  const json = express.json({ limit, type: ['application/json', 'application/*+json'], strict: true });
  const codecCall = (op: 'decode' | 'encode') => async (req: Request, res: Response, next: NextFunction) => {
    try {
      const staff = res.locals.codecStaff as Staff;
      if (!req.is(['application/json', 'application/*+json'])) throw new ProblemError('unsupported_media_type', 'Send { "payloads": [...] } as application/json');
      const payloads = parsePayloads(req.body);
      let result: Payload[];
      try {
        result = op === 'decode' ? await opts.codec.decode(payloads) : await opts.codec.encode(payloads);
      } catch {
        // A wrong key id or a tampered ciphertext: say so, never echo the payload.
        throw validationProblem([{ pointer: '#/payloads', in: 'body', code: 'undecodable', message: 'a payload could not be decoded with the keys this server holds' }]);
      }
      opts.log.info({ staff: staff.id, op, payloads: payloads.length, namespace: req.get('x-namespace') }, 'codec');
      res.setHeader('Cache-Control', 'no-store');
      res.json(toJson(result));
    } catch (err) {
      next(err);
    }
  };
  // Authenticate before reading the body: a caller without a token never gets 4 MB parsed.
  const authFirst = async (req: Request, res: Response, next: NextFunction) => {
    try {
      res.locals.codecStaff = await engineer(req);
      next();
    } catch (err) {
      next(err);
    }
  };
  router.post('/decode', authFirst, json, codecCall('decode'));
  router.post('/encode', authFirst, json, codecCall('encode'));

  router.get('/login', (req, res) => {
    sendPage(res, loginPage(`${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`));
  });

  // The browser's way in: a token (header, JSON or the login form) becomes the session cookie.
  router.post('/session', express.urlencoded({ extended: false, limit: '16kb' }), json, async (req, res, next) => {
    try {
      const fromBody = typeof (req.body as { token?: unknown } | undefined)?.token === 'string' ? ((req.body as { token: string }).token.trim()) : undefined;
      const header = req.get('authorization') ?? (fromBody ? `Bearer ${fromBody}` : undefined);
      const staff = await opts.authenticate(header);
      assertRole(staff, ENGINEER_ROLES);
      const token = (header as string).trim().replace(/^Bearer\s+/i, '');
      const nowS = Math.floor(Date.now() / 1000);
      const tokenExp = decodeJwt(token).exp;
      const exp = Math.min(nowS + CODEC_SESSION_MAX_S, tokenExp ?? nowS + CODEC_SESSION_MAX_S);
      const maxAge = Math.max(0, exp - nowS);
      // req.secure is true over HTTPS, also behind a proxy that says so (X-Forwarded-Proto) when TRUST_PROXY trusts it.
      res.cookie(CODEC_SESSION_COOKIE, signCodecSession(opts.sessionKey, { sub: staff.id, exp }), {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.secure,
        path: '/codec',
        maxAge: maxAge * 1000,
      });
      res.setHeader('Cache-Control', 'no-store');
      opts.log.info({ staff: staff.id, maxAgeS: maxAge }, 'codec session started');
      const expiresAt = new Date(exp * 1000).toISOString();
      if (fromBody && isForm(req)) {
        sendPage(
          res,
          page(
            'Codec session started',
            `<h1>Codec session started</h1><p>Signed in as <code id="staff">${esc(staff.id)}</code> until ${esc(expiresAt)}. Reload the Temporal UI.</p>
<form method="post" action="logout"><button type="submit">End session</button></form>`,
          ),
        );
        return;
      }
      res.json({ staff: staff.id, expiresAt });
    } catch (err) {
      next(err);
    }
  });

  router.post('/logout', express.urlencoded({ extended: false, limit: '1kb' }), (req, res) => {
    res.clearCookie(CODEC_SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/codec' });
    if (isForm(req)) {
      sendPage(res, page('Codec session ended', '<h1>Codec session ended</h1><p>The cookie is gone; the Temporal UI shows payloads encrypted again. <a href="login">Sign in again</a></p>'));
      return;
    }
    res.status(204).end();
  });

  return router;
}
