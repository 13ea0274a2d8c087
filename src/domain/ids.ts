/**
 * Every name and id the system derives, in one place: the task queue and the worker deployment
 * (src/config.ts takes its defaults from here), the workflow ids, the loan id, the payout's
 * idempotency key and the Schedules. Each id is derived from the application or the loan, never
 * random, so a retry, a second API process or a replay finds the same thing. Pure (no Node APIs):
 * workflow code imports it.
 */

/** The task queue every worker polls and every start uses (`TEMPORAL_TASK_QUEUE`). */
export const TASK_QUEUE = 'car-loans';
/** The Worker Deployment the workers register their build under (`WORKER_DEPLOYMENT_NAME`). */
export const WORKER_DEPLOYMENT_NAME = 'car-loans';

export const loanApplicationWorkflowId = (applicationId: string): string => `loan-application-${applicationId}`;
export const loanServicingWorkflowId = (loanId: string): string => `loan-servicing-${loanId}`;

/** One loan per application. */
export const loanIdForApplication = (applicationId: string): string => `L-${applicationId}`;

/** One payout key per application, whatever the attempt or the run: the loan is paid exactly once. */
export const disbursementKey = (applicationId: string): string => `${loanApplicationWorkflowId(applicationId)}/disbursement`;
/** What the beneficiary's statement shows, and what the payment ledger is searched by. */
export const disbursementReference = (applicationId: string): string => loanApplicationWorkflowId(applicationId);
/** One key per refund of a loan: the money goes back once. */
export const refundKey = (loanId: string, refundId: string): string => `${loanServicingWorkflowId(loanId)}/refund/${refundId}`;

/** The daily repayment-reminder Schedule, and the prefix of the sweeps it starts (it appends the time). */
export const REMINDERS_SCHEDULE_ID = 'repayment-reminders-daily';
export const REMINDERS_WORKFLOW_ID_PREFIX = 'repayment-reminders';
/** The reconciler's Schedule, and the prefix of the runs it starts (the Schedule appends the time). */
export const RECONCILER_SCHEDULE_ID = 'application-reconciler';
export const RECONCILER_WORKFLOW_ID = 'application-reconciler';
