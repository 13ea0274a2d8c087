/** The activities the application workflow calls, each group with the retry policy of the system it calls. */
import { proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityFunctionWithOptions, type LocalActivityInterfaceFor, type LocalActivityOptions } from '@temporalio/workflow';
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
 * A run's local activities, one at a time, in the order asked for (the next starts once the one
 * before has settled), each failing as an activity does.
 *
 * One at a time: live, local activities resolve in the order they finish, each in an activation of
 * its own; on replay, from their markers, together. Two in flight at once (an act's bookkeeping and
 * the main flow's next read) would let the code each wakes issue its commands in one order live and
 * in another on replay: an update completed before an activity was scheduled, then after it, a
 * non-determinism error (test/workflow/loanApplication.localActivityOrder.test.ts). With one in
 * flight, each resolution wakes the same code at the same point both ways.
 *
 * Failing as activities: an ActivityFailure with the activity's own failure as its cause (the SDK
 * hands a local activity's cause over bare), so that the stages and the pipeline judge a step the
 * same whichever way it ran (activityFailureReason, refusalCode).
 */
function oneAtATime<T extends object>(proxy: T, queue: { last: Promise<unknown> }): T {
  const asActivityFailure = (name: string) => (err: unknown) => {
    throw err instanceof ApplicationFailure ? new ActivityFailure(err.message, name, undefined, RetryState.NON_RETRYABLE_FAILURE, undefined, err) : err;
  };
  return new Proxy(proxy, {
    get(target, name) {
      const fn = Reflect.get(target, name) as LocalActivityFunctionWithOptions<(...args: unknown[]) => Promise<unknown>>;
      const run = (options: LocalActivityOptions, args: unknown[]) => {
        const step = queue.last.then(() => fn.executeWithOptions(options, args)).catch(asActivityFailure(String(name)));
        queue.last = step.catch(() => undefined);
        return step;
      };
      return Object.assign((...args: unknown[]) => run({}, args), { executeWithOptions: run });
    },
  });
}

const localDatabaseOptions: LocalActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  localRetryThreshold: '1m',
};
/** src/activities/loans.ts registers createLoan; its contract is in contracts.ts. */
type LoanActivities = { createLoan(input: CreateLoanInput): Promise<CreateLoanResult> };

/**
 * One run's database steps on the lean path (the bookkeeping of loan_events and the applications
 * row, the application's reads and screen, the loan's booking): local activities, run by the worker
 * inside the workflow task and recorded as one marker each, not three events and a workflow task of
 * their own; one at a time. Retried like any database write; after a minute of backoff the SDK waits
 * on a timer between attempts instead of holding the workflow task.
 */
export type LocalSteps = { db: LocalActivityInterfaceFor<Activities>; loans: LocalActivityInterfaceFor<LoanActivities> };
export function localSteps(): LocalSteps {
  const queue = { last: Promise.resolve() as Promise<unknown> };
  return {
    db: oneAtATime(proxyLocalActivities<Activities>(localDatabaseOptions), queue),
    loans: oneAtATime(proxyLocalActivities<LoanActivities>(localDatabaseOptions), queue),
  };
}

export const ocr = proxyActivities<Activities>(ocrActivityOptions);
export const callCentre = proxyActivities<Activities>(callCentreActivityOptions);
export const valuation = proxyActivities<Activities>(valuationActivityOptions);
export const creditBureau = proxyActivities<Activities>(creditBureauActivityOptions);
export const esign = proxyActivities<Activities>(esignActivityOptions);
export const payments = proxyActivities<Activities>(paymentsActivityOptions);
/** A pending payout's settlement: one activity retried at a fixed interval until the transfer settles. */
export const settlement = proxyActivities<Activities>(transferSettlementActivityOptions);
export const sms = proxyActivities<Activities>(smsActivityOptions);
export const loans = proxyActivities<LoanActivities>(databaseOptions);

/** Every activity is called with its summary (`call(fn, summary, ...args)`). */
export { call } from '../call';
