/** The servicing run's activity proxies, each with its provider's retry policy. */
import { proxyActivities } from '@temporalio/workflow';
import type { createLoanEventActivities } from '../../activities/loanEvents';
import type { createLoanActivities } from '../../activities/loans';
import type { createPaymentActivities } from '../../activities/payments';
import type { createReminderActivities } from '../../activities/reminders';
import { callCentreActivityOptions, paymentsActivityOptions, smsActivityOptions } from '../../activities/providers/options';

type Activities = ReturnType<typeof createLoanActivities> &
  ReturnType<typeof createReminderActivities> &
  Pick<ReturnType<typeof createPaymentActivities>, 'refundToCustomer'> &
  Pick<ReturnType<typeof createLoanEventActivities>, 'recordLoanEvent' | 'mirrorStage'>;

export const db = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  // No attempt limit: the database coming back is all these need, and giving up would stall the loan.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
export const sms = proxyActivities<Activities>({ ...smsActivityOptions, startToCloseTimeout: '1m' });
export const calls = proxyActivities<Activities>({ ...callCentreActivityOptions, scheduleToCloseTimeout: '1h' });
export const payments = proxyActivities<Activities>(paymentsActivityOptions);
export { call } from '../call';
