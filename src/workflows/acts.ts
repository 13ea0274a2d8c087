/**
 * Whether the loan-application workflow accepts a human act, as one pure function over what the
 * workflow knows. The update validators and the signal handlers both call it, so the API's
 * synchronous answer and the fate of a signal from the Temporal UI can never disagree.
 */
import { DEFAULT_POLICY, evaluateApproval, isReasonCode, offerChangeProblems, sameStaffId, withdrawable, type Offer, type ProductPolicy, type Stage } from '../domain';
import { ESIGN_PROVIDER_ACTOR, verifyActProof, type ActKeyRing, type ActProofVerdict } from './actProof';
import type {
  ActRefusal,
  ActRefusalCode,
  ApprovalDecision,
  CollateralRegistered,
  ContractSigned,
  DocumentsSubmitted,
  PendingTaskKind,
  PhoneVerificationCompleted,
  Withdraw,
} from './messages';

export interface ActPayloads {
  documentsSubmitted: DocumentsSubmitted;
  phoneVerificationCompleted: PhoneVerificationCompleted;
  approvalDecision: ApprovalDecision;
  contractSigned: ContractSigned;
  collateralRegistered: CollateralRegistered;
  withdraw: Withdraw;
}
export type ActName = keyof ActPayloads;

/** What the validator looks at: a read-only view of the workflow's state. */
export interface ActView {
  stage: Stage;
  pendingTask: PendingTaskKind | null;
  submittedBy: string;
  seenActIds: ReadonlySet<string>;
  /** A call task is open and its outcome not yet recorded. */
  awaitingPhoneOutcome: boolean;
  /** Approvers already counted for the current offer. */
  approvals: readonly string[];
  /** The offer under approval (null when the rules could not make one). */
  offer: Offer | null;
  /** The LTV maximum an approver may raise the amount to. */
  maxLoanFen: number | null;
  /** The decision rules ran and the workflow waits for approvers. */
  awaitingApproval: boolean;
  envelopeId: string | null;
  contractSigned: boolean;
  collateralRegistered: boolean;
  withdrawRequested: boolean;
  policy?: ProductPolicy;
}

/** Who may do each act: the proof's roles must hold one of them (the API checks the same, src/api/routes). */
export function actRoles<N extends ActName>(name: N, payload: ActPayloads[N]): readonly string[] {
  switch (name) {
    case 'phoneVerificationCompleted':
      return ['verifier'];
    case 'approvalDecision':
      return ['approver'];
    case 'contractSigned':
      // The provider's callback is signed by the API as the provider once its HMAC checked out.
      return (payload as ContractSigned | undefined)?.source === 'esign_callback' ? [ESIGN_PROVIDER_ACTOR] : ['officer'];
    default:
      return ['officer'];
  }
}

/** Whether the act carries the API's valid proof for this workflow, now (workflow time). */
export function authenticateAct<N extends ActName>(name: N, payload: ActPayloads[N], at: { workflowId: string; nowMs: number; ring: ActKeyRing }): ActProofVerdict {
  return verifyActProof(payload, { act: name, workflowId: at.workflowId, roles: actRoles(name, payload), allowEmergency: true }, at.ring, at.nowMs);
}

/** The refusal of an act whose proof did not verify. */
export function unauthenticated(verdict: Extract<ActProofVerdict, { ok: false }>, stage: Stage): ActRefusal {
  return { code: 'NOT_AUTHENTICATED', stage, message: `${verdict.message} (${verdict.problem})` };
}

const PHONE_OUTCOMES = new Set(['passed', 'failed', 'unreachable']);
const DECISIONS = new Set(['approve', 'reject', 'request_info']);

function refusal(code: ActRefusalCode, stage: Stage, message: string): ActRefusal {
  return { code, stage, message };
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

/** The reason the workflow refuses `act` now, or null when it accepts it. */
export function refuseAct<N extends ActName>(name: N, payload: ActPayloads[N], view: ActView): ActRefusal | null {
  const stage = view.stage;
  const policy = view.policy ?? DEFAULT_POLICY;
  const p = payload as ActPayloads[ActName] | undefined;
  if (!p || typeof p !== 'object' || !nonEmpty(p.actor)) return refusal('INVALID_ACT', stage, 'an act needs an actor');
  if (p.actId !== undefined && view.seenActIds.has(p.actId)) return refusal('ALREADY_APPLIED', stage, `act ${p.actId} was already applied`);
  const notWaiting = (what: string) => refusal('NOT_WAITING', stage, `the application is in ${stage} and not waiting for ${what}`);

  switch (name) {
    case 'documentsSubmitted': {
      const a = p as DocumentsSubmitted;
      if (stage !== 'document_check') return notWaiting('documents');
      if (!Array.isArray(a.documentIds) || a.documentIds.length === 0 || !a.documentIds.every(nonEmpty)) {
        return refusal('INVALID_ACT', stage, 'documentIds must name at least one stored document');
      }
      return null;
    }
    case 'phoneVerificationCompleted': {
      const a = p as PhoneVerificationCompleted;
      if (stage !== 'phone_verification' || !view.awaitingPhoneOutcome) return notWaiting('a phone verification outcome');
      if (!PHONE_OUTCOMES.has(a.outcome)) return refusal('INVALID_ACT', stage, 'outcome must be passed, failed or unreachable');
      if (a.outcome === 'passed' && a.checklist?.identityConfirmed !== true) {
        return refusal('INVALID_ACT', stage, 'a passed verification must have confirmed the identity');
      }
      return null;
    }
    case 'approvalDecision': {
      const a = p as ApprovalDecision;
      if (stage !== 'approval' || !view.awaitingApproval) return notWaiting('an approval decision');
      if (!DECISIONS.has(a.decision)) return refusal('INVALID_ACT', stage, 'decision must be approve, reject or request_info');
      // Four eyes: whoever submitted the application takes no part in deciding it.
      if (sameStaffId(a.actor, view.submittedBy)) return refusal('SUBMITTER_CANNOT_APPROVE', stage, 'the submitting officer cannot decide this application');
      if (a.decision !== 'approve') {
        if (!isReasonCode(a.reasonCode)) return refusal('INVALID_ACT', stage, `${a.decision} needs a known reasonCode`);
        return null;
      }
      const change = { amountFen: a.amountFen, termMonths: a.termMonths, annualRateBps: a.annualRateBps };
      const changes = change.amountFen !== undefined || change.termMonths !== undefined || change.annualRateBps !== undefined;
      if (!view.offer && change.amountFen === undefined) return refusal('INVALID_ACT', stage, 'no offer could be made: an approval must give amountFen');
      if (changes) {
        const problems = offerChangeProblems(
          { ...(change.amountFen !== undefined ? { amountFen: change.amountFen } : {}), ...(change.termMonths !== undefined ? { termMonths: change.termMonths } : {}), ...(change.annualRateBps !== undefined ? { annualRateBps: change.annualRateBps } : {}) },
          { maxLoanFen: view.maxLoanFen ?? 0 },
          policy,
        );
        if (problems.length > 0) return refusal('INVALID_ACT', stage, problems.map((x) => `${x.field}: ${x.message}`).join('; '));
      }
      const changesOffer = changes && !sameTerms(view.offer, change);
      const evaluation = evaluateApproval(
        {
          amountFen: change.amountFen ?? view.offer?.amountFen ?? 0,
          submittedBy: view.submittedBy,
          // A changed offer is a new offer: approvals of the old one do not carry over.
          priorApprovals: changesOffer ? [] : view.approvals,
          approverId: a.actor,
        },
        policy,
      );
      if (evaluation.refusal === 'ALREADY_APPROVED_BY_THIS_APPROVER') {
        return refusal('ALREADY_APPROVED_BY_THIS_APPROVER', stage, 'this approver has already approved; a second approver is needed');
      }
      if (evaluation.refusal === 'SUBMITTER_CANNOT_APPROVE') return refusal('SUBMITTER_CANNOT_APPROVE', stage, 'the submitting officer cannot approve');
      if (evaluation.refusal === 'ALREADY_COMPLETE') return notWaiting('another approval');
      return null;
    }
    case 'contractSigned': {
      const a = p as ContractSigned;
      if (stage !== 'signing' || view.envelopeId === null || view.contractSigned) return notWaiting('a signature');
      if (a.source !== 'esign_callback' && a.source !== 'on_site') return refusal('INVALID_ACT', stage, 'source must be esign_callback or on_site');
      if (a.envelopeId !== undefined && a.envelopeId !== view.envelopeId) {
        return refusal('INVALID_ACT', stage, 'the signature is for another envelope than the one open');
      }
      if (!nonEmpty(a.signedAt)) return refusal('INVALID_ACT', stage, 'signedAt is required');
      return null;
    }
    case 'collateralRegistered': {
      const a = p as CollateralRegistered;
      if (!(stage === 'signing' || stage === 'disbursement' || stage === 'servicing') || view.collateralRegistered) {
        return notWaiting('a collateral registration');
      }
      if (!nonEmpty(a.registrationRef)) return refusal('INVALID_ACT', stage, 'registrationRef is required');
      return null;
    }
    case 'withdraw': {
      if (view.withdrawRequested) return refusal('ALREADY_APPLIED', stage, 'the withdrawal is already being applied');
      if (!withdrawable(stage)) return notWaiting('a withdrawal (money has been paid out or the application has ended)');
      return null;
    }
    default:
      return refusal('INVALID_ACT', stage, `unknown act ${String(name)}`);
  }
}

function sameTerms(offer: Offer | null, change: { amountFen?: number | undefined; termMonths?: number | undefined; annualRateBps?: number | undefined }): boolean {
  if (!offer) return false;
  return (
    (change.amountFen === undefined || change.amountFen === offer.amountFen) &&
    (change.termMonths === undefined || change.termMonths === offer.termMonths) &&
    (change.annualRateBps === undefined || change.annualRateBps === offer.annualRateBps)
  );
}
