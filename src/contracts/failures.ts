import { ActivityFailure, ApplicationFailure } from '@temporalio/common';

/**
 * Every type of ApplicationFailure the system raises, in one registry, and the one decoder of the
 * refusals they carry. Activities raise them, workflows and the API read them, so this module is
 * plain data over @temporalio/common: workflow code imports it.
 *
 * A business refusal is non-retryable and carries `[{ code, … }]` as its details: a provider's
 * 409/422 (`{ provider, operation, status, code }`), a workflow's refusal of a message
 * (`{ code, stage, message }` for an act). A transient fault is a ProviderTransientError, which
 * Temporal retries with the activity's policy.
 */
export const FailureType = {
  // A provider refused the request (409/422 with a code).
  OcrRefused: 'OcrRefused',
  CreditReportRefused: 'CreditReportRefused',
  CallTaskRefused: 'CallTaskRefused',
  ValuationRefused: 'ValuationRefused',
  EsignRefused: 'EsignRefused',
  PaymentRefused: 'PaymentRefused',
  SmsRefused: 'SmsRefused',
  WithholdingRefused: 'WithholdingRefused',
  /** The same idempotency key was sent with another body: a bug in the caller, never retried. */
  IdempotencyKeyReused: 'IdempotencyKeyReused',
  /** The provider rejected the request as malformed (400): retrying the same request cannot help. */
  ProviderRequestInvalid: 'ProviderRequestInvalid',
  /** An id we hold is unknown to the provider (404). */
  ProviderResourceNotFound: 'ProviderResourceNotFound',
  /** Retryable: 5xx, 401/403/408/429, timeout, network error. */
  ProviderTransientError: 'ProviderTransientError',

  // Our own records.
  /** No application row with this id: the API did not persist it (or a wrong id was started). */
  ApplicationNotFound: 'ApplicationNotFound',
  /** A document id the workflow was given does not belong to the application. */
  DocumentNotFound: 'DocumentNotFound',
  /** The application has no vehicle row: nothing to value or lend against. */
  VehicleMissing: 'VehicleMissing',
  /** No account to pay out to (the customer has none on file and the sandbox fallback is off). */
  PayeeAccountMissing: 'PayeeAccountMissing',
  LoanNotFound: 'LoanNotFound',
  /** createLoan was called again for the application with different terms: a bug upstream. */
  LoanTermsConflict: 'LoanTermsConflict',

  // A workflow refused a message (an update's validator): nothing was applied.
  /** The loan-application workflow refused a human act; details `[ActRefusal]`. */
  ActRefused: 'ActRefused',
  /** The servicing workflow refused a repayment or a payoff request; details `[{ code }]`. */
  ServicingRequestRefused: 'ServicingRequestRefused',

  // A process that failed visibly for an engineer to look at.
  /** The daily reminder sweep stopped at a page (re-running it resumes; nothing is sent twice). */
  ReminderSweepFailed: 'ReminderSweepFailed',
  /** The reconciler's activity ran on a worker built without a Temporal client. */
  ReconcilerNotConfigured: 'ReconcilerNotConfigured',

  // Retryable on purpose: an activity that waits for an outside system by failing until it is done.
  /** A payout is still pending at the bank: awaitTransferSettled is retried until it settles. */
  TransferPending: 'TransferPending',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** What a refusal's ApplicationFailure carries as its first detail (a provider's adds where it came from). */
export interface RefusalDetails {
  code: string;
  provider?: string;
  operation?: string;
  status?: number;
}

/** The ApplicationFailure inside `err` (an activity's or an update's failure wraps it), if any. */
function applicationFailure(err: unknown): ApplicationFailure | null {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ApplicationFailure) return e;
  }
  return null;
}

/** The first detail of a refusal of `type`, or null when `err` is not one. */
export function refusalDetails<D = RefusalDetails>(err: unknown, type: FailureType): Partial<D> | null {
  const failure = applicationFailure(err);
  if (!failure || failure.type !== type) return null;
  const details = failure.details?.[0];
  return details && typeof details === 'object' ? (details as Partial<D>) : {};
}

/** The refusal's code when `err` is a refusal of `type` ('refused' if it names none), else null. */
export function refusalCode(err: unknown, type: FailureType): string | null {
  const details = refusalDetails(err, type);
  if (details === null) return null;
  return typeof details.code === 'string' ? details.code : 'refused';
}

/**
 * A reason code for an activity that failed for good: its failure type and code
 * (`PaymentRefused:account_closed`), `ActivityFailed` when it gave none, null when `err` is not an
 * activity's failure at all (a bug in workflow code, which must not pass for a business outcome).
 */
export function activityFailureReason(err: unknown): string | null {
  if (!(err instanceof ActivityFailure)) return null;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return 'ActivityFailed';
  const code = (cause.details?.[0] as Partial<RefusalDetails> | undefined)?.code;
  return `${cause.type ?? 'ActivityFailed'}${typeof code === 'string' ? `:${code}` : ''}`;
}
