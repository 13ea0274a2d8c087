import { and, eq } from 'drizzle-orm';
import { loanEvents } from '../../../src/db/schema';
import { SandboxAdminClient } from '../../../src/sandbox';
import type { SandboxProvider } from '../../../src/sandbox/faults';
import type { StaffRole } from '../../../src/workflows/messages';
import { eventually } from '../../helpers/servicing';
import { applicationBody, startApiHarness, waitForState, waitForTask, type ApiHarness, type ApplicationOverrides, type StateBody } from './harness';

// When an act is taken, through the API as staff send it: an act for the stage GET shows is
// accepted even while the workflow is between two steps of that stage (issue 16, item 6).

let h: ApiHarness;
let admin: SandboxAdminClient;

/** Each describe below starts its own system: `opts` says how long an act's answer waits for the reaction. */
function withSystem(opts: Parameters<typeof startApiHarness>[0] = {}) {
  beforeAll(async () => {
    h = await startApiHarness(opts);
    admin = new SandboxAdminClient(h.sandbox.url);
  });
  afterEach(() => admin.clearFaults());
  afterAll(() => h?.stop());
}

const auth = async (sub: string, role: StaffRole) => `Bearer ${await h.token(sub, role)}`;
const PASSED = { outcome: 'passed', recordingRef: 'rec-1', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

async function create(o: ApplicationOverrides = {}) {
  const res = await h.http.post('/applications').set('Authorization', await auth('officer-1', 'officer')).send(applicationBody(o));
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function act(id: string, action: string, sub: string, role: StaffRole, body: object = {}) {
  return h.http.post(`/applications/${id}/${action}`).set('Authorization', await auth(sub, role)).send(body);
}

/**
 * Holds the step that calls `provider` (every request answered 503, retried by its activity) until
 * released: the window between the stage shown and its wait opening stays open for as long as the
 * test needs, whatever the machine's speed.
 */
async function hold(provider: SandboxProvider) {
  await admin.setFault({ provider, mode: 'error_5xx' });
  return {
    tried: () => eventually(async () => expect((await admin.listFaults()).find((f) => f.provider === provider)?.injected).toBeGreaterThan(0), 120_000),
    release: () => admin.clearFaults(provider),
  };
}

/** What the workflow recorded of applying each act (the API audits the request under the same kind). */
async function applied(id: string, kind: string) {
  const rows = await h.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, kind)));
  return rows.filter((e) => e.eventKey.startsWith(`loan-application-${id}:act:`));
}

/** Posted the moment GET shows `stage`, while the step that opens the stage's wait is held: accepted (202), never 409. */
async function postWhileHeld(id: string, stage: string, held: Awaited<ReturnType<typeof hold>>, post: () => Promise<{ status: number; body: StateBody }>) {
  const shown = await waitForState(h, id, (s) => s.stage === stage, { timeoutMs: 180_000 });
  expect(shown.pendingTask).toBeNull();
  await held.tried();
  const res = await post();
  // Still held, so the workflow cannot have applied it within the API's wait: accepted, being applied.
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ id, stage });
  await held.release();
}

describe('an act for the stage GET shows, while the workflow is between two steps of it', () => {
  // The 5 s is not a margin: the step the act waits for is held by the sandbox until the answer has
  // come, so the workflow cannot react in time on any machine and the answer is always 202. (With
  // the default minutes, each case spent three minutes waiting for a reaction that cannot come.)
  withSystem({ actResultWaitMs: 5_000 });

  it('a phone verification posted before the call task is open is accepted and counts for that call', async () => {
    const callCentre = await hold('callCentre');
    const id = await create();
    await postWhileHeld(id, 'phone_verification', callCentre, () => act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED));
    await waitForTask(h, id, 'approval');
    await eventually(async () => expect(await applied(id, 'phone_verification_completed')).toHaveLength(1), 120_000);
  });

  it('a decision posted before the decision rules have run is accepted and counted once they have', async () => {
    const id = await create();
    await waitForTask(h, id, 'phone_verification');
    const bureau = await hold('creditBureau');
    expect([200, 202]).toContain((await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED)).status);
    await postWhileHeld(id, 'approval', bureau, () => act(id, 'decision', 'approver-1', 'approver', { decision: 'approve', comment: '早到的审批' }));
    const s = await waitForState(h, id, (x) => x.stage !== 'approval', { timeoutMs: 180_000 });
    expect(s.stage).toBe('signing');
    expect(s.decisions).toEqual([expect.objectContaining({ actor: 'approver-1', decision: 'approve', counted: true })]);
  });

  it('a signature posted the moment GET shows signing, before the envelope is open, is accepted and signs that envelope', async () => {
    const id = await create();
    await waitForTask(h, id, 'phone_verification');
    expect([200, 202]).toContain((await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED)).status);
    await waitForTask(h, id, 'approval');
    const esign = await hold('esign');
    expect([200, 202]).toContain((await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' })).status);
    await postWhileHeld(id, 'signing', esign, () => act(id, 'signature', 'officer-1', 'officer'));
    const s = await waitForState(h, id, (x) => x.stage === 'servicing' || x.stage === 'failed', { timeoutMs: 180_000 });
    expect(s.stage).toBe('servicing');
    const [signed] = await applied(id, 'contract_signed');
    expect(signed!.data).toMatchObject({ source: 'on_site', envelopeId: s.envelopeId });
  });
});

// What an accepted act is answered with: the state as it now is, after the act was applied and
// the workflow reacted to it (issue 22, item 5): the task it completed gone, the next one set.
describe('the answer to an accepted act', () => {
  withSystem();
  const get = async (id: string) => (await h.http.get(`/applications/${id}`).set('Authorization', await auth('watcher-1', 'officer'))).body as StateBody;

  it('a phone verification is answered without the call task it completed, and GET agrees', async () => {
    const id = await create();
    await waitForTask(h, id, 'phone_verification');
    const res = await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED);
    expect([200, 202]).toContain(res.status);
    expect(res.body.pendingTask?.kind).not.toBe('phone_verification');
    // The run's reaction goes through the next stage entry (lean-history): answered in valuation.
    if (res.status === 200) expect(res.body).toMatchObject({ stage: 'valuation', pendingTask: null });
    expect((await get(id)).pendingTask?.kind).not.toBe('phone_verification');
  });

  it('a used car signed on site is answered with the mortgage registration now owed; the registration with no task', async () => {
    const id = await create({ condition: 'used' });
    await waitForTask(h, id, 'phone_verification');
    expect([200, 202]).toContain((await act(id, 'phone-verification', 'verifier-1', 'verifier', PASSED)).status);
    await waitForTask(h, id, 'approval');
    expect([200, 202]).toContain((await act(id, 'decision', 'approver-1', 'approver', { decision: 'approve' })).status);
    await waitForTask(h, id, 'sign_contract');
    const signed = await act(id, 'signature', 'officer-1', 'officer');
    expect([200, 202]).toContain(signed.status);
    expect(signed.body).toMatchObject({ stage: 'signing', pendingTask: { kind: 'register_collateral', role: 'officer' } });
    const registered = await act(id, 'collateral-registration', 'officer-1', 'officer', { registrationRef: 'DY-2026-000777', registeredAt: new Date().toISOString() });
    expect([200, 202]).toContain(registered.status);
    expect(registered.body.pendingTask?.kind).not.toBe('register_collateral');
    expect((await waitForState(h, id, (s) => s.stage === 'servicing' || s.stage === 'failed', { timeoutMs: 180_000 })).stage).toBe('servicing');
  });
});
