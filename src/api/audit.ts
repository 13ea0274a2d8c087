import { randomUUID } from 'node:crypto';
import type { LoanEventKind } from '../contracts/loanEvents';
import { loanEventInsert, type LoanEventEntry } from '../db/loanEvents';

/**
 * The API's entries in the append-only audit trail (written by src/db/loanEvents.ts): who did what,
 * when, with the state before and after. Never personal data: ids, stages, codes, figures and the
 * free text staff typed (notes, comments, reasons, which belong to the act and stay out of the workflow).
 */
export interface AuditEntry extends Omit<LoanEventEntry, 'kind'> {
  kind: LoanEventKind;
}

type Tx = Parameters<typeof loanEventInsert>[0];

/** The audit row's insert, unawaited: to run alone (`audit`) or with other writes (`writeTogether`). */
export function auditInsert(db: Tx, e: AuditEntry) {
  return loanEventInsert(db, { ...e, eventKey: e.eventKey ?? `api:${e.kind}:${randomUUID()}` });
}

export async function audit(db: Tx, e: AuditEntry): Promise<void> {
  await auditInsert(db, e);
}
