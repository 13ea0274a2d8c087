import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { loanEvents } from '../db/schema';

/**
 * The API's entries in the append-only audit trail: who did what, when, with the state before and
 * after. Never personal data: ids, stages, codes, figures and the free text staff typed (notes,
 * comments, reasons, which belong to the act and stay out of the workflow).
 */
export interface AuditEntry {
  /** Stable for a retried request (derived from the act id), so a retry does not double the trail. */
  eventKey?: string;
  applicationId: string | null;
  kind: string;
  actor: string;
  stage?: string | null;
  data?: Record<string, unknown>;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

type Tx = Pick<Db, 'insert'>;

/** The audit row's insert, unawaited: to run alone (`audit`) or with other writes (`writeTogether`). */
export function auditInsert(db: Tx, e: AuditEntry) {
  return db
    .insert(loanEvents)
    .values({
      eventKey: e.eventKey ?? `api:${e.kind}:${randomUUID()}`,
      applicationId: e.applicationId,
      kind: e.kind,
      actor: e.actor,
      stage: e.stage ?? null,
      data: e.data ?? {},
      before: e.before ?? null,
      after: e.after ?? null,
    })
    .onConflictDoNothing({ target: loanEvents.eventKey });
}

export async function audit(db: Tx, e: AuditEntry): Promise<void> {
  await auditInsert(db, e);
}
