/**
 * What the loan-application activities take and give back: ids, codes and figures only, never a
 * name, ID number, phone number or account number (activities read those from PostgreSQL by
 * application id). Plain types and constants, so workflow code may import this file. The failure
 * types they raise are in src/contracts/failures.ts.
 */
import type { Bps, DocumentType, Fen, Offer, ReasonSeverity, RiskGrade } from '../domain';

export interface ApplicationRef {
  applicationId: string;
}

// ---------------------------------------------------------------------------------------------
// Intake

export type ScreenOutcome = 'clear' | 'blacklisted' | 'duplicate';
export interface ScreenResult {
  outcome: ScreenOutcome;
  /** BLACKLISTED or DUPLICATE_APPLICATION when not clear. */
  reasonCode: 'BLACKLISTED' | 'DUPLICATE_APPLICATION' | null;
  /** The earlier open application of the same person (an id, not personal data). */
  duplicateOfApplicationId: string | null;
}

/** The stored application without personal data: what the workflow may know about it. */
export interface ApplicationFacts {
  applicationId: string;
  channel: string;
  branchId: string;
  dealerId: string | null;
  submittedBy: string;
  amountFen: Fen;
  termMonths: number;
  repaymentMethod: string;
  vehicle: {
    condition: string;
    energy: string;
    usage: string;
    priceFen: Fen;
    year: number;
    mileageKm: number;
  } | null;
  documentCount: number;
  hasBankAccount: boolean;
}

// ---------------------------------------------------------------------------------------------
// Documents

/** Problem codes of one document, found by comparing its reading with the application. */
export type DocumentProblem =
  | 'UNREADABLE'
  | 'LOW_CONFIDENCE'
  | 'NAME_MISMATCH'
  | 'ID_NUMBER_MISMATCH'
  | 'VIN_MISMATCH'
  | 'ID_CARD_EXPIRED'
  | 'DRIVER_LICENSE_EXPIRED';

export interface RecognizeDocumentInput {
  applicationId: string;
  documentId: string;
  /** 'YYYY-MM-DD' (Asia/Shanghai, workflow time): expiry dates are judged against it. */
  asOfDate: string;
}

export interface DocumentReading {
  documentId: string;
  type: DocumentType;
  status: 'read' | 'unreadable';
  recognitionId: string | null;
  minConfidence: number | null;
  problems: DocumentProblem[];
}

export interface DocumentSetEvaluation {
  required: DocumentType[];
  missing: DocumentType[];
  /** `<type>:<problem>` of the latest document of each type, e.g. `id_card:NAME_MISMATCH`. */
  problems: string[];
  /** Domain reason codes the problems amount to (DOCUMENTS_MISSING, DOCUMENTS_INCONSISTENT, ...). */
  reasonCodes: string[];
  /** Every required document present, read and consistent. */
  complete: boolean;
  /** Documents still waiting for OCR (should be none after the workflow read them). */
  unread: number;
}

// ---------------------------------------------------------------------------------------------
// Phone verification

export interface OpenCallTaskInput {
  applicationId: string;
  /** `<workflowId>/phone-verification/<attempt>`: the same key is the same task. */
  idempotencyKey: string;
  attempt: number;
}
export interface CallTaskRef {
  taskId: string;
  status: 'queued' | 'completed' | 'cancelled';
}
export interface CancelCallTaskInput {
  applicationId: string;
  taskId: string;
  reasonCode: string;
}
export interface CancelCallTaskResult {
  taskId: string;
  /** `already_completed`: the verifier had finished the call; nothing to cancel. */
  status: 'cancelled' | 'already_completed' | 'not_found';
}

// ---------------------------------------------------------------------------------------------
// Valuation

export interface VehicleValuation {
  valuationId: string;
  valuationFen: Fen;
  method: string;
  confidence: number;
  /** Provider flags (e.g. flood_damage) and our VIN check (VIN_CHECK_DIGIT_MISMATCH, VIN_INVALID). */
  flags: string[];
}

// ---------------------------------------------------------------------------------------------
// Credit and decision

export interface AssessCreditInput {
  applicationId: string;
  asOfDate: string;
  valuationFen: Fen | null;
  /** Reason codes found by earlier stages (VIN, phone anomalies) that the decision must weigh. */
  additionalReasonCodes: string[];
}

export interface CreditAssessment {
  /** Null when the bureau has no file for the applicant (thin file: graded for review). */
  reportId: string | null;
  score: number | null;
  bureauFlags: string[];
  inquiriesLast6Months: number | null;
  recommendation: 'auto_decline' | 'manual_review';
  grade: RiskGrade;
  annualRateBps: Bps;
  reasons: { code: string; severity: ReasonSeverity; message: string }[];
  collateralValueFen: Fen;
  maxLoanFen: Fen;
  ltvCapBps: Bps;
  dtiBps: Bps | null;
  offer: Offer | null;
  requiresFourEyes: boolean;
}

// ---------------------------------------------------------------------------------------------
// Signing

export interface OpenEnvelopeInput {
  applicationId: string;
  /** `<workflowId>/signing/<round>`: the same key is the same envelope. */
  idempotencyKey: string;
  offer: Offer;
  /** 'YYYY-MM-DD': the contract's schedule is drawn as if paid out this day. */
  asOfDate: string;
}
export interface EnvelopeRef {
  envelopeId: string;
  documentHash: string;
  /** The customer's signing page: a provider URL with the envelope id, no personal data. */
  signingUrl: string;
  expiresAt: string;
}
export interface VoidEnvelopeInput {
  applicationId: string;
  envelopeId: string;
  reasonCode: string;
}
export interface VoidEnvelopeResult {
  envelopeId: string;
  /** `already_signed`: a signed contract cannot be voided; the lender cancels it instead. */
  status: 'voided' | 'already_signed' | 'not_found';
}

// ---------------------------------------------------------------------------------------------
// Disbursement

export interface DisburseInput {
  applicationId: string;
  /** What the borrower receives: the loan amount less any upfront fee. */
  amountFen: Fen;
}
export interface Disbursement {
  transferId: string;
  status: 'pending' | 'succeeded' | 'reversed';
  payee: 'dealer' | 'customer';
  bankCode: string;
  accountLast4: string;
  /** True when the customer had no account on file and the sandbox fallback account was paid. */
  sandboxFallbackAccount: boolean;
  /** The provider answered from its idempotency record: an earlier attempt had paid. */
  replayed: boolean;
}
export interface TransferRef {
  applicationId: string;
  transferId: string;
}
export interface ReverseTransferInput extends TransferRef {
  reasonCode: string;
}

// ---------------------------------------------------------------------------------------------
// SMS

export type ApplicantSmsTemplate =
  | 'signing_link'
  | 'documents_missing'
  | 'application_rejected'
  | 'application_expired'
  | 'application_withdrawn'
  | 'contract_cancelled'
  | 'loan_disbursed';

export interface NotifyApplicantInput {
  applicationId: string;
  /** The gateway dedupes on it: `<workflowId>/sms/<what>`. */
  messageId: string;
  template: ApplicantSmsTemplate;
  /** Non-personal values the text needs (a signing URL, an amount in fen, a day count). */
  params?: Record<string, string | number> | undefined;
}
export interface SmsOutcome {
  messageId: string;
  /** `rejected`: the number is not in service; a notification is never worth failing a loan over. */
  status: 'accepted' | 'duplicate' | 'rejected';
  code: string | null;
}

// ---------------------------------------------------------------------------------------------
// Loans (owned by src/activities/loans.ts, the servicing issue): the call the workflow makes.

export interface CreateLoanInput {
  applicationId: string;
  offer: Offer;
  disbursedAtMs: number;
  transferId: string;
}
export interface CreateLoanResult {
  loanId: string;
}
