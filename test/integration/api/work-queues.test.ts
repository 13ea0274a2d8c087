import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { createLoanEventActivities } from '../../../src/activities/loanEvents';
import { applicants, applications, loanEvents, taskClaims } from '../../../src/db/schema';
import type { StaffRole } from '../../../src/workflows/messages';
import { applicationBody, freshIdNumber, freshPhone, startApiHarness, waitForTask, type ApiHarness } from './harness';

// Work queues on seeded rows (the applications table as the workflow mirrors it), then the same
// queues, claims and audit trail with real applications on a real workflow.

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(() => h?.stop());

const auth = async (sub: string, ...roles: StaffRole[]) => `Bearer ${await h.token(sub, ...roles)}`;
const get = async (url: string, sub = 'reader-1', ...roles: StaffRole[]) => h.http.get(url).set('Authorization', await auth(sub, ...(roles.length ? roles : (['officer'] as StaffRole[]))));
const post = async (url: string, sub: string, ...roles: StaffRole[]) => h.http.post(url).set('Authorization', await auth(sub, ...roles)).send({});

type Item = { id: string; stage: string; task: null | { kind: string; slaAt: string | null; deadline: string | null; escalated: boolean; slaBreached: boolean; claim: null | { claimedBy: string }; approvals: null | { needed: number; given: number; approvedBy: string[]; approvedByMe: boolean } } };
const ids = (res: { body: { items: Item[] } }) => res.body.items.map((i) => i.id);

// ------------------------------------------------------------------------------------------------
// Seeded: six applications in two branches, as the mirror leaves them.

const BRANCH = `WQ-${randomUUID().slice(0, 8)}`;
const OTHER_BRANCH = `WQ-${randomUUID().slice(0, 8)}`;
const HOUR = 3_600_000;
const now = Date.now();
const at = (ms: number) => new Date(now + ms);
const seeded: Record<string, string> = {};

interface Seed {
  key: string;
  branch?: string;
  stage: string;
  pendingTask?: string | null;
  grade?: string | null;
  slaAt?: Date | null;
  deadlineAt?: Date | null;
  escalated?: boolean;
  approvalsNeeded?: number | null;
  approvedBy?: string[];
  amountFen: number;
}

const SEEDS: Seed[] = [
  { key: 'a1', stage: 'approval', pendingTask: 'approval', grade: 'B', slaAt: at(-3 * HOUR), deadlineAt: at(100 * HOUR), escalated: true, approvalsNeeded: 2, approvedBy: ['approver-1'], amountFen: 22_000_000 },
  { key: 'a2', stage: 'approval', pendingTask: 'approval', grade: 'A', slaAt: at(20 * HOUR), deadlineAt: at(150 * HOUR), approvalsNeeded: 1, amountFen: 10_000_000 },
  { key: 'a3', stage: 'phone_verification', pendingTask: 'phone_verification', slaAt: at(-1 * HOUR), deadlineAt: at(40 * HOUR), escalated: true, amountFen: 5_000_000 },
  { key: 'a4', stage: 'signing', pendingTask: 'sign_contract', deadlineAt: at(160 * HOUR), grade: 'C', amountFen: 8_000_000 },
  { key: 'a5', stage: 'servicing', grade: 'C', amountFen: 6_000_000 },
  { key: 'b1', branch: OTHER_BRANCH, stage: 'approval', pendingTask: 'approval', grade: 'B', slaAt: at(-5 * HOUR), escalated: true, approvalsNeeded: 1, amountFen: 9_000_000 },
];

beforeAll(async () => {
  let i = 0;
  for (const s of SEEDS) {
    const id = randomUUID();
    seeded[s.key] = id;
    const idNumber = freshIdNumber();
    const phone = freshPhone();
    await h.db.db.insert(applicants).values({
      id: `applicant-${id}`,
      nameEnc: h.cipher.encrypt('测试客户'),
      idNumberEnc: h.cipher.encrypt(idNumber),
      phoneEnc: h.cipher.encrypt(phone),
      idNumberHash: h.cipher.lookupHash('id_number', idNumber),
      phoneHash: h.cipher.lookupHash('phone', phone),
      monthlyIncomeFen: 2_000_000,
    });
    await h.db.db.insert(applications).values({
      id,
      workflowId: `loan-application-${id}`,
      applicantId: `applicant-${id}`,
      channel: 'branch',
      branchId: s.branch ?? BRANCH,
      submittedBy: 'officer-seed',
      amountFen: s.amountFen,
      termMonths: 36,
      repaymentMethod: 'equal_installment',
      stage: s.stage,
      pendingTask: s.pendingTask ?? null,
      pendingSince: s.pendingTask ? at(-10 * HOUR) : null,
      slaAt: s.slaAt ?? null,
      deadlineAt: s.deadlineAt ?? null,
      escalated: s.escalated ?? false,
      approvalsNeeded: s.approvalsNeeded ?? null,
      approvedBy: s.approvedBy ?? [],
      riskGrade: s.grade ?? null,
      createdAt: at(-48 * HOUR + i++ * 60_000),
    });
  }
});

const names = (res: { body: { items: Item[] } }) => ids(res).map((id) => Object.entries(seeded).find(([, v]) => v === id)?.[0] ?? id);

describe('filters, counts and sorts on seeded rows', () => {
  it('several stages, repeated or comma-separated; a stage that does not exist is a 400 naming it', async () => {
    const repeated = await get(`/applications?branchId=${BRANCH}&stage=approval&stage=phone_verification`);
    expect(repeated.status).toBe(200);
    expect(names(repeated)).toEqual(['a1', 'a2', 'a3']);
    expect(repeated.body.total).toBe(3);
    const commas = await get(`/applications?branchId=${BRANCH}&stage=approval,signing`);
    expect(names(commas)).toEqual(['a1', 'a2', 'a4']);
    const bad = await get(`/applications?stage=approval&stage=aproval`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['#/stage/1']);
  });

  it('branch, risk grade, pending task, escalated and SLA breached, each with its count', async () => {
    const cases: [string, string[]][] = [
      [`branchId=${BRANCH}`, ['a1', 'a2', 'a3', 'a4', 'a5']],
      [`branchId=${BRANCH},${OTHER_BRANCH}&stage=approval`, ['a1', 'a2', 'b1']],
      [`branchId=${BRANCH}&riskGrade=B`, ['a1']],
      [`branchId=${BRANCH}&riskGrade=A&riskGrade=B`, ['a1', 'a2']],
      [`branchId=${BRANCH}&pendingTask=approval`, ['a1', 'a2']],
      [`branchId=${BRANCH}&pendingTask=none`, ['a5']],
      [`branchId=${BRANCH}&escalated=true`, ['a1', 'a3']],
      [`branchId=${BRANCH}&escalated=false`, ['a2', 'a4']],
      [`branchId=${BRANCH}&slaBreached=true`, ['a1', 'a3']],
      [`branchId=${BRANCH}&slaBreached=false`, ['a2', 'a4', 'a5']],
      [`branchId=${BRANCH}&approvedBy=approver-1`, ['a1']],
      [`branchId=${BRANCH}&escalated=true&pendingTask=approval`, ['a1']],
    ];
    for (const [query, want] of cases) {
      const res = await get(`/applications?${query}`);
      expect({ query, status: res.status, items: names(res), total: res.body.total }).toEqual({ query, status: 200, items: want, total: want.length });
    }
  });

  it('each item carries its SLA, deadline, escalation and four-eyes progress, relative to the reader', async () => {
    const mine = await get(`/applications?branchId=${BRANCH}&stage=approval`, 'approver-1', 'approver');
    const a1 = (mine.body.items as Item[]).find((i) => i.id === seeded.a1)!;
    expect(a1.task).toMatchObject({ kind: 'approval', escalated: true, slaBreached: true, claim: null, approvals: { needed: 2, given: 1, approvedBy: ['approver-1'], approvedByMe: true } });
    expect(a1.task!.slaAt).toBe(at(-3 * HOUR).toISOString());
    expect(a1.task!.deadline).toBe(at(100 * HOUR).toISOString());
    const theirs = await get(`/applications?branchId=${BRANCH}&stage=approval&approvedBy=me`, 'approver-2', 'approver');
    expect(theirs.body.items).toEqual([]);
    const other = await get(`/applications?branchId=${BRANCH}&stage=approval`, 'approver-2', 'approver');
    expect((other.body.items as Item[]).find((i) => i.id === seeded.a1)!.task!.approvals!.approvedByMe).toBe(false);
    const done = (await get(`/applications?branchId=${BRANCH}&stage=servicing`)).body.items[0] as Item;
    expect(done.task).toBeNull();
  });

  it('sorts by SLA (missing last), by amount descending, and pages with a cursor without losing or repeating a row', async () => {
    // a4 and a5 have no SLA: last, in id order (the tie-breaker of every sort).
    const noSla = ['a4', 'a5'].sort((x, y) => (seeded[x]! < seeded[y]! ? -1 : 1));
    expect(names(await get(`/applications?branchId=${BRANCH}&sort=slaAt`))).toEqual(['a1', 'a3', 'a2', ...noSla]);
    expect(names(await get(`/applications?branchId=${BRANCH}&sort=-amountFen`))).toEqual(['a1', 'a2', 'a4', 'a5', 'a3']);
    expect(names(await get(`/applications?branchId=${BRANCH}&sort=-createdAt`))).toEqual(['a5', 'a4', 'a3', 'a2', 'a1']);
    for (const sort of ['slaAt', '-deadline', 'amountFen', 'createdAt']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const res: { body: { items: Item[]; total: number; nextCursor: string | null } } = await get(`/applications?branchId=${BRANCH}&sort=${sort}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.body.total).toBe(5);
        seen.push(...names(res));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect({ sort, seen }).toEqual({ sort, seen: names(await get(`/applications?branchId=${BRANCH}&sort=${sort}`)) });
    }
  });

  it('refuses a cursor of another sort and one that names no real instant (400, not 500)', async () => {
    const first = await get(`/applications?branchId=${BRANCH}&sort=slaAt&limit=1`);
    const other = await get(`/applications?branchId=${BRANCH}&sort=amountFen&cursor=${first.body.nextCursor}`);
    expect(other.status).toBe(400);
    const forged = Buffer.from(JSON.stringify({ s: 'createdAt', v: '2026-13-45 25:61:61+00', i: 'x' })).toString('base64url');
    const res = await get(`/applications?cursor=${forged}`);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].pointer).toBe('#/cursor');
  });

  it("the supervisor's queue: escalated open tasks, most overdue first, for supervisors and admins only", async () => {
    const res = await get(`/escalations?branchId=${BRANCH},${OTHER_BRANCH}`, 'supervisor-1', 'supervisor');
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['b1', 'a1', 'a3']);
    expect(res.body.total).toBe(3);
    expect((await get('/escalations', 'approver-1', 'approver')).status).toBe(403);
  });
});

describe('claims', () => {
  it('a claimed task is the claimant\'s: others get 409 naming them; a renewal, a lapse and a supervisor\'s release', async () => {
    const a2 = seeded.a2!;
    const mine = await post(`/applications/${a2}/claim`, 'approver-3', 'approver');
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ applicationId: a2, task: 'approval', claim: { claimedBy: 'approver-3' } });
    const theirs = await post(`/applications/${a2}/claim`, 'approver-4', 'approver');
    expect(theirs.status).toBe(409);
    expect(theirs.body).toMatchObject({ code: 'TASK_CLAIMED', claimedBy: 'approver-3' });
    expect(theirs.body.detail).toContain('approver-3');
    expect((await post(`/applications/${a2}/claim`, 'approver-3', 'approver')).status).toBe(200);
    // The task's role is needed; an approver who approved already leaves the second approval to someone else.
    expect((await post(`/applications/${a2}/claim`, 'verifier-9', 'verifier')).status).toBe(403);
    expect((await post(`/applications/${seeded.a1}/claim`, 'approver-1', 'approver')).status).toBe(409);
    expect((await post(`/applications/${seeded.a5}/claim`, 'approver-3', 'approver')).status).toBe(409);

    const listed = await get(`/applications?branchId=${BRANCH}&assignee=approver-3`);
    expect(names(listed)).toEqual(['a2']);
    expect((listed.body.items[0] as Item).task!.claim!.claimedBy).toBe('approver-3');
    expect(names(await get(`/applications?branchId=${BRANCH}&assignee=me`, 'approver-3', 'approver'))).toEqual(['a2']);
    expect(names(await get(`/applications?branchId=${BRANCH}&assignee=none`))).toEqual(['a1', 'a3', 'a4']);

    expect((await post(`/applications/${a2}/release`, 'approver-4', 'approver')).status).toBe(409);
    const released = await post(`/applications/${a2}/release`, 'supervisor-1', 'supervisor');
    expect(released.status).toBe(200);
    expect(released.body.claim.claimedBy).toBe('approver-3');
    expect((await post(`/applications/${a2}/release`, 'supervisor-1', 'supervisor')).body.claim).toBeNull();
    expect((await post(`/applications/${a2}/claim`, 'approver-4', 'approver')).status).toBe(200);

    // A lapsed claim is nobody's: the next person takes it.
    await h.db.db.update(taskClaims).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(taskClaims.applicationId, a2));
    expect(names(await get(`/applications?branchId=${BRANCH}&assignee=approver-4`))).toEqual([]);
    expect((await post(`/applications/${a2}/claim`, 'approver-5', 'approver')).status).toBe(200);
    // When the workflow moves to another task instance, the claim no longer applies.
    await createLoanEventActivities(h.db.db).mirrorStage({
      applicationId: a2,
      stage: 'approval',
      pendingTask: 'approval',
      task: { since: new Date().toISOString(), slaAt: at(30 * HOUR).toISOString(), deadline: at(150 * HOUR).toISOString(), escalated: false, approvalsNeeded: 1, approvedBy: [] },
    });
    expect(names(await get(`/applications?branchId=${BRANCH}&assignee=approver-5`))).toEqual([]);
    expect((await post(`/applications/${a2}/claim`, 'approver-4', 'approver')).status).toBe(200);

    const trail = await h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, a2)).orderBy(asc(loanEvents.seq));
    expect(trail.filter((e) => e.kind === 'task_claimed').map((e) => e.actor)).toEqual(['approver-3', 'approver-3', 'approver-4', 'approver-5', 'approver-4']);
    expect(trail.filter((e) => e.kind === 'task_released').map((e) => [e.actor, (e.data as { claimedBy: string }).claimedBy])).toEqual([['supervisor-1', 'approver-3']]);
  });
});

// ------------------------------------------------------------------------------------------------
// Real applications on the real workflow.

const PASSED = { outcome: 'passed', recordingRef: 'rec-wq', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

async function queueItemOf(id: string, sub = 'reader-1', ...roles: StaffRole[]): Promise<Item> {
  const res = await get(`/applications?branchId=BJ-001&limit=100&sort=-createdAt`, sub, ...roles);
  const item = (res.body.items as Item[]).find((i) => i.id === id);
  if (!item) throw new Error(`${id} is not in the queue`);
  return item;
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('on a real workflow', () => {
  it('the mirror fills the queue item, a claim holds off another verifier, and four-eyes progress shows who approved', async () => {
    const phone = freshPhone();
    const body = applicationBody({ amountFen: 22_000_000, name: '欧阳青云', phone });
    const created = await h.http.post('/applications').set('Authorization', await auth('officer-wq', 'officer')).send(body);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await waitForTask(h, id, 'phone_verification');

    const item = await eventually(() => queueItemOf(id), (i) => i.task?.kind === 'phone_verification' && i.task.slaAt !== null, 'the phone task mirrored');
    expect(item.task).toMatchObject({ escalated: false, slaBreached: false, claim: null, approvals: null });
    expect(new Date(item.task!.deadline!).getTime()).toBeGreaterThan(new Date(item.task!.slaAt!).getTime());

    expect((await post(`/applications/${id}/claim`, 'verifier-2', 'verifier')).status).toBe(200);
    const blocked = await h.http.post(`/applications/${id}/phone-verification`).set('Authorization', await auth('verifier-1', 'verifier')).send(PASSED);
    expect(blocked.status).toBe(409);
    expect(blocked.body).toMatchObject({ code: 'TASK_CLAIMED', claimedBy: 'verifier-2' });
    const notes = `客户欧阳青云本人接听，手机 ${phone}，确认自用`;
    const done = await h.http.post(`/applications/${id}/phone-verification`).set('Authorization', await auth('verifier-2', 'verifier')).send({ ...PASSED, notes });
    expect([200, 202]).toContain(done.status);
    expect(await h.db.db.select().from(taskClaims).where(eq(taskClaims.applicationId, id))).toEqual([]);

    await waitForTask(h, id, 'approval');
    await eventually(() => queueItemOf(id), (i) => i.task?.approvals?.needed === 2 && i.task.approvals.given === 0, 'the approval task mirrored');
    const first = await h.http.post(`/applications/${id}/decision`).set('Authorization', await auth('approver-1', 'approver')).send({ decision: 'approve', comment: '收入稳定' });
    expect([200, 202]).toContain(first.status);
    const after = await eventually(() => queueItemOf(id, 'approver-1', 'approver'), (i) => i.task?.approvals?.given === 1, 'the first approval mirrored');
    expect(after.task!.approvals).toEqual({ needed: 2, given: 1, approvedBy: ['approver-1'], approvedByMe: true });
    expect((await queueItemOf(id, 'approver-2', 'approver')).task!.approvals!.approvedByMe).toBe(false);
    expect(names(await get(`/applications?approvedBy=me&stage=approval&branchId=BJ-001`, 'approver-1', 'approver'))).toContain(id);

    // The audit trail: the refused act, the claim, what the verifier and the approver wrote.
    const asApprover = await get(`/applications/${id}/events?limit=200`, 'approver-9', 'approver');
    expect(asApprover.status).toBe(200);
    const kinds = (asApprover.body.items as { kind: string }[]).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['application_created', 'stage_entered', 'task_claimed', 'act_refused', 'phone_verification_completed', 'approval_decision']));
    const seqs = (asApprover.body.items as { seq: number }[]).map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    type Ev = { kind: string; actor: string; data: Record<string, unknown>; withheld: string[] };
    // The API's audit of the call (with what the verifier wrote); the workflow's record of applying it has the same kind.
    const call = (r: { body: { items: Ev[] } }) => r.body.items.find((e) => e.kind === 'phone_verification_completed' && e.actor === 'verifier-2' && 'notes' in e.data)!;
    const refused = (asApprover.body.items as Ev[]).find((e) => e.kind === 'act_refused' && e.actor === 'verifier-1')!;
    expect(refused.data.code).toBe('TASK_CLAIMED');
    // The approver reads the notes, with the name and phone masked as everywhere for that role.
    const approverNotes = call(asApprover).data.notes as string;
    expect(approverNotes).toContain('确认自用');
    expect(approverNotes).not.toContain(phone);
    expect(approverNotes).not.toContain('欧阳青云');
    expect(approverNotes).toContain(`${phone.slice(0, 3)}****${phone.slice(-4)}`);
    expect((asApprover.body.items as Ev[]).find((e) => e.kind === 'approval_decision' && 'comment' in e.data)!.data.comment).toBe('收入稳定');
    // The verifier sees name and phone in full (as in GET /applications/:id); finance reads no notes.
    expect(call(await get(`/applications/${id}/events?limit=200`, 'verifier-3', 'verifier')).data.notes).toBe(notes);
    const asFinance = call(await get(`/applications/${id}/events?limit=200`, 'finance-1', 'finance'));
    expect(asFinance.data.notes).toBeNull();
    expect(asFinance.withheld).toEqual(['notes']);

    // Paged: every event once, in order.
    const paged: number[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const res: { status: number; body: { items: { seq: number }[]; nextCursor: string | null } } = await get(`/applications/${id}/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      paged.push(...res.body.items.map((e) => e.seq));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    const all = (await get(`/applications/${id}/events?limit=200`)).body.items.map((e: { seq: number }) => e.seq);
    expect(paged).toEqual(all.slice(0, paged.length));
    expect(paged.length).toBeGreaterThanOrEqual(all.length - 2);
    expect((await get(`/applications/nope/events`)).status).toBe(404);
  });
});
