import type { ActivityOptions } from '@temporalio/common';
import { FailureType } from '../../contracts/failures';

/**
 * The retry policy of each provider's activities, and the clients' per-call timeouts. Plain data
 * only: workflows import this file to declare their `proxyActivities` options. The failure types
 * the clients raise are in src/contracts/failures.ts: a business refusal is never retried, a
 * `ProviderTransientError` is, with the policy below.
 */

/** Per-call HTTP timeouts (ms) the clients use by default; each below its activity's startToClose. */
export const PROVIDER_CALL_TIMEOUT_MS = {
  ocr: 20_000,
  creditBureau: 15_000,
  callCentre: 10_000,
  valuation: 15_000,
  esign: 15_000,
  payments: 20_000,
  sms: 10_000,
  withholding: 20_000,
} as const;

const neverRetried = (refusal: FailureType): string[] => [
  refusal,
  FailureType.IdempotencyKeyReused,
  FailureType.ProviderRequestInvalid,
  FailureType.ProviderResourceNotFound,
];

export const ocrActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(FailureType.OcrRefused),
  },
};

export const creditBureauActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '2m',
    nonRetryableErrorTypes: neverRetried(FailureType.CreditReportRefused),
  },
};

export const callCentreActivityOptions: ActivityOptions = {
  startToCloseTimeout: '20s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(FailureType.CallTaskRefused),
  },
};

export const valuationActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(FailureType.ValuationRefused),
  },
};

export const esignActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(FailureType.EsignRefused),
  },
};

/**
 * No attempt limit: every attempt carries the same idempotency key, so retrying until the provider
 * answers can never pay twice, and giving up would leave the loan unpaid for no reason.
 */
export const paymentsActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: neverRetried(FailureType.PaymentRefused),
  },
};

/**
 * A pending payout is waited for here, not in the workflow: one activity that looks at the transfer
 * and fails (retryable TransferPending) while it is pending, retried every 5 s for as long as it
 * takes. The attempts are not in the workflow's history, so a day of pending adds no events;
 * a refusal is still never retried.
 */
export const transferSettlementActivityOptions: ActivityOptions = {
  ...paymentsActivityOptions,
  retry: { ...paymentsActivityOptions.retry, initialInterval: '5s', backoffCoefficient: 1, maximumInterval: '5s' },
};

/**
 * Withholding (代扣): like payouts, no attempt limit, because every attempt of one debit carries the
 * same idempotency key, so retrying until the channel answers can never debit twice. A bank's
 * answer (insufficient funds, frozen …) is a result, not a failure: only the channel's refusals of
 * the request are never retried.
 */
export const withholdingActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: neverRetried(FailureType.WithholdingRefused),
  },
};

/** Reminders lose their point after a while: stop retrying after an hour. */
export const smsActivityOptions: ActivityOptions = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '1h',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    nonRetryableErrorTypes: neverRetried(FailureType.SmsRefused),
  },
};
