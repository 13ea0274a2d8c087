import { and, asc, eq } from 'drizzle-orm';
import type { DebitAnswer, DebitAttempt } from '../domain/autoDebit';
import type { Db } from './client';
import type { PiiCipher } from './pii';
import { debitAttempts, loanMandates } from './schema';

/**
 * The stored side of auto-debit (issue 19): a loan's withholding mandate and the debit attempts
 * made under it. Every write is idempotent (keyed by the channel's mandate id or the attempt's
 * idempotency key), so an activity retried after a crash writes each row once.
 */

export interface StoredMandate {
  mandateId: string;
  loanId: string;
  bankCode: string;
  cardLast4: string;
  status: 'active' | 'replaced' | 'revoked';
  registeredBy: string;
  createdAt: Date;
  endedAt: Date | null;
  endedBy: string | null;
}

function mandateOf(r: typeof loanMandates.$inferSelect): StoredMandate {
  return {
    mandateId: r.mandateId,
    loanId: r.loanId,
    bankCode: r.bankCode,
    cardLast4: r.cardLast4,
    status: r.status as StoredMandate['status'],
    registeredBy: r.registeredBy,
    createdAt: r.createdAt,
    endedAt: r.endedAt,
    endedBy: r.endedBy,
  };
}

/**
 * Keeps a mandate the channel registered as the loan's active one; the one it replaces (if any)
 * becomes `replaced`. The same mandate again changes nothing. The card number is stored encrypted.
 */
export async function saveMandate(
  db: Db,
  cipher: PiiCipher,
  m: { mandateId: string; loanId: string; bankCode: string; cardNumber: string; registeredBy: string; at: Date },
): Promise<StoredMandate> {
  return db.transaction(async (tx) => {
    const [known] = await tx.select().from(loanMandates).where(eq(loanMandates.mandateId, m.mandateId));
    if (known) return mandateOf(known);
    await tx
      .update(loanMandates)
      .set({ status: 'replaced', endedAt: m.at, endedBy: m.registeredBy })
      .where(and(eq(loanMandates.loanId, m.loanId), eq(loanMandates.status, 'active')));
    const [row] = await tx
      .insert(loanMandates)
      .values({
        mandateId: m.mandateId,
        loanId: m.loanId,
        bankCode: m.bankCode,
        cardLast4: m.cardNumber.slice(-4),
        cardNumberEnc: cipher.encrypt(m.cardNumber),
        cardNumberHash: cipher.lookupHash('card_number', m.cardNumber),
        registeredBy: m.registeredBy,
        createdAt: m.at,
      })
      .returning();
    return mandateOf(row!);
  });
}

/** Ends the loan's active mandate as revoked; null when it has none (revoking twice is one revocation). */
export async function revokeMandate(db: Db, loanId: string, by: string, at: Date): Promise<StoredMandate | null> {
  const [row] = await db
    .update(loanMandates)
    .set({ status: 'revoked', endedAt: at, endedBy: by })
    .where(and(eq(loanMandates.loanId, loanId), eq(loanMandates.status, 'active')))
    .returning();
  return row ? mandateOf(row) : null;
}

export async function activeMandate(db: Pick<Db, 'select'>, loanId: string): Promise<StoredMandate | null> {
  const [row] = await db
    .select()
    .from(loanMandates)
    .where(and(eq(loanMandates.loanId, loanId), eq(loanMandates.status, 'active')));
  return row ? mandateOf(row) : null;
}

/** The card number of a mandate, decrypted, for the one call to the channel that needs it. */
export async function mandateCardNumber(db: Pick<Db, 'select'>, cipher: PiiCipher, mandateId: string): Promise<string | null> {
  const [row] = await db.select({ enc: loanMandates.cardNumberEnc }).from(loanMandates).where(eq(loanMandates.mandateId, mandateId));
  return row ? cipher.decrypt(row.enc) : null;
}

/** Records that an attempt is about to be asked of the channel; a retry finds the row already there. */
export async function recordDebitRequested(
  db: Db,
  a: { idempotencyKey: string; loanId: string; seq: number; attempt: number; onDate: string; mandateId: string; amountFen: number },
): Promise<void> {
  await db.insert(debitAttempts).values(a).onConflictDoNothing({ target: debitAttempts.idempotencyKey });
}

/** Records the channel's answer to an attempt (asked again with the same key, the answer is the same). */
export async function recordDebitAnswer(
  db: Db,
  idempotencyKey: string,
  answer: { debitId: string; status: 'succeeded' | 'pending' | 'failed'; failureCode: string | null; at: Date },
): Promise<void> {
  await db
    .update(debitAttempts)
    .set({ debitId: answer.debitId, status: answer.status, failureCode: answer.failureCode, answeredAt: answer.at })
    .where(eq(debitAttempts.idempotencyKey, idempotencyKey));
}

/** An instalment's attempts as the policy (decideDebit) reads them, in order. */
export async function instalmentDebitAttempts(db: Pick<Db, 'select'>, loanId: string, seq: number): Promise<DebitAttempt[]> {
  const rows = await db
    .select()
    .from(debitAttempts)
    .where(and(eq(debitAttempts.loanId, loanId), eq(debitAttempts.seq, seq)))
    .orderBy(asc(debitAttempts.attempt));
  return rows.map((r) => {
    const answer: DebitAnswer | undefined =
      r.status === 'requested' ? undefined : r.status === 'failed' ? (r.failureCode as DebitAnswer) : (r.status as DebitAnswer);
    return { attempt: r.attempt, onDate: r.onDate, amountFen: r.amountFen, ...(answer ? { answer } : {}) };
  });
}

/** The attempt stored under a key: the body an attempt asked again must repeat exactly. */
export async function debitAttemptByKey(db: Pick<Db, 'select'>, idempotencyKey: string) {
  const [row] = await db.select().from(debitAttempts).where(eq(debitAttempts.idempotencyKey, idempotencyKey));
  return row ?? null;
}
