import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { REMINDERS_SCHEDULE_ID, REMINDERS_WORKFLOW_ID_PREFIX } from '../domain/ids';

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
