/**
 * Messages of the post-loan workflows: the per-loan servicing workflow (`loan-servicing-<loanId>`)
 * and the daily `repaymentReminders` sweep. Ids and figures only, no personal data.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export interface LoanServicingInput {
  loanId: string;
  applicationId: string;
  /** Mortgage registration (抵押登记) still owed after disbursement. */
  collateralRegistrationOutstanding: boolean;
  /** Carried across continue-as-new; absent on the first run. */
  carried?: unknown;
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
}

export interface EarlyPayoffRequested {
  actor: string;
  /** ISO date (Asia/Shanghai) the payoff is quoted for. */
  asOfDate: string;
}

export const repaymentRecordedSignal = defineSignal<[RepaymentRecorded]>('repaymentRecorded');
/** The API's path: answers whether the repayment was applied or already known (same reference). */
export const repaymentRecordedUpdate = defineUpdate<ServicingState, [RepaymentRecorded]>('repaymentRecordedUpdate');
export const collateralRegisteredLateSignal = defineSignal<[{ actor: string; registrationRef: string; registeredAt: string }]>('collateralRegistered');
export const earlyPayoffRequestedSignal = defineSignal<[EarlyPayoffRequested]>('earlyPayoffRequested');

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
}

export const servicingStateQuery = defineQuery<ServicingState>('servicingState');
