/**
 * Every message of the loan workflows in one place: signals (what the Temporal UI, the CLI and the
 * API send), updates (what the API sends when it needs a synchronous yes or no), queries, and the
 * shapes they carry. Payloads hold ids, codes and figures only: never a name, ID number, phone or
 * account (those stay in PostgreSQL, encrypted).
 *
 * Each human act is both a signal (fire-and-forget, usable from `temporal workflow signal`) and an
 * update with a validator (the API's race-free answer: the validator runs against the workflow's
 * own state, so "is it waiting for this act?" and "does this approver count?" are answered by the
 * one place that knows). Both paths call the same handler; a signal that the validator would
 * refuse is recorded as refused (state.refusedActs and loan_events), never silently dropped.
 */
import type { SearchAttributePair } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { fenToYuanString } from '../domain';
import type { Offer, RiskGrade, Stage, TerminalStage, Channel, DocumentType, RepaymentMethod, VehicleCondition, VehicleEnergy, VehicleUsage } from '../domain';
import { FailureType } from '../contracts/failures';
import type { ActProof } from './actProof';
import type { WorkflowRefusal } from './refusals';
import * as SA from './searchAttributes';

// ---------------------------------------------------------------------------------------------
// Workflow ids: defined in src/domain/ids.ts with every other id; here for the messages' users.

import { TASK_QUEUE, loanApplicationWorkflowId } from '../domain/ids';
export { TASK_QUEUE, loanApplicationWorkflowId, loanServicingWorkflowId, REMINDERS_SCHEDULE_ID, RECONCILER_SCHEDULE_ID } from '../domain/ids';

// ---------------------------------------------------------------------------------------------
// Input

// The input and how a stored application becomes it: src/contracts/applicationInput.ts, which the
// API and the reconciler's activity use too.
export type { LoanApplicationInput, StoredApplication } from '../contracts/applicationInput';
export { loanApplicationInput } from '../contracts/applicationInput';
import type { LoanApplicationInput } from '../contracts/applicationInput';

// ---------------------------------------------------------------------------------------------
// Human acts (signal payloads = update arguments)

export interface ActBase {
  /** Staff id (JWT `sub`), `customer` or `esign-provider`. */
  actor: string;
  /** Client-chosen id of this act; a repeat with the same id is the same act (idempotent). */
  actId?: string | undefined;
  /** The API's signature over the act (src/workflows/actProof.ts): without a valid one the act is refused. */
  proof?: ActProof | undefined;
}

export interface DocumentsSubmitted extends ActBase {
  /** Rows already stored in `documents` by the API. */
  documentIds: string[];
}

export type PhoneOutcome = 'passed' | 'failed' | 'unreachable';
export interface PhoneVerificationCompleted extends ActBase {
  outcome: PhoneOutcome;
  recordingRef?: string | undefined;
  checklist: {
    identityConfirmed: boolean;
    incomeConfirmed: boolean;
    purposeConfirmed: boolean;
    /** Anomaly codes, e.g. `PHONE_RECENTLY_CHANGED`. */
    anomalies?: string[] | undefined;
  };
}

export type ApprovalDecisionKind = 'approve' | 'reject' | 'request_info';
export interface ApprovalDecision extends ActBase {
  decision: ApprovalDecisionKind;
  /** A domain reason code (required for reject and request_info). */
  reasonCode?: string | undefined;
  /** Free text stays in loan_events (written by the API); the workflow only keeps whether there was one. */
  amountFen?: number | undefined;
  termMonths?: number | undefined;
  annualRateBps?: number | undefined;
}

export interface ContractSigned extends ActBase {
  source: 'esign_callback' | 'on_site';
  envelopeId?: string | undefined;
  /** ISO timestamp the customer signed. */
  signedAt: string;
}

export interface CollateralRegistered extends ActBase {
  registrationRef: string;
  registeredAt: string;
}

export interface Withdraw extends ActBase {
  /** A short code, e.g. `CUSTOMER_CHANGED_MIND`; free text stays in loan_events. */
  reasonCode?: string | undefined;
}

export const documentsSubmittedSignal = defineSignal<[DocumentsSubmitted]>('documentsSubmitted');
export const phoneVerificationCompletedSignal = defineSignal<[PhoneVerificationCompleted]>('phoneVerificationCompleted');
export const approvalDecisionSignal = defineSignal<[ApprovalDecision]>('approvalDecision');
export const contractSignedSignal = defineSignal<[ContractSigned]>('contractSigned');
export const collateralRegisteredSignal = defineSignal<[CollateralRegistered]>('collateralRegistered');
export const withdrawSignal = defineSignal<[Withdraw]>('withdraw');

/** The API's synchronous path: rejected by the validator (ApplicationFailure, see ActRefusal) or applied. */
export const documentsSubmittedUpdate = defineUpdate<LoanState, [DocumentsSubmitted]>('documentsSubmittedUpdate');
export const phoneVerificationCompletedUpdate = defineUpdate<LoanState, [PhoneVerificationCompleted]>('phoneVerificationCompletedUpdate');
export const approvalDecisionUpdate = defineUpdate<LoanState, [ApprovalDecision]>('approvalDecisionUpdate');
export const contractSignedUpdate = defineUpdate<LoanState, [ContractSigned]>('contractSignedUpdate');
export const collateralRegisteredUpdate = defineUpdate<LoanState, [CollateralRegistered]>('collateralRegisteredUpdate');
export const withdrawUpdate = defineUpdate<LoanState, [Withdraw]>('withdrawUpdate');

/**
 * Why an act was refused, in the workflows' one refusal shape (refusals.ts): the validator throws
 * it as the detail of an ApplicationFailure of type `ActRefused`; the API maps NOT_WAITING to 409
 * with the current stage and the four-eyes codes to 403/409 as SPEC says.
 */
export type ActRefusalCode =
  | 'NOT_WAITING' // the workflow is not waiting for this act at this stage
  | 'SUBMITTER_CANNOT_APPROVE'
  | 'ALREADY_APPROVED_BY_THIS_APPROVER'
  | 'INVALID_ACT' // e.g. reject without a reason code, an offer change outside the limits
  | 'ALREADY_APPLIED' // same actId seen before (the API treats this as success)
  | 'NOT_AUTHENTICATED'; // no valid proof that the API authenticated the actor (unsigned, tampered, expired, ...)
export interface ActRefusal extends WorkflowRefusal<ActRefusalCode> {
  stage: Stage;
}
export const ACT_REFUSED = FailureType.ActRefused;

// ---------------------------------------------------------------------------------------------
// State (the `state` query and every update's answer)

export type PendingTaskKind = 'submit_documents' | 'phone_verification' | 'approval' | 'sign_contract' | 'register_collateral';
/** `supervisor`: runs the work queues; `collections`: reads the loan book, statements and payoff quotes (collections staff). */
export type StaffRole = 'officer' | 'verifier' | 'approver' | 'supervisor' | 'finance' | 'collections' | 'admin';

export interface PendingTask {
  kind: PendingTaskKind;
  role: StaffRole;
  /** ISO timestamps (workflow time). */
  since: string;
  /** When it escalates (SLA) and when the application expires. */
  slaAt?: string | undefined;
  deadline: string;
  escalated: boolean;
  /** Phone verification attempt, 1-based. */
  attempt?: number | undefined;
  /** Approvals already counted (four eyes). */
  approvalsNeeded?: number | undefined;
  approvedBy?: string[] | undefined;
}

export interface StageVisit {
  stage: Stage;
  at: string;
}

export interface DecisionRecord {
  actor: string;
  decision: ApprovalDecisionKind | 'auto_decline';
  reasonCode?: string | undefined;
  at: string;
  counted: boolean;
}

export interface LoanState {
  applicationId: string;
  stage: Stage;
  stageHistory: StageVisit[];
  pendingTask: PendingTask | null;
  offer: Offer | null;
  decisions: DecisionRecord[];
  /** Risk flags and reason codes found on the way (VIN check digit, DTI, documents, phone anomalies). */
  flags: string[];
  riskGrade: RiskGrade | null;
  recommendation?: 'auto_decline' | 'manual_review' | undefined;
  requiresFourEyes: boolean;
  documents: { required: DocumentType[]; missing: DocumentType[]; problems: string[] };
  phoneAttempts: number;
  envelopeId: string | null;
  collateralRegistered: boolean;
  transferId: string | null;
  loanId: string | null;
  /** Why it ended where it did (a reason code), for terminal stages. */
  outcomeReason: string | null;
  /** Acts refused that no caller could be told about (signals); `problem` says what was wrong with an unauthenticated one. */
  refusedActs: { act: string; actor: string; code: ActRefusalCode; at: string; problem?: string | undefined }[];
}

export const stateQuery = defineQuery<LoanState>('state');

// ---------------------------------------------------------------------------------------------
// Result and start options

/** How an application ended: the terminal stage, why, and the loan it became (if any). */
/**
 * How a run ended: a terminal stage, or (runs since the patch `hand-over-to-servicing`) `servicing`
 * with HANDED_TO_SERVICING once the loan's servicing run has started: the loan goes on there.
 */
export interface LoanApplicationResult {
  stage: TerminalStage | 'servicing';
  /** A reason code (e.g. CREDIT_SCORE_BELOW_FLOOR, OFFER_EXPIRED, WITHDRAWN, HANDED_TO_SERVICING); null when closed normally. */
  outcomeReason: string | null;
  loanId: string | null;
  /** The servicing run the loan was handed to (stage `servicing` only). */
  servicingWorkflowId?: string;
}

const CHANNEL_LABELS: Record<Channel, string> = { branch: 'branch', door_to_door: 'door-to-door', online: 'online', dealer: 'dealer' };

const yuan = (fen: number): string => fenToYuanString(fen, { grouping: true });

/**
 * Everything `client.workflow.start(loanApplication, …)` needs besides `args`, so every starter
 * (the API, tests, scripts) starts a loan the same way: the workflow id, the task queue, the typed
 * search attributes of the start, and the static summary and details an engineer sees in the
 * Temporal UI. Ids and figures only.
 */
export function loanApplicationStartOptions(input: LoanApplicationInput, taskQueue: string = TASK_QUEUE) {
  const v = input.vehicle;
  return {
    workflowId: loanApplicationWorkflowId(input.applicationId),
    taskQueue,
    args: [input] as [LoanApplicationInput],
    typedSearchAttributes: [
      { key: SA.LoanStage, value: 'intake' },
      { key: SA.LoanChannel, value: input.channel },
      { key: SA.BranchId, value: input.branchId },
      { key: SA.LoanAmountFen, value: input.amountFen },
      { key: SA.PendingTask, value: 'none' },
    ] as SearchAttributePair[],
    staticSummary: `Car loan ${input.applicationId}: ${yuan(input.amountFen)} CNY over ${input.termMonths} months, ${v.condition} car, ${CHANNEL_LABELS[input.channel] ?? input.channel} ${input.branchId}`,
    staticDetails: [
      `**Application** ${input.applicationId}`,
      `**Channel** ${input.channel} · branch ${input.branchId}${input.dealerId ? ` · dealer ${input.dealerId}` : ''} · submitted by ${input.submittedBy}`,
      `**Loan** ${yuan(input.amountFen)} CNY · ${input.termMonths} months · ${input.repaymentMethod}`,
      `**Vehicle** ${v.condition} · ${v.energy} · ${v.usage} · ${v.year} · ${v.mileageKm} km · price ${yuan(v.priceFen)} CNY`,
      'Personal data is in PostgreSQL (encrypted), never in this workflow.',
    ].join('\n'),
  };
}
