import { createHash } from 'node:crypto';
import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client';
import { idempotencyKeys } from '../db/schema';

/**
 * Idempotency-Key records (Stripe's and Fineract's rule): the first request with a key owns it
 * while it runs; its answer is stored and replayed for every repeat with the same body; a repeat
 * with another body is refused; a repeat while the first still runs is told so. A record left
 * `in_progress` by a crashed process is taken over after STALE_MS, so a key is never stuck.
 */
export const STALE_MS = 120_000;

export interface StoredAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export type Claim =
  | { kind: 'owner' }
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'in_progress' }
  | { kind: 'mismatch' };

export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly staleMs: number = STALE_MS,
  ) {}

  async claim(scope: string, key: string, requestHash: string): Promise<Claim> {
    const inserted = await this.db
      .insert(idempotencyKeys)
      .values({ scope, key, requestHash, status: 'in_progress' })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (inserted.length > 0) return { kind: 'owner' };

    const [row] = await this.db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
    if (!row) return this.claim(scope, key, requestHash); // released in between: try again
    if (row.requestHash !== requestHash) return { kind: 'mismatch' };
    if (row.status === 'completed' && row.responseStatus !== null) {
      return {
        kind: 'replay',
        answer: { status: row.responseStatus, body: row.responseBody, headers: (row.responseHeaders as Record<string, string> | null) ?? {} },
      };
    }
    if (Date.now() - row.createdAt.getTime() > this.staleMs) {
      // The owner died: take the record over (only one taker wins the conditional update).
      const taken = await this.db
        .update(idempotencyKeys)
        .set({ createdAt: new Date() })
        .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key), eq(idempotencyKeys.status, 'in_progress'), lt(idempotencyKeys.createdAt, new Date(Date.now() - this.staleMs))))
        .returning({ key: idempotencyKeys.key });
      if (taken.length > 0) return { kind: 'owner' };
    }
    return { kind: 'in_progress' };
  }

  async complete(scope: string, key: string, answer: StoredAnswer): Promise<void> {
    await this.db
      .update(idempotencyKeys)
      .set({
        status: 'completed',
        responseStatus: answer.status,
        responseBody: answer.body ?? null,
        responseHeaders: answer.headers,
        completedAt: new Date(),
      })
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
  }

  /** Forgets a key whose request failed in a way worth retrying (5xx). */
  async release(scope: string, key: string): Promise<void> {
    await this.db
      .delete(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key), eq(idempotencyKeys.status, 'in_progress')));
  }
}

/** JSON with object keys sorted, so the same body hashes the same whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A UUID-shaped id derived from a seed (version nibble 8: custom), for ids that must repeat on retry. */
export function deterministicUuid(seed: string): string {
  const h = sha256Hex(seed);
  const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
