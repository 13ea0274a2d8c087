import net from 'node:net';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { eq, inArray } from 'drizzle-orm';
import { createApp } from '../../../src/api/app';
import { listen, type ApiServer } from '../../../src/api/lifecycle';
import { applicants, applications, blacklist, loanEvents, openApplications } from '../../../src/db/schema';
import { createLogger } from '../../../src/logger';
import { ensureReconcilerSchedule } from '../../../src/temporal/schedules';
import { loanApplicationWorkflowId, type StaffRole } from '../../../src/workflows/messages';
import { applicationBody, freshIdNumber, sleep, startApiHarness, waitForTask, type ApiHarness } from './harness';
import request from 'supertest';

// The intake screen's verdict at create (issue 22 item 4) and no orphan applications (issue 15
// findings 2 and 5), against a real dev server, a real worker and a real database: a duplicate is
// 409 naming the open application, a blacklisted applicant is stored and rejected; a Temporal that
// does not answer is a 503 with Retry-After, the application still gets its workflow (from a retry
// with the same key, or from the reconciler's Schedule), and an orphan never blocks its applicant
// nor becomes a second open application.

/** A Temporal that accepts connections and never answers (a frozen frontend, deterministically). */
async function blackHole(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

// The start deadline of the API whose Temporal never answers: 5 s, and an orphan after 15 s (the
// configuration's rule: at least the deadline plus 10 s).
const START_TIMEOUT_MS = 5_000;
const ORPHAN_AFTER_MS = 15_000;

let h: ApiHarness;
let hole: Awaited<ReturnType<typeof blackHole>>;
let stuck: { server: ApiServer; http: ReturnType<typeof request>; connection: Connection };

beforeAll(async () => {
  h = await startApiHarness({ env: { ORPHAN_AFTER_MS: String(ORPHAN_AFTER_MS), APPLICATION_START_TIMEOUT_MS: String(START_TIMEOUT_MS) } });
  hole = await blackHole();
  // A second API on the same database whose Temporal never answers.
  const connection = Connection.lazy({ address: hole.address });
  const app = createApp({
    db: h.db,
    temporal: new Client({ connection }),
    taskQueue: h.config.TEMPORAL_TASK_QUEUE,
    config: h.config,
    cipher: h.cipher,
    log: createLogger('silent'),
  });
  const server = await listen(app, 0, '127.0.0.1');
  stuck = { server, http: request(`http://127.0.0.1:${server.port}`), connection };
});
afterAll(async () => {
  await stuck?.server.close(1_000);
  await stuck?.connection.close().catch(() => undefined);
  await hole?.close();
  await h?.stop();
});

const auth = async (sub: string, role: StaffRole = 'officer') => `Bearer ${await h.token(sub, role)}`;

function post(http: ReturnType<typeof request>, body: object, key: string, officer = 'officer-screen') {
  return (async () => http.post('/applications').set('Authorization', await auth(officer)).set('Idempotency-Key', key).send(body))();
}

async function rowsOf(idNumber: string) {
  const hash = h.cipher.lookupHash('id_number', idNumber);
  return h.db.db
    .select({ id: applications.id, stage: applications.stage, startedAt: applications.workflowStartedAt })
    .from(applications)
    .innerJoin(applicants, eq(applicants.id, applications.applicantId))
    .where(eq(applicants.idNumberHash, hash));
}

async function workflowExists(applicationId: string): Promise<boolean> {
  try {
    await h.env.client.workflow.getHandle(loanApplicationWorkflowId(applicationId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

describe('the intake screen answers at create', () => {
  it('a second application of a person with an open one is 409 naming it; nothing of it is stored, the refusal is audited', async () => {
    const idNumber = freshIdNumber();
    const first = await post(h.http, applicationBody({ idNumber }), `dup-a-${idNumber}`);
    expect(first.status).toBe(201);
    expect(first.body.stage).toBe('intake');
    const second = await post(h.http, applicationBody({ idNumber }), `dup-b-${idNumber}`, 'officer-other');
    expect(second.status).toBe(409);
    expect(second.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(second.body).toMatchObject({ code: 'DUPLICATE_APPLICATION', openApplicationId: first.body.id, status: 409 });
    expect(second.body.type).toMatch(/duplicate-application$/);
    expect((await rowsOf(idNumber)).map((r) => r.id)).toEqual([first.body.id]);
    const refused = await h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, first.body.id));
    expect(refused.filter((e) => e.kind === 'application_refused')).toEqual([expect.objectContaining({ actor: 'officer-other', data: expect.objectContaining({ code: 'DUPLICATE_APPLICATION' }) })]);
    // The first carries on.
    await waitForTask(h, first.body.id, 'phone_verification');
  });

  it('two submissions of one person at once: one is created, the other is 409 naming it', async () => {
    const idNumber = freshIdNumber();
    const answers = await Promise.all([1, 2, 3].map((i) => post(h.http, applicationBody({ idNumber }), `race-${i}-${idNumber}`, `officer-race-${i}`)));
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    const winner = created[0]!.body.id as string;
    for (const a of answers.filter((x) => x.status !== 201)) expect(a.body).toMatchObject({ status: 409, openApplicationId: winner });
    expect((await rowsOf(idNumber)).map((r) => r.id)).toEqual([winner]);
  });

  it('a blacklisted applicant is stored and rejected, and the answer says so', async () => {
    const idNumber = freshIdNumber();
    await h.db.db.insert(blacklist).values({ idNumberHash: h.cipher.lookupHash('id_number', idNumber), reasonCode: 'FRAUD_SUSPECTED', listedBy: 'risk-1' });
    const res = await post(h.http, applicationBody({ idNumber }), `black-${idNumber}`);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ stage: 'rejected', outcomeReason: 'BLACKLISTED' });
    // The workflow's own screen, the authority, says the same.
    const result = await h.env.client.workflow.getHandle(res.body.workflowId).result();
    expect(result).toEqual({ stage: 'rejected', outcomeReason: 'BLACKLISTED', loanId: null });
    // A blacklisted applicant holds no claim: nothing blocks a later decision on them.
    expect(await h.db.db.select().from(openApplications).where(eq(openApplications.applicationId, res.body.id))).toEqual([]);
  });
});

describe('no orphan applications', () => {
  it('a Temporal that does not answer is 503 with Retry-After; a retry with the same key gives the same application its workflow', async () => {
    const idNumber = freshIdNumber();
    const body = applicationBody({ idNumber });
    const key = `retry-${idNumber}`;
    const refused = await post(stuck.http, body, key);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    const [orphan] = await rowsOf(idNumber);
    expect(orphan).toMatchObject({ stage: 'intake', startedAt: null });
    expect(await workflowExists(orphan!.id)).toBe(false);

    const retried = await post(h.http, body, key);
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(orphan!.id);
    expect((await rowsOf(idNumber))[0]!.startedAt).not.toBeNull();
    await waitForTask(h, orphan!.id, 'phone_verification');
  });

  it('an orphan counts while its start may still run, never after; revived by the reconciler it is rejected, never a second open application', async () => {
    const idNumber = freshIdNumber();
    const refused = await post(stuck.http, applicationBody({ idNumber }), `orphan-${idNumber}`);
    expect(refused.status).toBe(503);
    const [orphan] = await rowsOf(idNumber);
    const orphanId = orphan!.id;

    // Within ORPHAN_AFTER_MS its start may still be on the way: it is the person's open application.
    const early = await post(h.http, applicationBody({ idNumber }), `early-${idNumber}`);
    expect(early.status).toBe(409);
    expect(early.body.openApplicationId).toBe(orphanId);

    // After it, nobody has seen its workflow: the person may be submitted again.
    const [claim] = await h.db.db.select().from(openApplications).where(eq(openApplications.applicationId, orphanId));
    await sleep(Math.max(0, claim!.claimedAt.getTime() + ORPHAN_AFTER_MS + 1_000 - Date.now()));
    const again = await post(h.http, applicationBody({ idNumber }), `again-${idNumber}`);
    expect(again.status).toBe(201);
    const newer = again.body.id as string;
    expect(await workflowExists(orphanId)).toBe(false);

    // The reconciler's Schedule gives the orphan its workflow, whose own screen rejects it.
    const scheduleId = `reconciler-test-${idNumber}`;
    await ensureReconcilerSchedule(h.env.client, { scheduleId, taskQueue: h.config.TEMPORAL_TASK_QUEUE, everyMs: 5_000, orphanAfterMs: ORPHAN_AFTER_MS });
    try {
      const result = await waitFor('the orphan to get its workflow', async () => (await workflowExists(orphanId)) && true);
      expect(result).toBe(true);
      expect(await h.env.client.workflow.getHandle(loanApplicationWorkflowId(orphanId)).result()).toEqual({
        stage: 'rejected',
        outcomeReason: 'DUPLICATE_APPLICATION',
        loanId: null,
      });
      // The newer one is the open one, and carries on.
      await waitForTask(h, newer, 'phone_verification');
      const rows = await rowsOf(idNumber);
      expect(rows.find((r) => r.id === orphanId)?.stage).toBe('rejected');
      expect(rows.filter((r) => r.stage !== 'rejected').map((r) => r.id)).toEqual([newer]);
      // No application of this person is left without a workflow.
      for (const r of rows) expect({ id: r.id, exists: await workflowExists(r.id) }).toEqual({ id: r.id, exists: true });

      // The run shows in the Temporal UI what it did: the Schedule's summary, the run's details.
      const runs = await waitFor('a finished reconciler run that started something', async () => {
        const found = [];
        for await (const w of h.env.client.workflow.list({ query: `WorkflowType = "reconcileApplications" AND ExecutionStatus = "Completed"` })) found.push(w);
        for (const w of found) {
          const r = (await h.env.client.workflow.getHandle(w.workflowId, w.runId).result()) as { started: number };
          if (r.started > 0) return w;
        }
        return undefined;
      });
      const run = h.env.client.workflow.getHandle(runs.workflowId, runs.runId);
      expect(await (await run.describe()).staticSummary()).toMatch(/^Start the workflow of every application committed more than 15 s ago/);
      const metadata = await run.query<{ currentDetails: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toMatch(/\*\*workflow started or found running\*\* [1-9]/);
    } finally {
      await h.env.client.schedule.getHandle(scheduleId).delete();
    }
  });

  it('every application of this file has its workflow', async () => {
    const all = await h.db.db.select({ id: applications.id }).from(applications);
    expect(all.length).toBeGreaterThan(5);
    const missing = [];
    for (const { id } of all) if (!(await workflowExists(id))) missing.push(id);
    expect(missing).toEqual([]);
    const unstarted = await h.db.db.select({ id: applications.id, startedAt: applications.workflowStartedAt }).from(applications).where(inArray(applications.id, all.map((a) => a.id)));
    expect(unstarted.filter((r) => r.startedAt === null)).toEqual([]);
  });
});
