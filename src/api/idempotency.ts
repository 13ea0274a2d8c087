import { createHash } from 'node:crypto';
import { and, eq, lt, sql, type SQLWrapper } from 'drizzle-orm';
import { writeTogether, type Db } from '../db/client';
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

/** One key of one caller on one route, and the digest of the body it came with. */
export interface KeyRef {
  scope: string;
  key: string;
  requestHash: string;
}

export type KeyRecord = typeof idempotencyKeys.$inferSelect;

/** A one-row relation to hang left joins on: a select that finds nothing still answers a row. */
export const ONE_ROW = sql`(select 1) as one_row`;

export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly staleMs: number = STALE_MS,
  ) {}

  /**
   * The claim's insert as a CTE, for a select that reads what the request needs in the same
   * statement (one round trip): select `claimedRows(cte)` and the record (`idempotencyKeys`
   * left-joined on `keyIs(ref)`), which the statement reads as it was before its insert, then
   * `settle`.
   */
  claimCte(ref: KeyRef) {
    return this.db
      .$with('key_claim')
      .as(
        this.db
          .insert(idempotencyKeys)
          .values({ scope: ref.scope, key: ref.key, requestHash: ref.requestHash, status: 'in_progress' })
          .onConflictDoNothing()
          .returning({ key: idempotencyKeys.key }),
      );
  }

  /** What a claim statement found: the key inserted (ours), or the record that was there. */
  async settle(ref: KeyRef, inserted: boolean, prior: KeyRecord | null): Promise<Claim> {
    if (inserted) return { kind: 'owner' };
    // Inserted by a request still uncommitted when ours began, or released in between: again.
    if (!prior) return this.claim(ref);
    if (prior.requestHash !== ref.requestHash) return { kind: 'mismatch' };
    if (prior.status === 'completed' && prior.responseStatus !== null) {
      return {
        kind: 'replay',
        answer: { status: prior.responseStatus, body: prior.responseBody, headers: (prior.responseHeaders as Record<string, string> | null) ?? {} },
      };
    }
    if (Date.now() - prior.createdAt.getTime() > this.staleMs) {
      // The owner died: take the record over (only one taker wins the conditional update).
      const taken = await this.db
        .update(idempotencyKeys)
        .set({ createdAt: new Date() })
        .where(and(keyIs(ref), eq(idempotencyKeys.status, 'in_progress'), lt(idempotencyKeys.createdAt, new Date(Date.now() - this.staleMs))))
        .returning({ key: idempotencyKeys.key });
      if (taken.length > 0) return { kind: 'owner' };
    }
    return { kind: 'in_progress' };
  }

  /** Claims the key in one statement (insert, and the record it met). */
  async claim(ref: KeyRef): Promise<Claim> {
    const cte = this.claimCte(ref);
    const [found] = await this.db
      .with(cte)
      .select({ inserted: claimedRows(cte), prior: idempotencyKeys })
      .from(ONE_ROW)
      .leftJoin(idempotencyKeys, keyIs(ref));
    return this.settle(ref, (found?.inserted ?? 0) > 0, found?.prior ?? null);
  }

  /**
   * Stores the answer, in one statement with `alongside` (the request's last writes: then the
   * answer is kept exactly when they are committed).
   */
  async complete(ref: KeyRef, answer: StoredAnswer, alongside: readonly SQLWrapper[] = []): Promise<void> {
    const completion = this.db
      .update(idempotencyKeys)
      .set({
        status: 'completed',
        responseStatus: answer.status,
        responseBody: answer.body ?? null,
        responseHeaders: answer.headers,
        completedAt: new Date(),
      })
      .where(keyIs(ref));
    await (alongside.length === 0 ? completion : writeTogether(this.db, [...alongside, completion]));
  }

  /** Forgets a key whose request was refused or failed, in one statement with `alongside`. */
  async release(ref: KeyRef, alongside: readonly SQLWrapper[] = []): Promise<void> {
    const release = this.db.delete(idempotencyKeys).where(and(keyIs(ref), eq(idempotencyKeys.status, 'in_progress')));
    await (alongside.length === 0 ? release : writeTogether(this.db, [...alongside, release]));
  }
}

export const keyIs = (ref: KeyRef) => and(eq(idempotencyKeys.scope, ref.scope), eq(idempotencyKeys.key, ref.key));

/** How many rows the claim's CTE inserted (1: the key is ours). */
export const claimedRows = (cte: SQLWrapper) => sql<number>`(select count(*) from ${cte})::int`.mapWith(Number);

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
