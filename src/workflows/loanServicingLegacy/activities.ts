/** The previous release's activity proxies, with the options that release scheduled them with. */
import { proxyActivities } from '@temporalio/workflow';
import type { createLoanEventActivities } from '../../activities/loanEvents';
import type { createLoanActivities } from '../../activities/loans';
import type { createReminderActivities } from '../../activities/reminders';
import { callCentreActivityOptions, smsActivityOptions } from '../../activities/providers/options';

/** The activities this run calls (registered by src/activities/index.ts). */
type ServicingActivities = ReturnType<typeof createLoanActivities> &
  ReturnType<typeof createReminderActivities> &
  Pick<ReturnType<typeof createLoanEventActivities>, 'recordLoanEvent'>;

export const db = proxyActivities<ServicingActivities>({
  startToCloseTimeout: '30s',
  // No attempt limit: the database coming back is all these need, and giving up would stall the loan.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
export const sms = proxyActivities<ServicingActivities>({ ...smsActivityOptions, startToCloseTimeout: '1m' });
export const calls = proxyActivities<ServicingActivities>({ ...callCentreActivityOptions, scheduleToCloseTimeout: '1h' });
