/**
 * Whether the loan-servicing workflow accepts an act, as one pure function over what the workflow
 * knows. Every update's validator and every signal handler of the servicing run calls it first, so
 * the API's synchronous answer and the fate of a signal from the Temporal UI never disagree. What
 * only the database knows (is the reference booked, is there that much penalty to waive) the
 * ledger's activities check again when the act is applied.
 *
 * First of all an act must carry the API's proof (actProof.ts, issue 15): who sent it, with which
 * roles, for this act on this run. One typed into the Temporal UI or CLI under an invented name is
 * refused NOT_AUTHENTICATED; the workflow records it (an update's validator lets it through for
 * that, unless the proof is only late: then the sender is told and signs anew).
 */
import { type ServicingPolicy, addDays, compareDates, DEFAULT_POLICY, isValidDate, shanghaiDate } from '../domain';
import { isLateProof, verifyActProof, type ActKeyRing, type ActProofProblem } from './actProof';
import type { CollateralRegisteredLate, EarlyPayoffRequested } from './servicingMessages';
import type {
  PendingApproval,
  PrepaymentRequested,
  RefundRequested,
  RepaymentRecorded,
  ReversalRequested,
  ServicingApproval,
  ServicingRefusalCode,
  WaiverRequested,
} from './servicingMessages';

export interface ServicingActPayloads {
  repayment: RepaymentRecorded;
  prepayment: PrepaymentRequested;
  reversal: ReversalRequested;
  waiver: WaiverRequested;
  refund: RefundRequested;
  approval: ServicingApproval;
  payoffQuote: EarlyPayoffRequested;
  /** The application's collateral registration, forwarded by its workflow once the loan is serviced. */
  collateral: CollateralRegisteredLate;
}
export type ServicingActName = keyof ServicingActPayloads;

/** What the API signs each act as (its signal's name) and the roles that may do it. */
export const SERVICING_ACT_PROOFS: Readonly<Record<ServicingActName, { act: string; roles: readonly string[] }>> = {
  repayment: { act: 'repaymentRecorded', roles: ['finance'] },
  prepayment: { act: 'prepaymentRequested', roles: ['finance'] },
  reversal: { act: 'reversalRequested', roles: ['finance'] },
  waiver: { act: 'waiverRequested', roles: ['finance'] },
  refund: { act: 'refundRequested', roles: ['finance'] },
  approval: { act: 'servicingApproval', roles: ['finance'] },
  payoffQuote: { act: 'earlyPayoffRequested', roles: ['finance'] },
  // Signed for the application's workflow, where the officer registered it.
  collateral: { act: 'collateralRegistered', roles: ['officer'] },
};

/** Against what an act's proof is checked. */
export interface ServicingProofContext {
  /** loan-servicing-<loanId>. */
  workflowId: string;
  /** loan-application-<applicationId>: the collateral registration is that workflow's act. */
  applicationWorkflowId: string;
  ring: ActKeyRing;
}

/** What the validator looks at: a read-only view of the servicing run. */
export interface ServicingActView {
  /** Workflow time. */
  nowMs: number;
  disbursementDate: string;
  /** The loan is closed: only money arriving late (held as credit) and its refund are accepted. */
  closed: boolean;
  /** Credit held, as the run last read it. */
  creditFen: number;
  pending: readonly PendingApproval[];
  /** Request ids already approved or rejected in this run or carried from earlier ones. */
  decided: readonly string[];
  policy?: ServicingPolicy | undefined;
  /**
   * The proof every act must carry is checked against this. Null only where there is nothing to
   * check: an act taken from the queue (checked when it arrived) or one in a history recorded
   * before proofs existed (replayed as it was).
   */
  proofs: ServicingProofContext | null;
}

export interface ServicingRefusal {
  code: ServicingRefusalCode;
  message: string;
  /** NOT_AUTHENTICATED: what was wrong with the proof. */
  problem?: ActProofProblem;
  /** NOT_AUTHENTICATED: a proof the API did sign, only expired or early (told to the sender, not recorded as forged). */
  late?: boolean;
}

/** Largest amount accepted (10 billion CNY in fen), as the API's schemas. */
const MAX_FEN = 1_000_000_000_000;
const REFERENCE = /^[\x21-\x7e]{1,128}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const REASON_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
const MODES = new Set(['reduce_installment', 'reduce_term']);
const COMPONENTS = new Set(['penalty', 'interest', 'fee']);

const refusal = (code: ServicingRefusal['code'], message: string): ServicingRefusal => ({ code, message });
const isAmount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= MAX_FEN;
/** Staff ids compare trimmed and case-insensitively (`Fin-1` and `fin-1 ` are one person). */
export const samePerson = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

function paidAtProblem(paidAt: unknown, view: ServicingActView, policy: ServicingPolicy): string | null {
  const at = typeof paidAt === 'string' ? Date.parse(paidAt) : Number.NaN;
  if (Number.isNaN(at)) return 'paidAt must be an ISO timestamp';
  if (at > view.nowMs + policy.valueDateSkewMs) return 'paidAt is in the future';
  if (compareDates(shanghaiDate(at), view.disbursementDate) < 0) return 'paidAt is before the loan was disbursed';
  return null;
}

/** NOT_AUTHENTICATED when `payload` lacks the API's valid proof for act `name` on this run at `nowMs`, else null. */
export function servicingProofRefusal(name: ServicingActName, payload: unknown, proofs: ServicingProofContext, nowMs: number): ServicingRefusal | null {
  const expected = SERVICING_ACT_PROOFS[name];
  if (!expected) return refusal('INVALID_ACT', `unknown act ${String(name)}`);
  const workflowId = name === 'collateral' ? proofs.applicationWorkflowId : proofs.workflowId;
  const v = verifyActProof(payload, { act: expected.act, workflowId, roles: expected.roles, allowEmergency: false }, proofs.ring, nowMs);
  if (v.ok) return null;
  return { code: 'NOT_AUTHENTICATED', message: `${v.message} (${v.problem})`, problem: v.problem, late: isLateProof(v) };
}

/** The reason the servicing run refuses `act` now, or null when it accepts it. */
export function refuseServicingAct<N extends ServicingActName>(name: N, payload: ServicingActPayloads[N], view: ServicingActView): ServicingRefusal | null {
  const policy = view.policy ?? DEFAULT_POLICY.servicing;
  if (view.proofs) {
    const forged = servicingProofRefusal(name, payload, view.proofs, view.nowMs);
    if (forged) return forged;
  }
  const p = payload as Partial<ServicingActPayloads[ServicingActName]> | undefined;
  if (!p || typeof p !== 'object' || typeof p.actor !== 'string' || p.actor.trim() === '' || p.actor.length > 128) {
    return refusal('INVALID_ACT', 'an act needs an actor');
  }
  switch (name) {
    case 'repayment':
    case 'prepayment': {
      const a = p as Partial<PrepaymentRequested>;
      if (!isAmount(a.amountFen)) return refusal('INVALID_AMOUNT', 'amountFen must be a whole number of fen above zero');
      if (typeof a.reference !== 'string' || !REFERENCE.test(a.reference)) return refusal('INVALID_REFERENCE', 'reference must be 1–128 printable characters');
      const problem = paidAtProblem(a.paidAt, view, policy);
      if (problem) return refusal('INVALID_PAID_AT', problem);
      if (name === 'prepayment') {
        if (!MODES.has(String(a.mode))) return refusal('INVALID_ACT', 'mode must be reduce_installment or reduce_term');
        if (view.closed) return refusal('LOAN_CLOSED', 'the loan is closed');
      }
      return null;
    }
    case 'reversal':
    case 'waiver':
    case 'refund': {
      const a = p as Partial<ReversalRequested & WaiverRequested & RefundRequested>;
      if (typeof a.requestId !== 'string' || !REQUEST_ID.test(a.requestId)) return refusal('INVALID_ACT', 'requestId must be 1–128 letters, digits or ._:-');
      if (typeof a.reasonCode !== 'string' || !REASON_CODE.test(a.reasonCode)) return refusal('INVALID_ACT', 'reasonCode must be an upper-case code');
      if (name === 'reversal' && (typeof a.reference !== 'string' || !REFERENCE.test(a.reference))) return refusal('INVALID_REFERENCE', 'reference must be 1–128 printable characters');
      if (name === 'waiver' && !COMPONENTS.has(String(a.component))) return refusal('INVALID_ACT', 'component must be penalty, interest or fee');
      if (name !== 'reversal' && !isAmount(a.amountFen)) return refusal('INVALID_AMOUNT', 'amountFen must be a whole number of fen above zero');
      if (view.pending.some((r) => r.requestId === a.requestId)) return refusal('ALREADY_PENDING', 'this request is already waiting for its approval');
      if (view.decided.includes(a.requestId)) return refusal('ALREADY_DECIDED', 'this request was already approved or rejected');
      if (view.closed && name !== 'refund') return refusal('LOAN_CLOSED', 'the loan is closed');
      if (name === 'refund' && (a.amountFen as number) > view.creditFen) return refusal('LEDGER_REFUSED', 'REFUND_EXCEEDS_CREDIT: the refund is more than the credit held');
      if (view.pending.length >= policy.maxPendingApprovals) return refusal('TOO_MANY_PENDING', 'too many requests are waiting for approval');
      return null;
    }
    case 'approval': {
      const a = p as Partial<ServicingApproval>;
      if (a.decision !== 'approve' && a.decision !== 'reject') return refusal('INVALID_ACT', 'decision must be approve or reject');
      const request = view.pending.find((r) => r.requestId === a.requestId && (a.kind === undefined || r.kind === a.kind));
      if (!request) {
        return typeof a.requestId === 'string' && view.decided.includes(a.requestId)
          ? refusal('ALREADY_DECIDED', 'this request was already approved or rejected')
          : refusal('UNKNOWN_REQUEST', 'no request with this id is waiting for approval');
      }
      // Four eyes: whoever asked does not approve (asking again to reject is withdrawing it).
      if (a.decision === 'approve' && samePerson(request.requestedBy, a.actor as string)) {
        return refusal('SAME_FINANCE_USER', 'a second, different finance user must approve this');
      }
      if (a.decision === 'approve' && request.kind === 'refund' && (request.amountFen ?? 0) > view.creditFen) {
        return refusal('LEDGER_REFUSED', 'REFUND_EXCEEDS_CREDIT: the refund is more than the credit held');
      }
      return null;
    }
    case 'payoffQuote': {
      const a = p as Partial<EarlyPayoffRequested>;
      if (view.closed) return refusal('LOAN_CLOSED', 'the loan is closed');
      const today = shanghaiDate(view.nowMs);
      if (typeof a.asOfDate !== 'string' || !isValidDate(a.asOfDate)) return refusal('INVALID_PAYOFF_DATE', 'asOfDate must be a date YYYY-MM-DD');
      if (compareDates(a.asOfDate, today) < 0) return refusal('INVALID_PAYOFF_DATE', 'asOfDate is in the past');
      if (compareDates(a.asOfDate, addDays(today, policy.payoffQuoteMaxDaysAhead)) > 0) return refusal('INVALID_PAYOFF_DATE', 'asOfDate is too far ahead');
      return null;
    }
    case 'collateral':
      // Whether it is still owed the workflow knows when it applies it (a second one changes nothing).
      return null;
    default:
      return refusal('INVALID_ACT', `unknown act ${String(name)}`);
  }
}
