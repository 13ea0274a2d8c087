/**
 * The human waits: a pending task with an SLA (at which it escalates to a supervisor) and a hard
 * deadline (at which the application expires), interrupted by a withdrawal.
 */
import { condition } from '@temporalio/workflow';
import { withdrawable } from '../../domain';
import type { PendingTask } from '../messages';
import { StageExit, type ApplicationRun } from './run';

/** Waits for `ready` until `deadlineAt` (workflow time); true when ready, false at the deadline. Withdrawal interrupts. */
export async function waitUntil(run: ApplicationRun, ready: () => boolean, deadlineAt: number, summary: string): Promise<boolean> {
  const interrupted = () => run.withdrawal !== null && withdrawable(run.state.stage);
  const wakes = () => ready() || interrupted();
  const ms = deadlineAt - run.now();
  run.waitingFor = wakes;
  const ok = ms > 0 ? await condition(wakes, ms, { summary }) : ready();
  run.waitingFor = null;
  run.wakeups++;
  run.checkWithdrawal();
  return ok && ready();
}

/** A human task past its SLA goes to a supervisor: flagged, recorded, visible in the UI and the work queue. */
async function escalate(run: ApplicationRun, task: PendingTask): Promise<void> {
  task.escalated = true;
  run.addFlag(`${task.kind.toUpperCase()}_ESCALATED`);
  await Promise.all([
    run.recordEvent('escalated', `escalated:${run.state.stageHistory.length}:${task.kind}`, { task: task.kind, to: 'supervisor', slaAt: task.slaAt }),
    run.publish(),
  ]);
}

/** Waits for a human act with an SLA (escalation) and a hard deadline (expiry). */
export async function awaitHumanAct(
  run: ApplicationRun,
  ready: () => boolean,
  task: PendingTask,
  deadlines: { slaAt: number | null; expiryAt: number },
  label: string,
  expiryReason: string,
): Promise<void> {
  const { slaAt, expiryAt } = deadlines;
  for (;;) {
    const escalating = slaAt !== null && !task.escalated && slaAt < expiryAt;
    const until = escalating ? (slaAt as number) : expiryAt;
    const summary = escalating ? `${label}: escalate at the SLA` : `${label}: expire at the deadline`;
    if (await waitUntil(run, ready, until, summary)) return;
    if (escalating) {
      await escalate(run, task);
      continue;
    }
    throw new StageExit('expired', expiryReason);
  }
}
