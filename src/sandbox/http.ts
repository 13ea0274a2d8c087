import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { SandboxStore } from './store';

/** Every refusal the sandbox answers: `{ code, message }`, with validation issues for a 400. */
export interface SandboxError {
  code: string;
  message: string;
  issues?: { path: string; message: string }[];
}

export function refuse(res: Response, status: number, code: string, message: string): void {
  const body: SandboxError = { code, message };
  res.status(status).json(body);
}

/** The parsed body, or undefined after answering 400 with every failing field path. */
export function parseBody<S extends z.ZodType>(schema: S, req: Request, res: Response): z.infer<S> | undefined {
  return parseInput(schema, req.body, res);
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, res: Response): z.infer<S> | undefined {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const body: SandboxError = {
    code: 'invalid_request',
    message: 'the request failed validation',
    issues: result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  };
  res.status(400).json(body);
  return undefined;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A number in [0, modulo) fixed by the text: deterministic answers per input. */
export function hashInt(text: string, modulo: number, salt = ''): number {
  return parseInt(sha256Hex(`${salt}:${text}`).slice(0, 12), 16) % modulo;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Hash of a request body independent of key order: "same body" for idempotency. */
export function bodyHash(body: unknown): string {
  return sha256Hex(JSON.stringify(canonical(body)));
}

/**
 * Answers a request whose idempotency key was seen before and returns true: the original answer
 * when the body is the same (the entity's current state when one was created), 409 when the key is
 * reused with another body, as Stripe and Adyen do.
 */
export function replayIdempotent(
  store: SandboxStore,
  scope: string,
  key: string,
  hash: string,
  res: Response,
  render: (entityId: string) => unknown,
): boolean {
  const prior = store.getIdempotency(scope, key);
  if (!prior) return false;
  if (prior.bodyHash !== hash) {
    refuse(res, 409, 'idempotency_key_reused', 'this idempotency key was used with a different request body');
    return true;
  }
  res.setHeader('Idempotent-Replayed', 'true');
  res.status(prior.status).json(prior.entityId ? render(prior.entityId) : prior.body);
  return true;
}

const idempotencyKeySchema = z.string().min(1).max(255);

/**
 * The request's `Idempotency-Key`, or undefined after answering 400 `idempotency_key_required`
 * (absent, empty or over 255 characters), as the payment providers do.
 */
export function requireIdempotencyKey(req: Request, res: Response): string | undefined {
  const v = req.get('idempotency-key');
  if (v !== undefined && idempotencyKeySchema.safeParse(v).success) return v;
  refuse(res, 400, 'idempotency_key_required', 'an Idempotency-Key header (1–255 characters) is required');
  return undefined;
}

/** Answers a business refusal and remembers it under the key, so a retry of the request gets the same answer. */
export function refuseRemembered(
  store: SandboxStore,
  req: { scope: string; key: string; hash: string; createdAt: string },
  res: Response,
  status: number,
  code: string,
  message: string,
): void {
  store.putIdempotency({ scope: req.scope, key: req.key, bodyHash: req.hash, status, entityId: null, body: { code, message }, createdAt: req.createdAt });
  refuse(res, status, code, message);
}

/** 11-digit mainland mobile number. */
export const MOBILE_RE = /^1[3-9]\d{9}$/;

export function maskPhone(phone: string): string {
  return phone.length >= 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : '****';
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643 (ISO 7064 MOD 11-2) check and a real birth date; the bureau refuses anything else. */
export function isValidResidentId(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * (ID_WEIGHTS[i] ?? 0);
  if (ID_CHECK[sum % 11] !== id[17]) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d && y >= 1900;
}

/** The birth date (YYYY-MM-DD) inside an 18-digit ID number. */
export function birthDateOf(id: string): string {
  return `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
}
