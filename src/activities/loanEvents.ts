import { eq, sql } from 'drizzle-orm';
import { writeTogether, type Db } from '../db/client';
import { loanEventInsert, writeLoanEvent, type LoanEventEntry } from '../db/loanEvents';
import { claimMirrorWrite } from '../db/openApplications';
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

/** The pending task's clock and approval progress (ISO timestamps, workflow time). */
export interface TaskMirror {
  since: string;
  slaAt: string | null;
  deadline: string;
  escalated: boolean;
  approvalsNeeded: number | null;
  approvedBy: string[];
}

export interface StageMirror {
  applicationId: string;
  stage: string;
  pendingTask: string | null;
  riskGrade?: string | null | undefined;
  loanId?: string | null | undefined;
  /** Absent from runs started before the workflow mirrored it (their columns stay empty). */
  task?: TaskMirror | null | undefined;
  /** The loan_events rows this state change records, written in the same statement (runs on the lean path). */
  events?: LoanEventInput[] | undefined;
}

function taskColumns(task: TaskMirror | null) {
  return {
    pendingSince: task ? new Date(task.since) : null,
    slaAt: task?.slaAt ? new Date(task.slaAt) : null,
    deadlineAt: task ? new Date(task.deadline) : null,
    escalated: task?.escalated ?? false,
    approvalsNeeded: task?.approvalsNeeded ?? null,
    approvedBy: task?.approvedBy ?? [],
  };
}

export function createLoanEventActivities(db: Db) {
  return {
    /** Appends one audit event; a retry with the same key is a no-op. */
    async recordLoanEvent(e: LoanEventInput): Promise<void> {
      await writeLoanEvent(db, { ...e, kind: e.kind as LoanEventEntry['kind'] });
    },

    /**
     * Mirrors the workflow's stage into the applications row for the API's work queues. The
     * workflow runs, so it is no orphan: its duplicate-screen claim is confirmed while it is in
     * origination and released once it leaves (src/db/openApplications.ts). The audit events of
     * the change, if any, go in with it: one statement, so the trail and the row never disagree;
     * a retry inserts no event twice (their keys) and sets the row to the same state.
     */
    async mirrorStage(m: StageMirror): Promise<void> {
      await writeTogether(db, [
        db
          .update(applications)
          .set({
            stage: m.stage,
            pendingTask: m.pendingTask,
            ...(m.riskGrade !== undefined ? { riskGrade: m.riskGrade } : {}),
            ...(m.loanId !== undefined ? { loanId: m.loanId } : {}),
            ...(m.task !== undefined ? taskColumns(m.task) : {}),
            updatedAt: new Date(),
            workflowStartedAt: sql`coalesce(${applications.workflowStartedAt}, now())`,
          })
          .where(eq(applications.id, m.applicationId)),
        claimMirrorWrite(db, m.applicationId, m.stage),
        ...(m.events?.length ? [loanEventInsert(db, m.events.map((e) => ({ ...e, kind: e.kind as LoanEventEntry['kind'] })))] : []),
      ]);
    },
  };
}
