import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { RECONCILER_SCHEDULE_ID, RECONCILER_WORKFLOW_ID, REMINDERS_SCHEDULE_ID, REMINDERS_WORKFLOW_ID_PREFIX } from '../domain/ids';

/**
 * The Temporal Schedule that starts the daily repayment-reminder sweep: 08:00 every day in
 * Asia/Shanghai (the time zone is on the spec, so the server does the calendar), never two sweeps
 * at once (SKIP: a sweep still running when the next is due means that one is dropped, and the
 * running one already covers the day's reminders), and a catch-up window so a cluster that was down
 * at 08:00 still sends the day's reminders when it comes back the same morning. Engineers trigger
 * it by hand from the Temporal UI (Schedules → repayment-reminders-daily → Trigger) or with
 * `npm run -s schedule -- trigger`.
 */
export const REMINDERS_SCHEDULE = {
  hour: 8,
  minute: 0,
  timezone: 'Asia/Shanghai',
  catchupWindow: '6 hours',
  workflowType: 'repaymentReminders',
  /** The Schedule appends the scheduled time to this, one id per day. */
  workflowIdPrefix: REMINDERS_WORKFLOW_ID_PREFIX,
} as const;

export interface ReminderScheduleOptions {
  taskQueue: string;
  /** Default REMINDERS_SCHEDULE_ID; tests use their own. */
  scheduleId?: string;
}

function definition(opts: ReminderScheduleOptions) {
  return {
    spec: {
      calendars: [{ hour: REMINDERS_SCHEDULE.hour, minute: REMINDERS_SCHEDULE.minute, comment: 'daily reminders, 08:00 Shanghai' }],
      timezone: REMINDERS_SCHEDULE.timezone,
    },
    action: {
      type: 'startWorkflow' as const,
      workflowType: REMINDERS_SCHEDULE.workflowType,
      workflowId: REMINDERS_SCHEDULE.workflowIdPrefix,
      taskQueue: opts.taskQueue,
      // No date: each run reminds for the Shanghai day it starts on (workflow time).
      args: [{}],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: REMINDERS_SCHEDULE.catchupWindow },
  };
}

/**
 * Creates the Schedule, or brings an existing one to this definition (spec, action, policies),
 * keeping its state: a Schedule an engineer paused stays paused. Safe at every worker start and
 * from several workers at once.
 */
export async function ensureReminderSchedule(client: Client, opts: ReminderScheduleOptions): Promise<'created' | 'updated'> {
  const scheduleId = opts.scheduleId ?? REMINDERS_SCHEDULE_ID;
  const def = definition(opts);
  try {
    await client.schedule.create({
      scheduleId,
      ...def,
      state: { note: 'Daily repayment reminders (created at worker start; see src/temporal/schedules.ts)' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((prev: ScheduleDescription) => ({
    ...prev,
    spec: def.spec,
    action: def.action,
    policies: { ...prev.policies, ...def.policies },
  }));
  return 'updated';
}

export interface ReconcilerScheduleOptions {
  taskQueue: string;
  /** RECONCILE_EVERY_MS: how often it runs. */
  everyMs: number;
  /** ORPHAN_AFTER_MS: how old an application without a workflow must be to count as an orphan. */
  orphanAfterMs: number;
  /** Default RECONCILER_SCHEDULE_ID; tests use their own. */
  scheduleId?: string;
}

/**
 * The Schedule that starts the reconciler (src/workflows/applicationReconciler.ts) every
 * `everyMs`: never two at once (SKIP), a short catch-up window (one run after an outage covers
 * everything missed), and an execution timeout so a run stuck without a worker does not hold the
 * Schedule forever. Created or brought up to date like the reminders' Schedule, keeping its state.
 */
export async function ensureReconcilerSchedule(client: Client, opts: ReconcilerScheduleOptions): Promise<'created' | 'updated'> {
  const scheduleId = opts.scheduleId ?? RECONCILER_SCHEDULE_ID;
  const seconds = Math.round(opts.orphanAfterMs / 1000);
  const def = {
    spec: { intervals: [{ every: opts.everyMs }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'reconcileApplications',
      workflowId: RECONCILER_WORKFLOW_ID,
      taskQueue: opts.taskQueue,
      args: [{ olderThanMs: opts.orphanAfterMs }],
      workflowExecutionTimeout: '15 minutes',
      staticSummary: `Start the workflow of every application committed more than ${seconds} s ago without one`,
      staticDetails:
        'An application whose API died between the database commit and the workflow start (or whose start Temporal did not answer) is an orphan. This run starts each by its workflow id, as the API would; the orphan\'s own intake screen then decides whether it may go on. See src/workflows/applicationReconciler.ts.',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  };
  try {
    await client.schedule.create({
      scheduleId,
      ...def,
      state: { note: 'Starts the workflows of orphaned applications (created at worker start; see src/temporal/schedules.ts)' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((prev: ScheduleDescription) => ({
    ...prev,
    spec: def.spec,
    action: def.action,
    policies: { ...prev.policies, ...def.policies },
  }));
  return 'updated';
}

export interface ScheduleSettings {
  taskQueue: string;
  RECONCILE_EVERY_MS: number;
  ORPHAN_AFTER_MS: number;
}

/**
 * Every Schedule of the system, created or updated; each failure is reported, not thrown (a key
 * without schedule rights must not stop a worker). Run at every worker start: idempotent.
 */
export async function ensureSchedules(client: Client, s: ScheduleSettings, log: { info(o: object, m: string): void; error(o: object, m: string): void }): Promise<void> {
  const all: [string, () => Promise<'created' | 'updated'>][] = [
    [REMINDERS_SCHEDULE_ID, () => ensureReminderSchedule(client, { taskQueue: s.taskQueue })],
    [RECONCILER_SCHEDULE_ID, () => ensureReconcilerSchedule(client, { taskQueue: s.taskQueue, everyMs: s.RECONCILE_EVERY_MS, orphanAfterMs: s.ORPHAN_AFTER_MS })],
  ];
  for (const [scheduleId, ensure] of all) {
    try {
      log.info({ scheduleId, outcome: await ensure() }, 'schedule ensured');
    } catch (err) {
      log.error({ scheduleId, err: (err as Error).message }, 'could not ensure the schedule');
    }
  }
}

/** What an engineer wants to see of the Schedule: its definition and its next and recent runs. */
export async function describeReminderSchedule(client: Client, scheduleId: string = REMINDERS_SCHEDULE_ID) {
  const d = await client.schedule.getHandle(scheduleId).describe();
  return {
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    note: d.state.note ?? null,
    calendars: d.spec.calendars,
    timezone: d.spec.timezone ?? null,
    overlap: d.policies.overlap,
    catchupWindowMs: d.policies.catchupWindow,
    workflowType: d.action.workflowType,
    taskQueue: d.action.taskQueue,
    nextActionTimes: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recentActions: d.info.recentActions.slice(-5).map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
  };
}
