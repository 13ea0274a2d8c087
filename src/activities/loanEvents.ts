import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { writeLoanEvent, type LoanEventEntry } from '../db/loanEvents';
import { applications } from '../db/schema';

/** What the workflow records; never personal data (ids, stages, figures and reason codes only). */
export interface LoanEventInput {
  /** Idempotency: the same key twice is one row (activities are retried). */
  eventKey: string;
  applicationId: string;
  /** A kind of src/contracts/loanEvents.ts (the application workflow still names its acts by message name). */
  kind: string;
  actor: string;
  stage?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

export interface StageMirror {
  applicationId: string;
  stage: string;
  pendingTask: string | null;
  riskGrade?: string | null | undefined;
  loanId?: string | null | undefined;
}

export function createLoanEventActivities(db: Db) {
  return {
    /** Appends one audit event; a retry with the same key is a no-op. */
    async recordLoanEvent(e: LoanEventInput): Promise<void> {
      await writeLoanEvent(db, { ...e, kind: e.kind as LoanEventEntry['kind'] });
    },

    /** Mirrors the workflow's stage into the applications row for the API's work queues. */
    async mirrorStage(m: StageMirror): Promise<void> {
      await db
        .update(applications)
        .set({
          stage: m.stage,
          pendingTask: m.pendingTask,
          ...(m.riskGrade !== undefined ? { riskGrade: m.riskGrade } : {}),
          ...(m.loanId !== undefined ? { loanId: m.loanId } : {}),
          updatedAt: new Date(),
        })
        .where(eq(applications.id, m.applicationId));
    },
  };
}
