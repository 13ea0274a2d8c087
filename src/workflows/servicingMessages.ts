/**
 * Messages of the post-loan workflows: the per-loan servicing workflow (`loan-servicing-<loanId>`)
 * and the daily `repaymentReminders` sweep. Ids and figures only, no personal data.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { FailureType } from '../contracts/failures';
import type { ActProof } from './actProof';

export interface LoanServicingInput {
  loanId: string;
  applicationId: string;
  /** Mortgage registration (抵押登记) still owed after disbursement. */
  collateralRegistrationOutstanding: boolean;
  /** Carried across continue-as-new; absent on the first run. */
  carried?: unknown;
  /** Continue-as-new after this many instalments fell due in one run (default 6). */
  instalmentsPerRun?: number | undefined;
}

export interface LoanServicingResult {
  outcome: 'closed';
  closedAt: string;
  /** `repaid` (last instalment) or `early_payoff`. */
  how: 'repaid' | 'early_payoff';
}

export interface RepaymentRecorded {
  /** Staff id of the finance user, or `bank-feed`. */
  actor: string;
  amountFen: number;
  /** ISO timestamp the money arrived. */
  paidAt: string;
  /** The bank's payment reference: a repeat with the same reference is the same repayment. */
  reference: string;
  /** The API's signature (actProof.ts): a repayment without a valid one is refused. */
  proof?: ActProof | undefined;
}

export interface EarlyPayoffRequested {
  actor: string;
  /** ISO date (Asia/Shanghai) the payoff is quoted for. */
  asOfDate: string;
  proof?: ActProof | undefined;
}

export const repaymentRecordedSignal = defineSignal<[RepaymentRecorded]>('repaymentRecorded');
/** The API's path: answers whether the repayment was applied or already known (same reference). */
export const repaymentRecordedUpdate = defineUpdate<ServicingState, [RepaymentRecorded]>('repaymentRecordedUpdate');
/** The application's collateralRegistered act, forwarded by its workflow with the API's proof for that workflow. */
export const collateralRegisteredLateSignal = defineSignal<[{ actor: string; actId?: string | undefined; registrationRef: string; registeredAt: string; proof?: ActProof | undefined }]>(
  'collateralRegistered',
);
export const earlyPayoffRequestedSignal = defineSignal<[EarlyPayoffRequested]>('earlyPayoffRequested');
/** The same request answered synchronously: the state carries the quote (or the update is refused). */
export const earlyPayoffRequestedUpdate = defineUpdate<ServicingState, [EarlyPayoffRequested]>('earlyPayoffRequestedUpdate');

/** Type of the ApplicationFailure a servicing update's validator throws; details: [a WorkflowRefusal (refusals.ts)]. */
export const SERVICING_REFUSED = FailureType.ServicingRequestRefused;
export type ServicingRefusalCode = 'INVALID_AMOUNT' | 'INVALID_REFERENCE' | 'INVALID_PAID_AT' | 'INVALID_PAYOFF_DATE' | 'LOAN_CLOSED' | 'NOT_AUTHENTICATED';

/** What became of one repayment (the update's answer carries it as `lastRepayment`). */
export interface RepaymentOutcome {
  reference: string;
  /** `duplicate`: this reference was recorded before, nothing changed. */
  outcome: 'applied' | 'duplicate' | 'rejected';
  reason: string | null;
  kind: 'regular' | 'early_payoff';
  allocations: { seq: number; amountFen: number }[];
}

export type ServicingStatus = 'active' | 'closed';
export type OverdueBucket = 'M1' | 'M2' | 'M3' | 'M3+';

export interface ServicingState {
  loanId: string;
  applicationId: string;
  status: ServicingStatus;
  bucket: OverdueBucket | null;
  outstandingPrincipalFen: number;
  /** Money received beyond what is due, applied to the next instalments. */
  creditFen: number;
  nextDue: { seq: number; dueDate: string; amountFen: number } | null;
  collateralRegistrationOutstanding: boolean;
  repaymentReferences: number;
  payoffQuote: { asOfDate: string; amountFen: number } | null;
  /** Set on the answer of repaymentRecordedUpdate. */
  lastRepayment?: RepaymentOutcome | undefined;
}

export const servicingStateQuery = defineQuery<ServicingState>('servicingState');
