import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq } from 'drizzle-orm';
import { loanEvents } from '../../../src/db/schema';
import { temporalCli } from '../../../src/temporal/binaries';
import { EmergencyAct } from '../../../src/workflows/searchAttributes';
import { approvalDecisionSignal, approvalDecisionUpdate, stateQuery, type ActRefusal, type ApprovalDecision, type LoanState } from '../../../src/workflows/messages';
import { signAct } from '../../helpers/acts';
import { applicationBody, sleep, startApiHarness, waitForState, waitForTask, type ApiHarness } from './harness';

// Issue 15, finding 1: four eyes bypassed through Temporal. Against a real dev server with the API
// and a real worker: the forged signal and update of the finding, sent with the real `temporal`
// CLI under two invented approvers, are refused and recorded and the application stays where it
// is; so are a tampered act, a proof for another workflow and a replayed act; a late proof is sent
// back to its sender. The API's own acts, and the admins' emergency path, still work.

const run = promisify(execFile);
let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(() => h?.stop());

const auth = async (sub: string, ...roles: Parameters<ApiHarness['token']>[1][]) => `Bearer ${await h.token(sub, ...roles)}`;
const PASSED = { outcome: 'passed', recordingRef: 'rec-1', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

/** The `temporal` CLI against the harness's dev server, as an intruder on the frontend would use it. */
function cli(...args: string[]) {
  const bin = temporalCli();
  if (bin.type !== 'existing-path') throw new Error('this test needs the temporal CLI binary (npm run tools)');
  return run(bin.path, [...args, '--address', h.env.address, '--namespace', h.env.namespace ?? 'default'], { timeout: 60_000 });
}

async function refusedEvents(id: string) {
  return h.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, 'act_refused')));
}

async function state(workflowId: string): Promise<LoanState> {
  return h.env.client.workflow.getHandle(workflowId).query(stateQuery);
}

async function until(workflowId: string, ready: (s: LoanState) => boolean): Promise<LoanState> {
  for (let i = 0; ; i++) {
    const s = await state(workflowId);
    if (ready(s)) return s;
    if (i > 600) throw new Error(`timed out; refused acts ${JSON.stringify(s.refusedActs)}`);
    await sleep(100);
  }
}

function refusalOf(err: unknown): ActRefusal {
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as ApplicationFailure).details?.[0] as ActRefusal;
}

it('refuses and records the forged approvals of finding 1 and every other act the API did not sign', async () => {
  // 250,000 CNY: four eyes. Through the API to the approvers' queue.
  const created = await h.http.post('/applications').set('Authorization', await auth('officer-1', 'officer')).send(applicationBody({ amountFen: 25_000_000 }));
  expect(created.status).toBe(201);
  const { id, workflowId } = created.body as { id: string; workflowId: string };
  await waitForTask(h, id, 'phone_verification');
  expect((await h.http.post(`/applications/${id}/phone-verification`).set('Authorization', await auth('verifier-1', 'verifier')).send(PASSED)).status).toBeLessThan(300);
  await waitForTask(h, id, 'approval');

  // The finding, verbatim: a signal, then again under a second invented name.
  for (const ghost of ['ghost-approver-1', 'ghost-approver-2']) {
    await cli('workflow', 'signal', '--workflow-id', workflowId, '--name', 'approvalDecision', '--input', JSON.stringify({ actor: ghost, decision: 'approve' }));
  }
  // `temporal workflow update execute` the same: the CLI reports the refusal.
  for (const ghost of ['ghost-approver-3', 'ghost-approver-4']) {
    const sent = cli('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'approvalDecisionUpdate', '--input', JSON.stringify({ actor: ghost, decision: 'approve' }));
    await expect(sent).rejects.toMatchObject({ stderr: expect.stringMatching(/proof/) });
  }
  let s = await until(workflowId, (x) => x.refusedActs.length === 4);
  expect(s.refusedActs).toEqual(
    ['ghost-approver-1', 'ghost-approver-2', 'ghost-approver-3', 'ghost-approver-4'].map((actor) =>
      expect.objectContaining({ act: 'approvalDecision', actor, code: 'NOT_AUTHENTICATED', problem: 'missing' }),
    ),
  );
  expect(s.stage).toBe('approval');
  expect(s.pendingTask?.approvedBy).toEqual([]);
  expect(s.decisions).toEqual([]);
  const recorded = await refusedEvents(id);
  expect(recorded.map((e) => [e.actor, (e.data as { via: string }).via, (e.data as { code: string }).code]).sort()).toEqual([
    ['ghost-approver-1', 'signal', 'NOT_AUTHENTICATED'],
    ['ghost-approver-2', 'signal', 'NOT_AUTHENTICATED'],
    ['ghost-approver-3', 'update', 'NOT_AUTHENTICATED'],
    ['ghost-approver-4', 'update', 'NOT_AUTHENTICATED'],
  ]);

  const handle = h.env.client.workflow.getHandle(workflowId);
  const approval = (actor: string, extra: Partial<ApprovalDecision> = {}) => signAct('approvalDecision', workflowId, { actor, decision: 'approve' as const, ...extra });

  // Tampered: signed for one amount, sent with another.
  const tampered = { ...(await approval('approver-1', { actId: 'a-tampered', amountFen: 20_000_000 })), amountFen: 25_000_000 };
  expect(refusalOf(await handle.executeUpdate(approvalDecisionUpdate, { args: [tampered] }).catch((e: unknown) => e))).toMatchObject({ code: 'NOT_AUTHENTICATED' });
  // A real proof, but for another application's workflow.
  const elsewhere = await signAct('approvalDecision', 'loan-application-someone-else', { actor: 'approver-1', decision: 'approve' as const });
  await handle.signal(approvalDecisionSignal, elsewhere);
  s = await until(workflowId, (x) => x.refusedActs.length === 6);
  expect(s.refusedActs.slice(4).map((r) => r.problem)).toEqual(['tampered', 'wrong_workflow']);

  // Late: a proof issued 20 minutes ago is sent back to its sender (who signs anew), not recorded as forged.
  const late = await signAct('approvalDecision', workflowId, { actor: 'approver-1', decision: 'approve' as const, actId: 'a-late' }, { nowMs: Date.now() - 20 * 60_000 });
  expect(refusalOf(await handle.executeUpdate(approvalDecisionUpdate, { args: [late] }).catch((e: unknown) => e))).toMatchObject({ code: 'NOT_AUTHENTICATED', message: expect.stringMatching(/expired/) });

  // Signed as the API signs: counts. Replayed (same act id), by update or by signal: refused.
  const first = await approval('approver-1', { actId: 'a-1' });
  expect((await handle.executeUpdate(approvalDecisionUpdate, { args: [first] })).pendingTask?.approvedBy).toEqual(['approver-1']);
  expect(refusalOf(await handle.executeUpdate(approvalDecisionUpdate, { args: [first] }).catch((e: unknown) => e)).code).toBe('ALREADY_APPLIED');
  await handle.signal(approvalDecisionSignal, first);
  s = await until(workflowId, (x) => x.refusedActs.length === 7);
  expect(s.refusedActs[6]).toMatchObject({ actor: 'approver-1', code: 'ALREADY_APPLIED' });
  expect(s.stage).toBe('approval');
  expect(s.pendingTask?.approvedBy).toEqual(['approver-1']);

  // The second approval through the API's emergency path: an admin with a reason code, flagged.
  const body = { act: 'approvalDecision', reasonCode: 'STAFF_UNAVAILABLE', reason: 'Both approvers of BJ-001 on leave; ticket INC-4711', payload: { decision: 'approve' } };
  expect((await h.http.post(`/applications/${id}/emergency-acts`).set('Authorization', await auth('approver-2', 'approver')).send(body)).status).toBe(403);
  const emergency = await h.http.post(`/applications/${id}/emergency-acts`).set('Authorization', await auth('Engineer-1', 'admin')).send(body);
  expect(emergency.status).toBe(200);
  const signing = await waitForState(h, id, (x) => x.stage === 'signing');
  expect(signing.flags).toContain('EMERGENCY_ACT');
  expect((await handle.describe()).typedSearchAttributes.get(EmergencyAct)).toBe('STAFF_UNAVAILABLE');
  const decided = (await h.db.db.select().from(loanEvents).where(eq(loanEvents.applicationId, id)).orderBy(asc(loanEvents.seq))).filter((e) => e.kind === 'approval_decision' && !e.eventKey.startsWith('api:'));
  expect(decided.map((e) => [e.actor, (e.data as { emergency?: unknown }).emergency ?? null])).toEqual([
    ['approver-1', null],
    ['engineer-1', { reasonCode: 'STAFF_UNAVAILABLE' }],
  ]);
  const audited = (await h.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, 'emergency_act'))))[0];
  expect(audited).toMatchObject({ actor: 'engineer-1', data: expect.objectContaining({ act: 'approvalDecision', reasonCode: 'STAFF_UNAVAILABLE', reason: body.reason }) });
});

it('knows a person however the token spells them: PROBE-CASE cannot approve what probe-case submitted (finding 6)', async () => {
  const created = await h.http.post('/applications').set('Authorization', await auth('probe-case', 'officer', 'approver')).send(applicationBody());
  expect(created.status).toBe(201);
  const { id } = created.body as { id: string };
  await waitForTask(h, id, 'phone_verification');
  expect((await h.http.post(`/applications/${id}/phone-verification`).set('Authorization', await auth('verifier-1', 'verifier')).send(PASSED)).status).toBeLessThan(300);
  await waitForTask(h, id, 'approval');
  const res = await h.http.post(`/applications/${id}/decision`).set('Authorization', await auth('PROBE-CASE', 'approver')).send({ decision: 'approve' });
  expect(res.status).toBe(403);
  expect(res.body).toMatchObject({ code: 'SUBMITTER_CANNOT_APPROVE' });
  expect((await h.http.post(`/applications/${id}/decision`).set('Authorization', await auth('approver-1', 'approver')).send({ decision: 'approve' })).status).toBe(200);
  await waitForState(h, id, (x) => x.stage === 'signing');
});
