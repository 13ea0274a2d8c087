import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The e-signature provider signs each webhook the way Stripe does: header
 * `X-Esign-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The timestamp inside
 * the signed text lets the receiver refuse replays older than its tolerance. Several `v1=` entries
 * may be present while a secret is being rotated; any one matching is enough.
 *
 * Pure (node:crypto only), so the API's webhook route imports it without pulling in the sandbox.
 */
export const ESIGN_SIGNATURE_HEADER = 'x-esign-signature';

export function computeEsignSignature(secret: string, timestamp: number, rawBody: string | Buffer): string {
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The header value for a body, signed at `timestamp` (unix seconds). */
export function signEsignPayload(
  secret: string,
  rawBody: string | Buffer,
  timestamp: number = Math.floor(Date.now() / 1000),
): string {
  return `t=${timestamp},v1=${computeEsignSignature(secret, timestamp, rawBody)}`;
}

export interface ParsedEsignSignature {
  timestamp: number;
  signatures: string[];
}

export function parseEsignSignatureHeader(header: string | undefined | null): ParsedEsignSignature | null {
  if (!header) return null;
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  if (timestamp === null || signatures.length === 0) return null;
  return { timestamp, signatures };
}

/**
 * True when `header` carries a valid signature of `rawBody` (the exact bytes received, before JSON
 * parsing) made with `secret` no more than `toleranceSec` seconds away from `nowSec`.
 */
export function verifyEsignSignature(
  secret: string,
  header: string | undefined | null,
  rawBody: string | Buffer,
  toleranceSec = 300,
  nowSec: number = Math.floor(Date.now() / 1000),
): boolean {
  const parsed = parseEsignSignatureHeader(header);
  if (!parsed) return false;
  if (Math.abs(nowSec - parsed.timestamp) > toleranceSec) return false;
  const expected = Buffer.from(computeEsignSignature(secret, parsed.timestamp, rawBody), 'hex');
  return parsed.signatures.some((sig) => {
    const given = Buffer.from(sig, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The development secret, the same as the configuration's default ESIGN_WEBHOOK_SECRET. */
export const DEFAULT_ESIGN_WEBHOOK_SECRET = 'dev-only-esign-webhook-secret';
