/** The activities the application workflow calls, each group with the retry policy of the system it calls. */
import { proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityFunctionWithOptions, type LocalActivityOptions } from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { CreateLoanInput, CreateLoanResult } from '../../activities/contracts';
import {
  callCentreActivityOptions,
  creditBureauActivityOptions,
  esignActivityOptions,
  ocrActivityOptions,
  paymentsActivityOptions,
  smsActivityOptions,
  transferSettlementActivityOptions,
  valuationActivityOptions,
} from '../../activities/providers/options';

const databaseOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};
export const db = proxyActivities<Activities>(databaseOptions);
/**
 * The database steps of runs on the lean path (the bookkeeping of loan_events and the applications
 * row, the application's reads and screen): local activities, run by the worker inside the workflow
 * task and recorded as one marker each, not three events and a workflow task of their own. Retried like any database write; after a minute of backoff
 * the SDK waits on a timer between attempts instead of holding the workflow task.
 */
/**
 * Local activities whose failure reads as an activity's: an ActivityFailure with the activity's own
 * failure as its cause (the SDK hands a local activity's cause over bare), so that the stages and
 * the pipeline judge a step the same whichever way it ran (activityFailureReason, refusalCode).
 */
function failingAsActivities<T extends object>(proxy: T): T {
  const asActivityFailure = (name: string) => (err: unknown) => {
    throw err instanceof ApplicationFailure ? new ActivityFailure(err.message, name, undefined, RetryState.NON_RETRYABLE_FAILURE, undefined, err) : err;
  };
  return new Proxy(proxy, {
    get(target, name) {
      const fn = Reflect.get(target, name) as LocalActivityFunctionWithOptions<(...args: unknown[]) => Promise<unknown>>;
      const run = (options: LocalActivityOptions, args: unknown[]) => fn.executeWithOptions(options, args).catch(asActivityFailure(String(name)));
      return Object.assign((...args: unknown[]) => run({}, args), { executeWithOptions: run });
    },
  });
}

const localDatabaseOptions: LocalActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  localRetryThreshold: '1m',
};
export const localDb = failingAsActivities(proxyLocalActivities<Activities>(localDatabaseOptions));
export const ocr = proxyActivities<Activities>(ocrActivityOptions);
export const callCentre = proxyActivities<Activities>(callCentreActivityOptions);
export const valuation = proxyActivities<Activities>(valuationActivityOptions);
export const creditBureau = proxyActivities<Activities>(creditBureauActivityOptions);
export const esign = proxyActivities<Activities>(esignActivityOptions);
export const payments = proxyActivities<Activities>(paymentsActivityOptions);
/** A pending payout's settlement: one activity retried at a fixed interval until the transfer settles. */
export const settlement = proxyActivities<Activities>(transferSettlementActivityOptions);
export const sms = proxyActivities<Activities>(smsActivityOptions);
/** src/activities/loans.ts registers createLoan; its contract is in contracts.ts. */
type LoanActivities = { createLoan(input: CreateLoanInput): Promise<CreateLoanResult> };
export const loans = proxyActivities<LoanActivities>(databaseOptions);
export const localLoans = failingAsActivities(proxyLocalActivities<LoanActivities>(localDatabaseOptions));

/** Every activity is called with its summary (`call(fn, summary, ...args)`). */
export { call } from '../call';
