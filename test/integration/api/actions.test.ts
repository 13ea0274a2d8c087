import { and, eq } from 'drizzle-orm';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import { createApp } from '../../../src/api/app';
import { canonicalJson, sha256Hex } from '../../../src/api/idempotency';
import { LoanWorkflows } from '../../../src/api/loanWorkflows';
import { applicants, applications, documents, idempotencyKeys, loanEvents, loans } from '../../../src/db/schema';
import { createLogger } from '../../../src/logger';
import { signEsignPayload } from '../../../src/sandbox/esign-signature';
import type { StaffRole } from '../../../src/workflows/messages';
import { createActivities } from '../../../src/activities';
import { activityDepsFromConfig } from '../../../src/worker';
import { workflowBundle } from '../../helpers/temporal';
import { waitFor } from '../../helpers/wait';
import { applicationBody, documentsFor, sleep, startApiHarness, waitForState, waitForTask, type ApiHarness, type ApplicationOverrides, type StateBody } from './harness';

// Every action against the real workflow on a real Temporal dev server: what is accepted, what is
// refused and why (the workflow's own validator answers through its update), idempotent retries,
// four eyes under concurrency, the e-signature webhook, personal data masking and the audit trail.

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(() => h?.stop());

const PROBLEM = /^application\/problem\+json/;
const auth = async (sub: string, ...roles: StaffRole[]) => `Bearer ${await h.token(sub, ...roles)}`;

async function create(o: ApplicationOverrides = {}, officer = 'officer-1', roles: StaffRole[] = ['officer']) {
  const body = applicationBody(o);
  const res = await h.http.post('/applications').set('Authorization', await auth(officer, ...roles)).send(body);
  expect(res.status).toBe(201);
  return { id: res.body.id as string, body };
}

function act(id: string, action: string, sub: string, role: StaffRole, body: object = {}, key?: string) {
  return (async () => {
    const req = h.http.post(`/applications/${id}/${action}`).set('Authorization', await auth(sub, role));
    if (key) req.set('Idempotency-Key', key);
    return req.send(body);
  })();
}

const PASSED = { outcome: 'passed', recordingRef: 'rec-1', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

/** Submission to the approvers' queue, through the API. */
async function toApproval(o: ApplicationOverrides = {}, officer = 'officer-1', roles: StaffRole[] = ['officer']) {
  const { id, body } = await create(o, officer, roles);
  await waitForTask(h, id, 'phone_verification');
  const res = await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED);
  expect([200, 202]).toContain(res.status);
  await waitForTask(h, id, 'approval');
  return { id, body };
}

async function eventsOf(id: string) {
  return h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, id)).orderBy(loanEvents.seq);
}

/** The API's audit of each request; the workflow records each act under the same kind as it applies it. */
async function auditOf(id: string) {
  return (await eventsOf(id)).filter((e) => e.eventKey.startsWith('api:'));
}

/** What the workflow recorded of the acts it applied. */
async function appliedOf(id: string) {
  return (await eventsOf(id)).filter((e) => e.eventKey.startsWith(`loan-application-${id}:act:`));
}

describe('POST /applications', () => {
  it('stores the application encrypted, audits it without personal data, starts the workflow and answers 201 with Location', async () => {
    const body = applicationBody();
    const res = await h.http.post('/applications').set('Authorization', await auth('officer-1', 'officer')).send(body);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/applications/${res.body.id}`);
    expect(res.body).toEqual({ id: expect.any(String), workflowId: `loan-application-${res.body.id}`, stage: 'intake', flags: [] });

    const [row] = await h.db.db.select().from(applications).where(eq(applications.id, res.body.id));
    expect(row).toMatchObject({ submittedBy: 'officer-1', amountFen: 15_000_000, termMonths: 36, channel: 'branch' });
    const [applicant] = await h.db.db.select().from(applicants).where(eq(applicants.id, row!.applicantId));
    const stored = JSON.stringify(applicant);
    for (const pii of [body.applicant.idNumber, body.applicant.phone, body.applicant.name]) expect(stored).not.toContain(pii);
    expect(h.cipher.decrypt(applicant!.idNumberEnc)).toBe(body.applicant.idNumber);
    expect(await h.db.db.select().from(documents).where(eq(documents.applicationId, res.body.id))).toHaveLength(4);

    const [created] = (await eventsOf(res.body.id)).filter((e) => e.kind === 'application_created');
    expect(created).toMatchObject({ actor: 'officer-1', before: null, after: expect.objectContaining({ amountFen: 15_000_000, stage: 'intake' }) });
    const trail = JSON.stringify(await eventsOf(res.body.id));
    for (const pii of [body.applicant.idNumber, body.applicant.phone, body.applicant.name]) expect(trail).not.toContain(pii);

    const described = await h.env.client.workflow.getHandle(res.body.workflowId).describe();
    expect(described.type).toBe('loanApplication');
    expect(described.taskQueue).toBe('car-loans');
    // What an engineer reads in the Temporal UI: ids and figures, never the applicant.
    const summary = `${await described.staticSummary()} ${await described.staticDetails()}`;
    expect(summary).toContain(res.body.id);
    for (const pii of [body.applicant.idNumber, body.applicant.phone, body.applicant.name]) expect(summary).not.toContain(pii);
    // One run of it, and only one (visibility lags the start: wait until it lists the run at all).
    const runs = async () => (await h.env.client.workflow.count(`WorkflowId = "${res.body.workflowId}"`)).count;
    for (let i = 0; (await runs()) === 0; i++) {
      if (i > 240) throw new Error('visibility never listed the run');
      await sleep(250);
    }
    expect(await runs()).toBe(1);
  });

  it('the same Idempotency-Key and body return the same application; another body with it is refused', async () => {
    const token = await auth('officer-2', 'officer');
    const body = applicationBody();
    const first = await h.http.post('/applications').set('Authorization', token).set('Idempotency-Key', 'create-1').send(body);
    const again = await h.http.post('/applications').set('Authorization', token).set('Idempotency-Key', 'create-1').send(JSON.parse(JSON.stringify(body)));
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const rows = await h.db.db.select().from(applications).where(eq(applications.submittedBy, 'officer-2'));
    expect(rows).toHaveLength(1);
    // Starting by the same id again (what a retry after a crash does) reuses the running workflow.
    const handle = h.env.client.workflow.getHandle(first.body.workflowId);
    const runId = (await handle.describe()).runId;
    const row = rows[0]!;
    await new LoanWorkflows(h.env.client, { taskQueue: 'car-loans' }).start({
      applicationId: row.id,
      channel: 'branch',
      branchId: row.branchId,
      submittedBy: row.submittedBy,
      amountFen: row.amountFen,
      termMonths: row.termMonths,
      repaymentMethod: 'equal_installment',
      vehicle: { condition: 'new', energy: 'new_energy', usage: 'personal', priceFen: 30_000_000, year: 2025, mileageKm: 0 },
      submittedAtMs: Date.now(),
    });
    expect((await handle.describe()).runId).toBe(runId);

    const other = await h.http.post('/applications').set('Authorization', token).set('Idempotency-Key', 'create-1').send({ ...body, branchId: 'SH-002' });
    expect(other.status).toBe(422);
    expect(other.headers['content-type']).toMatch(PROBLEM);
    expect(other.body.type).toMatch(/idempotency-key-reused/);

    // The key belongs to its staff member: another officer's identical key is another request.
    const someoneElse = await h.http.post('/applications').set('Authorization', await auth('officer-3', 'officer')).set('Idempotency-Key', 'create-1').send(applicationBody());
    expect(someoneElse.status).toBe(201);
    expect(someoneElse.body.id).not.toBe(first.body.id);
  });

  it('concurrent repeats of one key create one application', async () => {
    const token = await auth('officer-4', 'officer');
    const body = applicationBody();
    const answers = await Promise.all([1, 2, 3, 4].map(() => h.http.post('/applications').set('Authorization', token).set('Idempotency-Key', 'burst-1').send(body)));
    for (const a of answers) expect([201, 409]).toContain(a.status);
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((a) => a.body.id)).size).toBe(1);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.type).toMatch(/idempotency-in-progress/);
    expect(await h.db.db.select().from(applications).where(eq(applications.submittedBy, 'officer-4'))).toHaveLength(1);
  });

  it('a repeat while the first request is still running is 409 with Retry-After', async () => {
    // The first request's claim on the key, as it stands while that request runs.
    await h.db.db.insert(idempotencyKeys).values({ scope: 'POST /applications officer-5', key: 'slow-1', requestHash: 'whatever', status: 'in_progress' });
    const res = await h.http.post('/applications').set('Authorization', await auth('officer-5', 'officer')).set('Idempotency-Key', 'slow-1').send(applicationBody());
    // Another body than the one in flight is refused as such; the same body would be told to wait.
    expect(res.status).toBe(422);
    const [claim] = await h.db.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, 'slow-1'));
    const body = applicationBody();
    await h.db.db.update(idempotencyKeys).set({ requestHash: sha256Hex(canonicalJson({ body })) }).where(eq(idempotencyKeys.key, claim!.key));
    const wait = await h.http.post('/applications').set('Authorization', await auth('officer-5', 'officer')).set('Idempotency-Key', 'slow-1').send(body);
    expect(wait.status).toBe(409);
    expect(wait.headers['retry-after']).toBeDefined();
    expect(wait.body.type).toMatch(/idempotency-in-progress/);
  });
});

describe('GET /applications/:id and the work queues', () => {
  it('masks personal data unless the role needs it, and audits every full read', async () => {
    const { id, body } = await create({ name: '欧阳娜娜' });
    await waitForTask(h, id, 'phone_verification');
    const asApprover = await h.http.get(`/applications/${id}`).set('Authorization', await auth('approver-1', 'approver'));
    expect(asApprover.status).toBe(200);
    expect(asApprover.body.applicant).toEqual({
      name: '欧**娜',
      idNumber: `${body.applicant.idNumber.slice(0, 6)}********${body.applicant.idNumber.slice(-4)}`,
      phone: `${body.applicant.phone.slice(0, 3)}****${body.applicant.phone.slice(-4)}`,
      monthlyIncomeFen: 3_000_000,
      masked: ['name', 'idNumber', 'phone'],
    });
    expect(asApprover.body).toMatchObject({ id, stage: 'phone_verification', live: true, pendingTask: { kind: 'phone_verification', role: 'verifier', since: expect.any(String), deadline: expect.any(String) } });
    expect((await eventsOf(id)).filter((e) => e.kind === 'pii_read')).toHaveLength(0);

    const asVerifier = await h.http.get(`/applications/${id}`).set('Authorization', await auth('verifier-7', 'verifier'));
    expect(asVerifier.body.applicant).toMatchObject({ name: '欧阳娜娜', phone: body.applicant.phone, masked: ['idNumber'] });
    expect(asVerifier.body.applicant.idNumber).not.toBe(body.applicant.idNumber);
    const reads = (await eventsOf(id)).filter((e) => e.kind === 'pii_read');
    expect(reads).toEqual([expect.objectContaining({ actor: 'verifier-7', data: expect.objectContaining({ fields: ['name', 'phone'] }) })]);
    expect(JSON.stringify(reads)).not.toContain(body.applicant.phone);
  });

  it('pages the queue by stage and pending task with an opaque cursor, oldest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create({ withDocuments: false }, 'officer-queue')).id);
    for (const id of ids) await waitForTask(h, id, 'submit_documents');
    const token = await auth('officer-queue', 'officer');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/applications?stage=document_check&pendingTask=submit_documents&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await h.http.get(url).set('Authorization', token);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const item of page.body.items) {
        expect(item).toMatchObject({ stage: 'document_check', pendingTask: 'submit_documents' });
        expect(JSON.stringify(item)).not.toMatch(/applicant|idNumber|phone/);
      }
      seen.push(...page.body.items.map((x: { id: string }) => x.id));
      cursor = page.body.nextCursor;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(expect.arrayContaining(ids));
    expect(new Set(seen).size).toBe(seen.length);
    const none = await h.http.get('/applications?stage=servicing&pendingTask=approval').set('Authorization', token);
    expect(none.body).toEqual({ items: [], total: 0, nextCursor: null });
  });
});

describe('actions the workflow is not waiting for', () => {
  type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<typeof h.env.client.workflow.getHandle>['fetchHistory']>>['events']>[number];
  /** The run's history once it is idle: no workflow task and no activity open (only timers wait). */
  async function idleHistory(workflowId: string): Promise<HistoryEvent[]> {
    for (let i = 0; ; i++) {
      const events = (await h.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const open = new Set<string>();
      for (const e of events) {
        if (e.activityTaskScheduledEventAttributes || e.workflowTaskScheduledEventAttributes) open.add(String(e.eventId));
        const closed =
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskTimedOutEventAttributes ??
          e.workflowTaskCompletedEventAttributes ??
          e.workflowTaskFailedEventAttributes ??
          e.workflowTaskTimedOutEventAttributes;
        if (closed) open.delete(String(closed.scheduledEventId));
      }
      if (open.size === 0) return events;
      if (i > 1_200) throw new Error(`${workflowId} never went idle`);
      await sleep(100);
    }
  }
  const updateEvents = (events: HistoryEvent[]) =>
    events.flatMap((e) => Object.keys(e).filter((k) => k.startsWith('workflowExecutionUpdate') && (e as Record<string, unknown>)[k]));

  it('a refused act leaves no event in the workflow history; an accepted one does', async () => {
    const { id } = await create();
    await waitForTask(h, id, 'phone_verification');
    const workflowId = `loan-application-${id}`;
    const before = await idleHistory(workflowId);
    expect(updateEvents(before)).toEqual([]);

    expect((await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' })).status).toBe(409);
    expect((await act(id, 'signature', 'officer-1', 'officer', {})).status).toBe(409);
    const unconfirmed = { ...PASSED, checklist: { ...PASSED.checklist, identityConfirmed: false } };
    expect((await act(id, 'phone-verification', 'verifier-1', 'verifier', unconfirmed)).status).toBe(422);
    const after = (await h.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    expect(after.length).toBe(before.length);
    expect(updateEvents(after)).toEqual([]);

    expect((await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED)).status).toBe(200);
    const accepted = updateEvents((await h.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []);
    expect(accepted).toEqual(['workflowExecutionUpdateAcceptedEventAttributes', 'workflowExecutionUpdateCompletedEventAttributes']);
  });

  it('are 409 with the current stage, and documents submitted then are not kept', async () => {
    const { id } = await create({ withDocuments: false });
    await waitForTask(h, id, 'submit_documents');
    const phone = await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED);
    expect(phone.status).toBe(409);
    expect(phone.headers['content-type']).toMatch(PROBLEM);
    expect(phone.body).toMatchObject({ status: 409, stage: 'document_check', code: 'NOT_WAITING', type: expect.stringContaining('not-waiting') });
    const decision = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' });
    expect(decision.body).toMatchObject({ status: 409, stage: 'document_check' });
    expect((await eventsOf(id)).filter((e) => e.kind === 'act_refused')).toHaveLength(2);

    // Now the documents it does wait for: accepted, and the workflow moves on.
    const docs = await act(id, 'documents', 'officer-1', 'officer', { documents: documentsFor('new') });
    expect([200, 202]).toContain(docs.status);
    expect(docs.body).toMatchObject({ id, live: true });
    const s = await waitForTask(h, id, 'phone_verification');
    expect(s.stage).toBe('phone_verification');

    // Too late for more documents: refused, and the rows it would have added are gone.
    const before = await h.db.db.select().from(documents).where(eq(documents.applicationId, id));
    const late = await act(id, 'documents', 'officer-1', 'officer', { documents: [{ type: 'bank_statement', uri: 's3://late/x.pdf', sha256: 'e'.repeat(64) }] });
    expect(late.status).toBe(409);
    expect(late.body.stage).toBe('phone_verification');
    expect(await h.db.db.select().from(documents).where(eq(documents.applicationId, id))).toHaveLength(before.length);
  });
});

describe('four eyes and roles on the decision', () => {
  const BIG = 22_000_000; // at or above the 200,000 CNY threshold: two approvers

  it('two approvers racing on a big loan: both count once, and it moves on', async () => {
    const { id } = await toApproval({ amountFen: BIG });
    const [a, b] = await Promise.all([
      act(id, 'decision', 'approver-1', 'approver', { decision: 'approve', comment: '可以' }),
      act(id, 'decision', 'approver-2', 'approver', { decision: 'approve' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 200]);
    const s = await waitForState(h, id, (x) => x.stage !== 'approval');
    expect(s.stage).toBe('signing');
    const counted = s.decisions.filter((d) => d.decision === 'approve' && d.counted).map((d) => d.actor).sort();
    expect(counted).toEqual(['approver-1', 'approver-2']);
    const audited = (await auditOf(id)).filter((e) => e.kind === 'approval_decision');
    expect(audited.map((e) => e.actor).sort()).toEqual(['approver-1', 'approver-2']);
    expect(audited.find((e) => e.actor === 'approver-1')?.data).toMatchObject({ comment: '可以', decision: 'approve' });
  });

  it('one approver approving twice (even at once) counts once; the second approval must be someone else', async () => {
    const { id } = await toApproval({ amountFen: BIG });
    const [a, b] = await Promise.all([
      act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }),
      act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const refused = a.status === 409 ? a : b;
    expect(refused.body).toMatchObject({ code: 'ALREADY_APPROVED_BY_THIS_APPROVER', stage: 'approval' });
    const s = await waitForState(h, id, () => true);
    expect(s.stage).toBe('approval');
    expect(s.pendingTask?.approvedBy).toEqual(['approver-1']);
    const second = await act(id, 'decision', 'approver-3', 'approver', { decision: 'approve' });
    expect(second.status).toBe(200);
    expect((await waitForState(h, id, (x) => x.stage !== 'approval')).stage).toBe('signing');
  });

  it('two approvers racing on a small loan: exactly one decision takes effect, the other is told the new stage', async () => {
    const { id } = await toApproval();
    const [a, b] = await Promise.all([
      act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }),
      act(id, 'decision', 'approver-2', 'approver', { decision: 'reject', reasonCode: 'INCOME_INSUFFICIENT' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    const winner = a.status === 200 ? a : b;
    expect(loser.body.code).toBe('NOT_WAITING');
    // Refused at the moment the decision was taken (still approval) or after the workflow moved on.
    expect([winner.body.stage, 'approval']).toContain(loser.body.stage);
    const s = await waitForState(h, id, () => true);
    expect(s.decisions.filter((d) => d.decision !== 'auto_decline' && d.counted)).toHaveLength(1);
  });

  it('an officer cannot approve (403 by role), nor an approver who submitted the application (403 by the workflow)', async () => {
    const { id } = await toApproval({ amountFen: BIG }, 'officer-approver', ['officer', 'approver']);
    const officerOnly = await act(id, 'decision', 'officer-1', 'officer', { decision: 'approve' });
    expect(officerOnly.status).toBe(403);
    expect(officerOnly.body.type).toMatch(/forbidden/);
    const ownApplication = await h.http
      .post(`/applications/${id}/decision`)
      .set('Authorization', await auth('officer-approver', 'officer', 'approver'))
      .send({ decision: 'approve' });
    expect(ownApplication.status).toBe(403);
    expect(ownApplication.body).toMatchObject({ code: 'SUBMITTER_CANNOT_APPROVE', stage: 'approval' });
    const verifier = await act(id, 'decision', 'verifier-1', 'verifier', { decision: 'approve' });
    expect(verifier.status).toBe(403);
    const s = await waitForState(h, id, () => true);
    expect(s.pendingTask?.approvedBy ?? []).toEqual([]);
  });

  it('an act the workflow finds invalid is 422: an offer above the LTV limit, a pass without the identity confirmed', async () => {
    const { id } = await create();
    await waitForTask(h, id, 'phone_verification');
    const unconfirmed = await act(id, 'phone-verification', 'verifier-1', 'verifier', { ...PASSED, checklist: { ...PASSED.checklist, identityConfirmed: false } });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.headers['content-type']).toMatch(PROBLEM);
    expect(unconfirmed.body).toMatchObject({ code: 'INVALID_ACT', stage: 'phone_verification', type: expect.stringContaining('invalid-act') });
    expect((await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED)).status).toBe(200);
    await waitForTask(h, id, 'approval');
    // 290,000 CNY on a 300,000 CNY new-energy car: above the 85% cap the approver may go up to.
    const tooMuch = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve', amountFen: 29_000_000 });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body).toMatchObject({ code: 'INVALID_ACT', stage: 'approval' });
    const s = await waitForState(h, id, () => true);
    expect(s.stage).toBe('approval');
    expect(s.decisions.filter((d) => d.decision === 'approve')).toHaveLength(0);
  });

  it('request_info sends it back to documents; reject ends it', async () => {
    const first = await toApproval();
    const info = await act(first.id, 'decision', 'approver-1', 'approver', { decision: 'request_info', reasonCode: 'DOCUMENTS_MISSING', comment: '请补充银行流水' });
    expect(info.status).toBe(200);
    expect((await waitForTask(h, first.id, 'submit_documents')).stage).toBe('document_check');
    const trail = (await auditOf(first.id)).find((e) => e.kind === 'approval_decision');
    expect(trail?.data).toMatchObject({ comment: '请补充银行流水', reasonCode: 'DOCUMENTS_MISSING' });

    const second = await toApproval();
    const reject = await act(second.id, 'decision', 'approver-1', 'approver', { decision: 'reject', reasonCode: 'INCOME_INSUFFICIENT' });
    expect(reject.status).toBe(200);
    expect((await waitForState(h, second.id, (x) => x.stage === 'rejected')).stage).toBe('rejected');
  });
});

describe('an action sent twice with the same Idempotency-Key', () => {
  it('is applied once and the first answer is replayed; another body with the key is refused', async () => {
    const { id } = await toApproval({ amountFen: 22_000_000 });
    const first = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }, 'approve-once');
    const again = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }, 'approve-once');
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    const s = await waitForState(h, id, () => true);
    expect(s.stage).toBe('approval');
    expect(s.decisions.filter((d) => d.actor === 'approver-1')).toHaveLength(1);
    expect((await auditOf(id)).filter((e) => e.kind === 'approval_decision')).toHaveLength(1);
    expect((await appliedOf(id)).filter((e) => e.kind === 'approval_decision')).toHaveLength(1);

    const other = await act(id, 'decision', 'approver-1', 'approver', { decision: 'reject', reasonCode: 'OTHER' }, 'approve-once');
    expect(other.status).toBe(422);
    expect(other.body.type).toMatch(/idempotency-key-reused/);
  });

  it('a retry after the first answer was lost reaches the same act (ALREADY_APPLIED is success)', async () => {
    const { id } = await toApproval({ amountFen: 22_000_000 });
    const first = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }, 'lost-answer');
    expect(first.status).toBe(200);
    // The stored answer is lost (as if the process died before writing it): the retry goes to the workflow again.
    await h.db.db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.key, 'lost-answer'), eq(idempotencyKeys.scope, `POST /applications/${id}/decision approver-1`)));
    const retry = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' }, 'lost-answer');
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const s = await waitForState(h, id, () => true);
    expect(s.pendingTask?.approvedBy).toEqual(['approver-1']);
    expect(s.decisions.filter((d) => d.actor === 'approver-1')).toHaveLength(1);
  });
});

describe('withdrawal', () => {
  it('withdraws before disbursement, keeps the reason in the audit trail only, and refuses a second withdrawal with the stage', async () => {
    const { id } = await create();
    await waitForTask(h, id, 'phone_verification');
    const res = await act(id, 'withdraw', 'officer-1', 'officer', { reason: '客户决定不买车了', reasonCode: 'CUSTOMER_CHANGED_MIND' });
    expect([200, 202]).toContain(res.status);
    const s = await waitForState(h, id, (x) => x.stage === 'withdrawn');
    expect(s.pendingTask).toBeNull();
    const trail = (await auditOf(id)).find((e) => e.kind === 'withdrawal');
    expect(trail).toMatchObject({ actor: 'officer-1', before: expect.objectContaining({ stage: 'phone_verification' }), data: expect.objectContaining({ reason: '客户决定不买车了' }) });
    // Once the run has ended, a second withdrawal is 409 with the final stage and changes nothing.
    await h.env.client.workflow.getHandle(`loan-application-${id}`).result();
    const again = await act(id, 'withdraw', 'officer-1', 'officer', {});
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'NOT_WAITING', stage: 'withdrawn' });
    expect((await auditOf(id)).filter((e) => e.kind === 'withdrawal')).toHaveLength(1);
    expect((await appliedOf(id)).filter((e) => e.kind === 'withdrawal')).toHaveLength(1);
  });

  it('answers 202 while the workflow has accepted the act but not finished applying it, 200 to a repeat meanwhile, and loses nothing', async () => {
    // Made deterministic with a worker on a task queue of this test's own whose bookkeeping write
    // (mirrorStage, the local activity that records an act with the applications row) waits at a
    // gate the test closes once the application waits for its call: the update's validator and the
    // handler's first step run in the workflow, the act's record cannot finish until the gate opens.
    const taskQueue = 'car-loans-held-activities';
    const base = { connection: h.env.nativeConnection, namespace: h.env.namespace ?? 'default', taskQueue };
    const real = createActivities(activityDepsFromConfig(h.config, h.db.db));
    let gate: Promise<void> = Promise.resolve();
    let open = () => {};
    const mirrorStage: typeof real.mirrorStage = async (m) => {
      await gate;
      return real.mirrorStage(m);
    };
    const worker = await Worker.create({ ...base, workflowBundle: await workflowBundle(), activities: { ...real, mirrorStage } });
    const running = worker.run();
    try {
      // No wait for the update's result would see it while its record is held: 0 ms is as good as any.
      const held = createApp({ db: h.db, temporal: h.env.client, taskQueue, config: h.config, cipher: h.cipher, log: createLogger('silent'), workflowTimeouts: { actResultWaitMs: 0 } });
      const officer = await auth('officer-1', 'officer');
      const created = await request(held).post('/applications').set('Authorization', officer).send(applicationBody());
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      await waitForTask(h, id, 'phone_verification');
      gate = new Promise((resolve) => (open = resolve));

      const res = await request(held).post(`/applications/${id}/withdraw`).set('Authorization', officer).send({ reasonCode: 'CUSTOMER_CHANGED_MIND' });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id, stage: 'phone_verification' });
      // Asked again meanwhile: the workflow's validator knows the first is being applied (200, the same act).
      const repeat = await request(held).post(`/applications/${id}/withdraw`).set('Authorization', officer).send({});
      expect(repeat.status).toBe(200);
      expect((await appliedOf(id)).filter((e) => e.kind === 'withdrawal')).toHaveLength(0);

      open();
      expect(await h.env.client.workflow.getHandle(`loan-application-${id}`).result()).toMatchObject({ stage: 'withdrawn' });
      expect((await appliedOf(id)).filter((e) => e.kind === 'withdrawal')).toHaveLength(1);
      expect((await auditOf(id)).filter((e) => e.kind === 'withdrawal').map((e) => (e.data as { outcome: string }).outcome)).toEqual(['accepted', 'already_applied']);
    } finally {
      open();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    }
  });
});

describe('POST /webhooks/esign outside signing', () => {
  const signedEvent = (applicationId: string, type: string, eventId: string) => {
    const raw = JSON.stringify({
      eventId,
      type,
      occurredAt: new Date().toISOString(),
      data: { envelopeId: 'env_unknown', applicationId, status: type === 'envelope.signed' ? 'signed' : 'declined', signedAt: type === 'envelope.signed' ? new Date().toISOString() : null, declinedAt: null },
    });
    return h.http.post('/webhooks/esign').set('content-type', 'application/json').set('X-Esign-Signature', signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, raw)).send(raw);
  };

  it('a signature for an application not yet waiting for one is 409 (the provider retries later); other events are acknowledged and recorded', async () => {
    const { id } = await create();
    await waitForTask(h, id, 'phone_verification');
    const early = await signedEvent(id, 'envelope.signed', `evt_early_${id}`);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ code: 'NOT_WAITING', stage: 'phone_verification' });
    const declined = await signedEvent(id, 'envelope.declined', `evt_declined_${id}`);
    expect(declined.status).toBe(200);
    expect(declined.body).toEqual({ received: true, eventId: `evt_declined_${id}`, applied: false });
    const trail = await eventsOf(id);
    expect(trail.find((e) => e.kind === 'esign_event')).toMatchObject({ actor: 'esign-provider', data: expect.objectContaining({ type: 'envelope.declined' }) });
    expect(trail.find((e) => e.kind === 'act_refused')).toMatchObject({ actor: 'esign-provider', data: expect.objectContaining({ act: 'contract_signed', code: 'NOT_WAITING' }) });
  });
});

describe('a new car from submission to servicing through the API, signed through the e-signature webhook', () => {
  it('walks every stage; the loan schedule and repayments follow', async () => {
    const { id } = await toApproval();
    const approved = await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve', amountFen: 14_000_000, termMonths: 36, annualRateBps: 650 });
    expect(approved.status).toBe(200);
    const signing = await waitForTask(h, id, 'sign_contract');
    expect(signing.offer).toMatchObject({ amountFen: 14_000_000, termMonths: 36, annualRateBps: 650, aprBps: expect.any(Number), monthlyPaymentFen: expect.any(Number) });
    const envelopeId = signing.envelopeId as string;
    expect(envelopeId).toEqual(expect.any(String));

    // The customer signs at the provider; the provider calls POST /webhooks/esign, HMAC-signed.
    const signed = await fetch(`${h.sandbox.url}/esign/v1/envelopes/${envelopeId}/sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(signed.status).toBe(200);
    const serviced = await waitForState(h, id, (x) => x.stage === 'servicing' && Boolean(x.loanId));
    const loanId = serviced.loanId as string;
    const trail = await eventsOf(id);
    expect(trail.find((e) => e.kind === 'contract_signed' && e.eventKey.startsWith('api:'))).toMatchObject({ actor: 'esign-provider', data: expect.objectContaining({ source: 'esign_callback', envelopeId }) });

    // The provider delivering the same event again (or late) changes nothing and is acknowledged.
    const envelope = (await (await fetch(`${h.sandbox.url}/esign/v1/envelopes/${envelopeId}`)).json()) as { webhooks: { eventId: string; state: string }[] };
    const delivered = envelope.webhooks.find((w) => w.state === 'delivered');
    expect(delivered).toBeDefined();
    const replay = JSON.stringify({
      eventId: delivered!.eventId,
      type: 'envelope.signed',
      occurredAt: new Date().toISOString(),
      data: { envelopeId, applicationId: id, status: 'signed', signedAt: new Date().toISOString(), declinedAt: null },
    });
    const again = await h.http.post('/webhooks/esign').set('content-type', 'application/json').set('X-Esign-Signature', signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, replay)).send(replay);
    expect(again.status).toBe(200);
    expect(again.body.received).toBe(true);
    expect((await auditOf(id)).filter((e) => e.kind === 'contract_signed')).toHaveLength(1);
    expect((await appliedOf(id)).filter((e) => e.kind === 'contract_signed')).toHaveLength(1);

    // An on-site signature now is too late.
    const late = await act(id, 'signature', 'officer-1', 'officer', {});
    expect(late.status).toBe(409);

    // The schedule, readable by any staff.
    const schedule = await h.http.get(`/loans/${loanId}/schedule`).set('Authorization', await auth('approver-1', 'approver'));
    expect(schedule.status).toBe(200);
    expect(schedule.body.loanId).toBe(loanId);
    expect(schedule.body.installments).toHaveLength(36);
    const principal = (schedule.body.installments as { principalFen: number }[]).reduce((sum, i) => sum + i.principalFen, 0);
    expect(principal).toBe(14_000_000);
    const firstDue = schedule.body.installments[0] as { totalFen: number; status: string; seq: number };
    expect(firstDue).toMatchObject({ seq: 1, paidFen: 0 });

    // Repayments: finance only, idempotent by the bank reference.
    const pay = (sub: string, role: StaffRole, body: object) =>
      (async () => h.http.post(`/loans/${loanId}/repayments`).set('Authorization', await auth(sub, role)).send(body))();
    const repayment = { amountFen: firstDue.totalFen, paidAt: new Date().toISOString(), reference: `bank-${id}` };
    expect((await pay('officer-1', 'officer', repayment)).status).toBe(403);
    const paid = await pay('finance-1', 'finance', repayment);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ loanId, reference: repayment.reference, outcome: 'applied', status: 'active' });
    // A month before its due date the money is held for instalment 1 (the ledger applies it on the day).
    expect(paid.body).toMatchObject({ allocations: [], creditFen: firstDue.totalFen });
    // The same bank reference again is the same repayment: its answer, nothing paid twice.
    const repeat = await pay('finance-1', 'finance', repayment);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ reference: repayment.reference, outcome: expect.stringMatching(/^(applied|duplicate)$/) });
    expect(repeat.body.outstandingPrincipalFen).toBe(paid.body.outstandingPrincipalFen);
    const conflicting = await pay('finance-1', 'finance', { ...repayment, amountFen: repayment.amountFen + 1 });
    expect(conflicting.status).toBe(409);
    const after = await h.http.get(`/loans/${loanId}/schedule`).set('Authorization', await auth('finance-1', 'finance'));
    expect(after.body.installments[0]).toMatchObject({ seq: 1, status: 'paid', paidFen: firstDue.totalFen });
  });
});

describe('a used car signed on site, with the mortgage registered before disbursement', () => {
  it('takes the on-site signature and the collateral registration from the officer', async () => {
    const { id } = await toApproval({ condition: 'used' });
    // Not yet: a mortgage is registered once there is a contract to secure.
    const early = await act(id, 'collateral-registration', 'officer-1', 'officer', { registrationRef: 'DJ-1', registeredAt: new Date().toISOString() });
    expect(early.status).toBe(409);
    expect(early.body.stage).toBe('approval');
    expect((await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' })).status).toBe(200);
    await waitForTask(h, id, 'sign_contract');
    const signed = await act(id, 'signature', 'officer-1', 'officer', { signedAt: new Date().toISOString() });
    expect([200, 202]).toContain(signed.status);
    // A used car waits for its mortgage registration before any money moves.
    const registration = await waitForTask(h, id, 'register_collateral');
    expect(registration.pendingTask).toMatchObject({ role: 'officer' });
    expect(registration.stage).toBe('signing');
    const registered = await act(id, 'collateral-registration', 'officer-1', 'officer', { registrationRef: 'DJ-2026-000123', registeredAt: new Date().toISOString() });
    expect([200, 202]).toContain(registered.status);
    const s = await waitForState(h, id, (x) => x.stage === 'servicing' || x.stage === 'failed');
    expect(s.stage).toBe('servicing');
    const trail = await eventsOf(id);
    expect(trail.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['application_created', 'phone_verification_completed', 'approval_decision', 'contract_signed', 'collateral_registered']),
    );
    expect(trail.find((e) => e.kind === 'contract_signed' && e.actor === 'officer-1' && e.eventKey.startsWith('api:'))?.data).toMatchObject({ source: 'on_site' });
  });
});

describe('a new car: the mortgage registered after the loan was handed to servicing', () => {
  it("goes to the loan's servicing run once the application run has ended, and is recorded there", async () => {
    const { id } = await toApproval();
    expect((await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' })).status).toBe(200);
    await waitForTask(h, id, 'sign_contract');
    expect([200, 202]).toContain((await act(id, 'signature', 'officer-1', 'officer', { signedAt: new Date().toISOString() })).status);
    const s = await waitForState(h, id, (x) => x.stage === 'servicing' || x.stage === 'failed');
    expect(s.stage).toBe('servicing');
    // The application run ends at the hand-over; the servicing run owes the registration.
    expect(await h.env.client.workflow.getHandle(`loan-application-${id}`).result()).toMatchObject({ outcomeReason: 'HANDED_TO_SERVICING' });
    const loanId = s.loanId as string;
    const registeredAt = new Date().toISOString();
    const registered = await act(id, 'collateral-registration', 'officer-1', 'officer', { registrationRef: 'DJ-2026-000456', registeredAt });
    expect(registered.status).toBe(202);
    expect(registered.body.stage).toBe('servicing');
    await waitFor(async () => {
      const [loan] = await h.db.db.select().from(loans).where(eq(loans.id, loanId));
      return loan?.collateralRegistrationOutstanding === false && loan.collateralRegistrationRef === 'DJ-2026-000456' ? loan : undefined;
    }, 'the mortgage registration recorded on the loan');
    expect((await auditOf(id)).find((e) => e.kind === 'collateral_registered')?.data).toMatchObject({ outcome: 'accepted', registrationRef: 'DJ-2026-000456' });
    // Once registered there is nothing left to forward: a second one is refused, with the stage.
    const again = await act(id, 'collateral-registration', 'officer-1', 'officer', { registrationRef: 'DJ-2026-000457', registeredAt });
    expect(again.status).toBe(409);
    expect(again.body.stage).toBe('servicing');
  });
});

export type { StateBody };
