/**
 * The reconciler, started every RECONCILE_EVERY_MS by the `application-reconciler` Schedule
 * (src/temporal/schedules.ts): every application committed more than ORPHAN_AFTER_MS ago whose
 * workflow nobody has seen gets it now, so whatever dies between the API's commit and its start
 * (the API process, a Temporal that did not answer), no application is left at intake for good.
 * Each page is one activity that starts the orphans by their workflow id (idempotent, the API's own
 * start); the run shows its progress in the Temporal UI (current details, activity summaries) and
 * continues as new after `pagesPerRun` pages so its history stays small.
 */
import { continueAsNew, log, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { createReconcilerActivities, OrphanCounts, OrphanCursor } from '../activities/reconciler';

export interface ReconcileApplicationsInput {
  /** Applications younger than this are still being created (default 30 s, ORPHAN_AFTER_MS). */
  olderThanMs?: number | undefined;
  /** Applications per page (one activity); default 100. */
  pageSize?: number | undefined;
  /** Pages per run before continuing as new; default 20. */
  pagesPerRun?: number | undefined;
  /** Carried across continue-as-new. */
  cursor?: OrphanCursor | null | undefined;
  totals?: ReconcileApplicationsResult | undefined;
}

export interface ReconcileApplicationsResult extends OrphanCounts {
  pages: number;
  runs: number;
}

const { startOrphanedApplications } = proxyActivities<ReturnType<typeof createReconcilerActivities>>({
  // A page is up to a hundred starts of a few milliseconds each (ten seconds at most each).
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
});

function details(t: ReconcileApplicationsResult, olderThanMs: number, done: boolean): string {
  return [
    `**Orphaned applications** (committed more than ${Math.round(olderThanMs / 1000)} s ago, no workflow seen)${done ? ' · **done**' : ''}`,
    `**Found** ${t.found} · **workflow started or found running** ${t.started} · **already finished** ${t.closed} · **incomplete rows** ${t.incomplete}`,
    `**Pages** ${t.pages} · **runs** ${t.runs}`,
  ].join('\n');
}

export async function reconcileApplications(input: ReconcileApplicationsInput = {}): Promise<ReconcileApplicationsResult> {
  const olderThanMs = Math.max(0, input.olderThanMs ?? 30_000);
  const pageSize = Math.min(Math.max(1, input.pageSize ?? 100), 1_000);
  const pagesPerRun = Math.min(Math.max(1, input.pagesPerRun ?? 20), 100);
  const totals: ReconcileApplicationsResult = input.totals ?? { found: 0, started: 0, closed: 0, incomplete: 0, pages: 0, runs: 0 };
  totals.runs += 1;
  let cursor = input.cursor ?? null;
  setCurrentDetails(details(totals, olderThanMs, false));

  for (let page = 0; ; page++) {
    const r = await startOrphanedApplications.executeWithOptions({ summary: `start the workflow of each orphaned application, page ${totals.pages + 1}` }, [
      { olderThanMs, after: cursor, pageSize },
    ]);
    totals.found += r.found;
    totals.started += r.started;
    totals.closed += r.closed;
    totals.incomplete += r.incomplete;
    totals.pages += 1;
    if (r.applicationIds.length > 0) log.info('orphaned applications given their workflow', { applicationIds: r.applicationIds });
    const done = r.nextCursor === null;
    setCurrentDetails(details(totals, olderThanMs, done));
    if (done) return totals;
    cursor = r.nextCursor;
    if (page + 1 >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof reconcileApplications>({ olderThanMs, pageSize, pagesPerRun, cursor, totals });
    }
  }
}
