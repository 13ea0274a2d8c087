/**
 * Messages of the post-loan workflows: the per-loan servicing workflow (`loan-servicing-<loanId>`)
 * and the daily `repaymentReminders` sweep. Ids and figures only, no personal data.
 */
import type { SearchAttributePair } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { FailureType } from '../contracts/failures';
import { bpsToPercentString, fenToYuanString, type Channel, type Offer, type RiskGrade } from '../domain';
import { loanServicingWorkflowId } from '../domain/ids';
import type { ActProof } from './actProof';
import * as SA from './searchAttributes';

export interface LoanServicingInput {
  loanId: string;
  applicationId: string;
  /** Mortgage registration (抵押登记) still owed after disbursement. */
  collateralRegistrationOutstanding: boolean;
  /** Carried across continue-as-new; absent on the first run. */
  carried?: unknown;
  /** Continue-as-new after this many instalments fell due in one run (default 6). */
  instalmentsPerRun?: number | undefined;
  /** Continue-as-new once a run's history passes this many events (default 2,000; runs on the ledger). */
  maxEventsPerRun?: number | undefined;
  /**
   * Set by an application run that hands the loan over and ends (its patch `hand-over-to-servicing`):
   * this run then owns the application's stage (it records `closed` when it closes the loan) and
   * describes the loan with these. Absent on loans whose application run waits for this one.
   */
  handedOver?: ServicingHandOver | undefined;
}

/** What the application run knows of the loan and passes on: ids, codes and figures only. */
export interface ServicingHandOver {
  channel: Channel;
  branchId: string;
  dealerId: string | null;
  riskGrade: RiskGrade | null;
  offer: Pick<Offer, 'amountFen' | 'termMonths' | 'repaymentMethod' | 'annualRateBps' | 'aprBps' | 'monthlyPaymentFen'>;
}

const yuan = (fen: number): string => `${fenToYuanString(fen, { grouping: true })} CNY`;

/**
 * How a servicing run is started (the child options besides the parent close policy): its id, its
 * input, the search attributes a loan book is queried by (a branch's loans are `BranchId = '…'`),
 * and the static summary and details of the Temporal UI. Continue-as-new keeps the attributes.
 */
export function loanServicingStartOptions(input: LoanServicingInput) {
  const h = input.handedOver;
  const where = h ? `, ${h.channel} ${h.branchId}${h.dealerId ? ` (dealer ${h.dealerId})` : ''}` : '';
  return {
    workflowId: loanServicingWorkflowId(input.loanId),
    args: [input] as [LoanServicingInput],
    typedSearchAttributes: (h
      ? [
          { key: SA.LoanStage, value: 'servicing' },
          { key: SA.LoanChannel, value: h.channel },
          { key: SA.BranchId, value: h.branchId },
          { key: SA.LoanAmountFen, value: h.offer.amountFen },
          { key: SA.PendingTask, value: input.collateralRegistrationOutstanding ? 'register_collateral' : 'none' },
          ...(h.riskGrade ? [{ key: SA.RiskGrade, value: h.riskGrade }] : []),
        ]
      : []) as SearchAttributePair[],
    staticSummary: h
      ? `Servicing of loan ${input.loanId}: ${yuan(h.offer.amountFen)} over ${h.offer.termMonths} months at ${bpsToPercentString(h.offer.annualRateBps)}${where}`
      : `Servicing of loan ${input.loanId} (application ${input.applicationId})`,
    ...(h
      ? {
          staticDetails: [
            `**Loan** ${input.loanId} · application ${input.applicationId}`,
            `**Terms** ${yuan(h.offer.amountFen)} · ${h.offer.termMonths} months · ${h.offer.repaymentMethod} · ${bpsToPercentString(h.offer.annualRateBps)} a year (APR ${bpsToPercentString(h.offer.aprBps)}) · first instalment ${yuan(h.offer.monthlyPaymentFen)}`,
            `**Sold** ${h.channel} · branch ${h.branchId}${h.dealerId ? ` · dealer ${h.dealerId}` : ''} · risk grade ${h.riskGrade ?? '-'}`,
            'Personal data is in PostgreSQL (encrypted), never in this workflow.',
          ].join('\n'),
        }
      : {}),
  };
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
export interface CollateralRegisteredLate {
  actor: string;
  actId?: string | undefined;
  registrationRef: string;
  registeredAt: string;
  proof?: ActProof | undefined;
}
export const collateralRegisteredLateSignal = defineSignal<[CollateralRegisteredLate]>('collateralRegistered');
export const earlyPayoffRequestedSignal = defineSignal<[EarlyPayoffRequested]>('earlyPayoffRequested');
/** The same request answered synchronously: the state carries the quote (or the update is refused). */
export const earlyPayoffRequestedUpdate = defineUpdate<ServicingState, [EarlyPayoffRequested]>('earlyPayoffRequestedUpdate');

/** A partial prepayment: the rest of the principal is re-amortised by the loan's method. */
export interface PrepaymentRequested {
  actor: string;
  amountFen: number;
  paidAt: string;
  reference: string;
  mode: 'reduce_installment' | 'reduce_term';
  proof?: ActProof | undefined;
}

/**
 * Four eyes: a reversal, waiver or refund is requested by one finance user and takes effect when
 * a second, different one approves it. `requestId` is the request's identity (the API derives it).
 */
export interface ReversalRequested {
  actor: string;
  requestId: string;
  /** The bank reference of the repayment (or prepayment) booked in error. */
  reference: string;
  reasonCode: string;
  proof?: ActProof | undefined;
}
export interface WaiverRequested {
  actor: string;
  requestId: string;
  component: 'penalty' | 'interest' | 'fee';
  amountFen: number;
  reasonCode: string;
  proof?: ActProof | undefined;
}
export interface RefundRequested {
  actor: string;
  requestId: string;
  amountFen: number;
  reasonCode: string;
  proof?: ActProof | undefined;
}
export interface ServicingApproval {
  actor: string;
  requestId: string;
  decision: 'approve' | 'reject';
  /** When given, the request must be of this kind (the API's route says which). */
  kind?: ServicingRequestKind | undefined;
  proof?: ActProof | undefined;
}

export type ServicingRequestKind = 'reversal' | 'waiver' | 'refund';

export interface PendingApproval {
  requestId: string;
  kind: ServicingRequestKind;
  requestedBy: string;
  requestedAt: string;
  reasonCode: string;
  reference?: string | undefined;
  component?: 'penalty' | 'interest' | 'fee' | undefined;
  amountFen?: number | undefined;
}

export const prepaymentRequestedSignal = defineSignal<[PrepaymentRequested]>('prepaymentRequested');
export const prepaymentRequestedUpdate = defineUpdate<ServicingState, [PrepaymentRequested]>('prepaymentRequestedUpdate');
export const reversalRequestedSignal = defineSignal<[ReversalRequested]>('reversalRequested');
export const reversalRequestedUpdate = defineUpdate<ServicingState, [ReversalRequested]>('reversalRequestedUpdate');
export const waiverRequestedSignal = defineSignal<[WaiverRequested]>('waiverRequested');
export const waiverRequestedUpdate = defineUpdate<ServicingState, [WaiverRequested]>('waiverRequestedUpdate');
export const refundRequestedSignal = defineSignal<[RefundRequested]>('refundRequested');
export const refundRequestedUpdate = defineUpdate<ServicingState, [RefundRequested]>('refundRequestedUpdate');
export const servicingApprovalSignal = defineSignal<[ServicingApproval]>('servicingApproval');
export const servicingApprovalUpdate = defineUpdate<ServicingState, [ServicingApproval]>('servicingApprovalUpdate');

/** Type of the ApplicationFailure a servicing update's validator throws; details: [a WorkflowRefusal (refusals.ts)]. */
export const SERVICING_REFUSED = FailureType.ServicingRequestRefused;
export type ServicingRefusalCode =
  | 'INVALID_AMOUNT'
  | 'INVALID_REFERENCE'
  | 'INVALID_PAID_AT'
  | 'INVALID_PAYOFF_DATE'
  | 'LOAN_CLOSED'
  | 'INVALID_ACT'
  /** The same bank reference was booked with another amount (or as another kind). */
  | 'REFERENCE_CONFLICT'
  /** No pending request has this id, or it was already approved or rejected. */
  | 'UNKNOWN_REQUEST'
  | 'ALREADY_DECIDED'
  /** The request is already waiting for its approval (the API answers it as the same request). */
  | 'ALREADY_PENDING'
  /** Four eyes: the finance user who asked cannot approve. */
  | 'SAME_FINANCE_USER'
  | 'TOO_MANY_PENDING'
  /** The ledger refuses it (the code of the activity's refusal follows in the message). */
  | 'LEDGER_REFUSED'
  /** The payment provider refused the refund. */
  | 'REFUND_REFUSED'
  /** No valid proof that the API authenticated the actor (unsigned, tampered, expired, ...). */
  | 'NOT_AUTHENTICATED';

/** What became of one repayment or prepayment (the update's answer carries it as `lastRepayment`). */
export interface RepaymentOutcome {
  reference: string;
  /** `duplicate`: this reference was recorded before with this amount, nothing changed (the original booking is given). */
  outcome: 'applied' | 'duplicate' | 'rejected' | 'conflict';
  reason: string | null;
  kind: 'regular' | 'early_payoff' | 'prepayment';
  /** What the money paid: the instalment (null outside them: principal ahead of schedule, its interest, the fee) and component. */
  allocations: { seq: number | null; amountFen: number; component?: string }[];
  /** A prepayment: the new schedule's first instalment and length. */
  newSchedule?: { version: number; instalmentFen: number; instalments: number; firstDueDate: string } | null;
}

export type ServicingStatus = 'active' | 'closed';
export type { OverdueBucket } from '../domain/servicingRules';
import type { OverdueBucket } from '../domain/servicingRules';

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
  // The ledger's figures (runs on the ledger; absent in answers of runs written before it).
  overdueFen?: number | undefined;
  penaltyFen?: number | undefined;
  balanceFen?: number | undefined;
  scheduleVersion?: number | undefined;
  /** Reversals, waivers and refunds waiting for a second finance user. */
  pendingApprovals?: PendingApproval[] | undefined;
  /** Set on the answer of a request or an approval: what became of it. */
  lastRequest?: { requestId: string; kind: ServicingRequestKind; status: 'pending' | 'applied' | 'rejected'; waivedFen?: number; refundedFen?: number } | undefined;
}

export const servicingStateQuery = defineQuery<ServicingState>('servicingState');
