import { eq, inArray } from 'drizzle-orm';
import { applicants, applications, openApplications } from '../../src/db/schema';
import { loanApplicationWorkflowId } from '../../src/workflows/messages';
import type { ReconcileApplicationsResult } from '../../src/workflows/applicationReconciler';
import { keepHistory } from '../helpers/histories';
import { useLoanWorld, waitForTask, type LoanHandle, type LoanWorld } from '../helpers/loanWorld';

// The reconciler workflow with its real activity, on the time-skipping server and a real
// database: applications stored as the API stores them but never started (their API died after
// the commit) are each given their workflow, page by page across continue-as-new, exactly once.

let w: LoanWorld;
useLoanWorld(({ w: world }) => (w = world));

describe('the reconciler of orphaned applications', () => {
  it('starts every orphan once, page by page across runs, and a second sweep finds nothing', async () => {
    const orphans = [await w.seed(), await w.seed({ vehicle: { condition: 'used' } }), await w.seed({ channel: 'dealer', dealerId: 'D-100' })];
    // The API had claimed each applicant before it died.
    for (const o of orphans) {
      const [a] = await w.h.db.select({ hash: applicants.idNumberHash }).from(applicants).where(eq(applicants.id, o.applicantId));
      await w.h.db.insert(openApplications).values({ idNumberHash: a!.hash, applicationId: o.applicationId });
    }

    const first = await w.env.client.workflow.start('reconcileApplications', {
      workflowId: 'reconciler-test-1',
      taskQueue: w.taskQueue,
      args: [{ olderThanMs: 0, pageSize: 1, pagesPerRun: 2 }],
    });
    const totals = await w.result<ReconcileApplicationsResult>(first);
    // Three pages of one, and the page that found the end; two runs (continue-as-new after two pages).
    expect(totals).toEqual({ found: 3, started: 3, closed: 0, incomplete: 0, pages: 4, runs: 2 });
    await keepHistory(w.env.client.workflow.getHandle('reconciler-test-1'), 'reconciler-three-orphans');

    // Each has its workflow, seen and with its applicant's claim confirmed, and it runs as the API's would.
    const rows = await w.h.db.select().from(applications).where(inArray(applications.id, orphans.map((o) => o.applicationId)));
    expect(rows.map((r) => r.workflowStartedAt).filter((t) => t === null)).toEqual([]);
    const claims = await w.h.db.select().from(openApplications).where(inArray(openApplications.applicationId, orphans.map((o) => o.applicationId)));
    expect(claims.map((c) => c.workflowSeenAt).filter((t) => t === null)).toEqual([]);
    const handles = orphans.map((o) => w.env.client.workflow.getHandle(loanApplicationWorkflowId(o.applicationId)) as LoanHandle);
    try {
      for (const h of handles) await waitForTask(h, 'phone_verification');
      const runIds = await Promise.all(handles.map(async (h) => (await h.describe()).runId));

      const second = await w.env.client.workflow.start('reconcileApplications', { workflowId: 'reconciler-test-2', taskQueue: w.taskQueue, args: [{ olderThanMs: 0 }] });
      expect(await w.result<ReconcileApplicationsResult>(second)).toEqual({ found: 0, started: 0, closed: 0, incomplete: 0, pages: 1, runs: 1 });
      expect(await Promise.all(handles.map(async (h) => (await h.describe()).runId))).toEqual(runIds);
    } finally {
      for (const h of handles) await h.terminate('test finished').catch(() => undefined);
    }
  });

  it('leaves applications younger than the orphan age alone: their create may still start them', async () => {
    const young = await w.seed();
    const run = await w.env.client.workflow.start('reconcileApplications', { workflowId: 'reconciler-test-3', taskQueue: w.taskQueue, args: [{ olderThanMs: 3_600_000 }] });
    expect((await w.result<ReconcileApplicationsResult>(run)).found).toBe(0);
    const [row] = await w.h.db.select().from(applications).where(eq(applications.id, young.applicationId));
    expect(row!.workflowStartedAt).toBeNull();
  });
});
