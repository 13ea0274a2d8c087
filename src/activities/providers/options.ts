import type { ActivityOptions } from '@temporalio/common';

/**
 * Failure types the provider clients raise and the retry policy of each provider's activities.
 * Plain data and types only: workflows import this file to declare their `proxyActivities` options.
 *
 * A business refusal (the provider answered 409/422 with a code) is a non-retryable
 * ApplicationFailure of the provider's refusal type, its details `[{ provider, operation, status,
 * code }]`. A transient fault (5xx, 408/429, timeout, network error) is a `ProviderTransientError`,
 * which Temporal retries with the policy below.
 */
export const ProviderFailureType = {
  OcrRefused: 'OcrRefused',
  CreditReportRefused: 'CreditReportRefused',
  CallTaskRefused: 'CallTaskRefused',
  ValuationRefused: 'ValuationRefused',
  EsignRefused: 'EsignRefused',
  PaymentRefused: 'PaymentRefused',
  SmsRefused: 'SmsRefused',
  /** The same idempotency key was sent with another body: a bug in the caller, never retried. */
  IdempotencyKeyReused: 'IdempotencyKeyReused',
  /** The provider rejected the request as malformed (400): retrying the same request cannot help. */
  ProviderRequestInvalid: 'ProviderRequestInvalid',
  /** An id we hold is unknown to the provider (404). */
  ProviderResourceNotFound: 'ProviderResourceNotFound',
  /** Retryable: 5xx, 401/403/408/429, timeout, network error. */
  ProviderTransientError: 'ProviderTransientError',
} as const;
export type ProviderFailureType = (typeof ProviderFailureType)[keyof typeof ProviderFailureType];

/** What a refusal's ApplicationFailure carries as its first detail. */
export interface ProviderRefusalDetails {
  provider: string;
  operation: string;
  status: number;
  code: string;
}

/** Per-call HTTP timeouts (ms) the clients use by default; each below its activity's startToClose. */
export const PROVIDER_CALL_TIMEOUT_MS = {
  ocr: 20_000,
  creditBureau: 15_000,
  callCentre: 10_000,
  valuation: 15_000,
  esign: 15_000,
  payments: 20_000,
  sms: 10_000,
} as const;

const neverRetried = (refusal: ProviderFailureType): string[] => [
  refusal,
  ProviderFailureType.IdempotencyKeyReused,
  ProviderFailureType.ProviderRequestInvalid,
  ProviderFailureType.ProviderResourceNotFound,
];

export const ocrActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.OcrRefused),
  },
};

export const creditBureauActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '2m',
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.CreditReportRefused),
  },
};

export const callCentreActivityOptions: ActivityOptions = {
  startToCloseTimeout: '20s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.CallTaskRefused),
  },
};

export const valuationActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.ValuationRefused),
  },
};

export const esignActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.EsignRefused),
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
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.PaymentRefused),
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
    nonRetryableErrorTypes: neverRetried(ProviderFailureType.SmsRefused),
  },
};
