import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { recordWorkflowSeen } from '../db/openApplications';
import { applications, vehicles } from '../db/schema';
import { startLoanApplication } from '../temporal/startLoanApplication';
import { loanApplicationInput } from '../contracts/applicationInput';
import { FailureType } from '../contracts/failures';

/** Where the reconciler's paging stands: created_at as PostgreSQL prints it, and the id. */
export interface OrphanCursor {
  createdAt: string;
  id: string;
}

export interface OrphanPageInput {
  /** Only applications committed longer ago than this (ORPHAN_AFTER_MS): younger ones are still being created. */
  olderThanMs: number;
  after: OrphanCursor | null;
  pageSize: number;
}

export interface OrphanCounts {
  /** Applications found with no workflow seen. */
  found: number;
  /** Whose workflow now runs (started here, or found running). */
  started: number;
  /** Whose workflow had already finished (a lost record, not a lost workflow). */
  closed: number;
  /** Without a vehicle row, which the API writes in the same statement: left for an engineer. */
  incomplete: number;
}

export interface OrphanPageResult extends OrphanCounts {
  nextCursor: OrphanCursor | null;
  /** Application ids whose workflow was started or found on this page (ids, no personal data). */
  applicationIds: string[];
}

export interface ReconcilerDeps {
  db: Db;
  /** The worker's own Temporal client (with the payload codec) and its task queue. */
  temporal?: { client: Client; taskQueue: string } | undefined;
}

/** Deadline of each start: the activity retries as a whole if Temporal does not answer. */
const START_TIMEOUT_MS = 10_000;

export function createReconcilerActivities(deps: ReconcilerDeps) {
  const { db } = deps;
  return {
    /**
     * One page of orphans: applications committed more than `olderThanMs` ago that no process has
     * seen a workflow of (their API died between the commit and the start, or Temporal did not
     * answer it). Each is started by its workflow id, idempotently, with the same input the API
     * gives (loanApplicationInput), then recorded as seen; running this twice starts nothing twice.
     */
    async startOrphanedApplications(input: OrphanPageInput): Promise<OrphanPageResult> {
      const temporal = deps.temporal;
      if (!temporal) {
        throw ApplicationFailure.nonRetryable('this worker was built without a Temporal client: it cannot start workflows', FailureType.ReconcilerNotConfigured);
      }
      const pageSize = Math.min(Math.max(1, input.pageSize), 1_000);
      const conditions = [isNull(applications.workflowStartedAt), lt(applications.createdAt, sql`now() - make_interval(secs => ${input.olderThanMs / 1000})`)];
      if (input.after) conditions.push(sql`(${applications.createdAt}, ${applications.id}) > (${input.after.createdAt}::timestamptz, ${input.after.id})`);
      const rows = await db
        .select({ a: applications, v: vehicles, createdAtText: sql<string>`${applications.createdAt}::text` })
        .from(applications)
        .leftJoin(vehicles, eq(vehicles.applicationId, applications.id))
        .where(and(...conditions))
        .orderBy(asc(applications.createdAt), asc(applications.id))
        .limit(pageSize);

      const result: OrphanPageResult = { found: rows.length, started: 0, closed: 0, incomplete: 0, nextCursor: null, applicationIds: [] };
      for (const { a, v } of rows) {
        if (!v) {
          result.incomplete++;
          log.error('orphaned application without a vehicle row: not started', { applicationId: a.id });
          continue;
        }
        const outcome = await startLoanApplication(temporal.client, loanApplicationInput({ ...a, vehicle: v }, a.createdAt.getTime()), {
          taskQueue: temporal.taskQueue,
          timeoutMs: START_TIMEOUT_MS,
        });
        await recordWorkflowSeen(db, a.id);
        result[outcome === 'running' ? 'started' : 'closed']++;
        result.applicationIds.push(a.id);
        log.info('orphaned application given its workflow', { applicationId: a.id, outcome });
      }
      const last = rows[rows.length - 1];
      if (rows.length === pageSize && last) result.nextCursor = { createdAt: last.createdAtText, id: last.a.id };
      return result;
    },
  };
}
