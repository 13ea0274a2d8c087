import { randomUUID } from 'node:crypto';
import type { LoanEventKind, WorkflowActEventName } from '../contracts/loanEvents';
import type { Db } from './client';
import { loanEvents } from './schema';

/**
 * The one writer of `loan_events`, the append-only audit trail: the API's audit entries and the
 * workflows' recordLoanEvent activity both go through it. Never personal data: ids, stages, codes,
 * figures and the free text staff typed (notes, comments, reasons). An entry is idempotent by its
 * key: a retried request or activity writes nothing twice.
 */
export interface LoanEventEntry {
  /** Stable for a retry (derived from the act id or the workflow id and step); a random one otherwise. */
  eventKey?: string | undefined;
  applicationId: string | null;
  /** One of LOAN_EVENT_KINDS (workflow runs already open may still send an act's message name). */
  kind: LoanEventKind | WorkflowActEventName;
  actor: string;
  stage?: string | null | undefined;
  data?: Record<string, unknown> | undefined;
  before?: Record<string, unknown> | null | undefined;
  after?: Record<string, unknown> | null | undefined;
}

type Tx = Pick<Db, 'insert'>;

/** The entries' insert, unawaited: to run alone (`writeLoanEvent`) or with other writes in one statement. Rows are numbered in the order given. */
export function loanEventInsert(db: Tx, entries: LoanEventEntry | readonly LoanEventEntry[]) {
  const rows = (Array.isArray(entries) ? entries : [entries]) as readonly LoanEventEntry[];
  return db
    .insert(loanEvents)
    .values(
      rows.map((e) => ({
        eventKey: e.eventKey ?? `${e.kind}:${randomUUID()}`,
        applicationId: e.applicationId,
        kind: e.kind,
        actor: e.actor,
        stage: e.stage ?? null,
        data: e.data ?? {},
        before: e.before ?? null,
        after: e.after ?? null,
      })),
    )
    .onConflictDoNothing({ target: loanEvents.eventKey });
}

export async function writeLoanEvent(db: Tx, e: LoanEventEntry): Promise<void> {
  await loanEventInsert(db, e);
}
