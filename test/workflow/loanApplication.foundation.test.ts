import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import type { DbHandle } from '../../src/db/client';
import { loanEvents } from '../../src/db/schema';
import { createActivities } from '../../src/activities';
import { loanApplication, loanApplicationWorkflowId, withdrawSignal } from '../../src/workflows/loanApplication';
import { createTestDb } from '../helpers/db';
import { timeSkippingEnv, workflowBundle } from '../helpers/temporal';

describe('loanApplication on the time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  let h: DbHandle;
  beforeAll(async () => {
    [env, h] = await Promise.all([timeSkippingEnv(), createTestDb()]);
  });
  afterAll(async () => {
    await env?.teardown();
    await h?.close();
  });

  it('records intake and ends withdrawn when the applicant withdraws', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'car-loans-test',
      workflowBundle: await workflowBundle(),
      activities: createActivities({ db: h.db }),
    });
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(loanApplication, {
        taskQueue: 'car-loans-test',
        workflowId: loanApplicationWorkflowId('app-wf-1'),
        args: [{ applicationId: 'app-wf-1', channel: 'branch', branchId: 'BJ-001', amountFen: 15_000_000, termMonths: 36, submittedBy: 'officer-1' }],
      });
      await handle.signal(withdrawSignal, { actor: 'officer-1' });
      return handle.result();
    });
    expect(result).toEqual({ stage: 'withdrawn' });
    const events = await h.db.select().from(loanEvents).where(eq(loanEvents.applicationId, 'app-wf-1'));
    expect(events.map((e) => e.stage)).toEqual(['intake']);
  });
});
