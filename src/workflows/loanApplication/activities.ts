/** The activities the application workflow calls, each group with the retry policy of the system it calls. */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
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
export const loans = proxyActivities<{ createLoan(input: CreateLoanInput): Promise<CreateLoanResult> }>(databaseOptions);

/** Every activity is called with its summary (`call(fn, summary, ...args)`). */
export { call } from '../call';
