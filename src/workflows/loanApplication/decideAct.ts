/**
 * Whether the application workflow takes a human act now, and what taking it does: one pure
 * function over what the run knows. The update validators and the act handlers (signals and
 * updates alike) call it, so the API's synchronous answer, the fate of a signal from the Temporal
 * UI and the change the handler applies come from one evaluation of the act, never two.
 */
import {
  DEFAULT_POLICY,
  buildOffer,
  evaluateApproval,
  isReasonCode,
  offerChangeProblems,
  sameStaffId,
  withdrawable,
  type Offer,
  type ProductPolicy,
  type RepaymentMethod,
} from '../../domain';
import { ESIGN_PROVIDER_ACTOR, verifyActProof, type ActKeyRing, type ActProofVerdict } from '../actProof';
import type {
  ActRefusal,
  ActRefusalCode,
  ApprovalDecision,
  CollateralRegistered,
  ContractSigned,
  DocumentsSubmitted,
  LoanApplicationInput,
  LoanState,
  PhoneVerificationCompleted,
  Withdraw,
} from '../messages';

export interface ActPayloads {
  documentsSubmitted: DocumentsSubmitted;
  phoneVerificationCompleted: PhoneVerificationCompleted;
  approvalDecision: ApprovalDecision;
  contractSigned: ContractSigned;
  collateralRegistered: CollateralRegistered;
  withdraw: Withdraw;
}
export type ActName = keyof ActPayloads;

/** What an act is judged on: the run itself (ApplicationRun), read-only. */
export interface ActView {
  readonly input: Pick<LoanApplicationInput, 'submittedBy' | 'amountFen' | 'termMonths' | 'repaymentMethod'>;
  readonly state: Pick<LoanState, 'stage' | 'offer' | 'riskGrade' | 'envelopeId' | 'collateralRegistered'>;
  readonly seenActIds: ReadonlySet<string>;
  /** A call task is open and its outcome not yet recorded. */
  readonly awaitingPhoneOutcome: boolean;
  /** The decision rules ran and the workflow waits for approvers. */
  readonly awaitingApproval: boolean;
  /** Approvers already counted for the current offer. */
  readonly approvals: readonly string[];
  /** The LTV maximum an approver may raise the amount to. */
  readonly maxLoanFen: number | null;
  readonly signature: ContractSigned | null;
  readonly withdrawal: Withdraw | null;
  /** The act the stage is about to ask for, while the step that opens it runs (the call task, the rules, the envelope). */
  readonly upcoming: ActName | null;
  readonly policy?: ProductPolicy;
}

/** How an accepted approval counts (four eyes), and the new offer when the approver changed the terms. */
export interface ApprovalCount {
  /** The approver's terms as a new offer, whose approvals start afresh; null when the offer stands. */
  newOffer: Offer | null;
  counted: boolean;
  approvals: string[];
  requiredApprovals: 1 | 2;
  complete: boolean;
}

/** What taking the act changes, as the handler applies it. */
export type ActEffect =
  | { act: 'documentsSubmitted'; payload: DocumentsSubmitted }
  | { act: 'phoneVerificationCompleted'; payload: PhoneVerificationCompleted }
  | { act: 'approvalDecision'; payload: ApprovalDecision; count: ApprovalCount | null }
  | { act: 'contractSigned'; payload: ContractSigned }
  | { act: 'collateralRegistered'; payload: CollateralRegistered }
  | { act: 'withdraw'; payload: Withdraw };

/**
 * `defer`: the act is for the stage the run is in, which is about to ask for it: it waits for that
 * step. `early` (on a deferral, or a refusal made while deferring) is what runs started before
 * acts could wait answered instead: not waiting.
 */
export type ActDecision =
  | { verdict: 'accept'; effect: ActEffect }
  | { verdict: 'refuse'; refusal: ActRefusal; early?: ActRefusal }
  | { verdict: 'defer'; early: ActRefusal };

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
export function unauthenticated(verdict: Extract<ActProofVerdict, { ok: false }>, stage: LoanState['stage']): ActRefusal {
  return { code: 'NOT_AUTHENTICATED', stage, message: `${verdict.message} (${verdict.problem})` };
}

const PHONE_OUTCOMES = new Set(['passed', 'failed', 'unreachable']);
const DECISIONS = new Set(['approve', 'reject', 'request_info']);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

const refuse = (code: ActRefusalCode, view: ActView, message: string): ActDecision => ({ verdict: 'refuse', refusal: { code, stage: view.state.stage, message } });
const accept = (effect: ActEffect): ActDecision => ({ verdict: 'accept', effect });

const notWaitingRefusal = (view: ActView, what: string): ActRefusal => ({
  code: 'NOT_WAITING',
  stage: view.state.stage,
  message: `the application is in ${view.state.stage} and not waiting for ${what}`,
});
const notWaiting = (view: ActView, what: string): ActDecision => ({ verdict: 'refuse', refusal: notWaitingRefusal(view, what) });

/** Before the step that takes it: refused at once if it could never be taken, otherwise deferred. */
function early(view: ActView, what: string, problem: ActDecision | null): ActDecision {
  const legacy = notWaitingRefusal(view, what);
  return problem?.verdict === 'refuse' ? { ...problem, early: legacy } : { verdict: 'defer', early: legacy };
}

/** Whether the run takes `act` now: accepted with its effect, refused and why, or deferred to the step that takes it. */
export function decideAct<N extends ActName>(name: N, payload: ActPayloads[N], view: ActView): ActDecision {
  const p = payload as ActPayloads[ActName] | undefined;
  if (!p || typeof p !== 'object' || !nonEmpty(p.actor)) return refuse('INVALID_ACT', view, 'an act needs an actor');
  if (p.actId !== undefined && view.seenActIds.has(p.actId)) return refuse('ALREADY_APPLIED', view, `act ${p.actId} was already applied`);
  switch (name) {
    case 'documentsSubmitted':
      return decideDocuments(p as DocumentsSubmitted, view);
    case 'phoneVerificationCompleted':
      return decidePhoneOutcome(p as PhoneVerificationCompleted, view);
    case 'approvalDecision':
      return decideApproval(p as ApprovalDecision, view);
    case 'contractSigned':
      return decideSignature(p as ContractSigned, view);
    case 'collateralRegistered':
      return decideCollateral(p as CollateralRegistered, view);
    case 'withdraw':
      if (view.withdrawal !== null) return refuse('ALREADY_APPLIED', view, 'the withdrawal is already being applied');
      if (!withdrawable(view.state.stage)) return notWaiting(view, 'a withdrawal (money has been paid out or the application has ended)');
      return accept({ act: 'withdraw', payload: p as Withdraw });
    default:
      return refuse('INVALID_ACT', view, `unknown act ${String(name)}`);
  }
}

function decideDocuments(a: DocumentsSubmitted, view: ActView): ActDecision {
  if (view.state.stage !== 'document_check') return notWaiting(view, 'documents');
  if (!Array.isArray(a.documentIds) || a.documentIds.length === 0 || !a.documentIds.every(nonEmpty)) {
    return refuse('INVALID_ACT', view, 'documentIds must name at least one stored document');
  }
  return accept({ act: 'documentsSubmitted', payload: a });
}

function phoneOutcomeProblem(a: PhoneVerificationCompleted, view: ActView): ActDecision | null {
  if (!PHONE_OUTCOMES.has(a.outcome)) return refuse('INVALID_ACT', view, 'outcome must be passed, failed or unreachable');
  if (a.outcome === 'passed' && a.checklist?.identityConfirmed !== true) return refuse('INVALID_ACT', view, 'a passed verification must have confirmed the identity');
  return null;
}

function decidePhoneOutcome(a: PhoneVerificationCompleted, view: ActView): ActDecision {
  const what = 'a phone verification outcome';
  if (view.state.stage === 'phone_verification' && !view.awaitingPhoneOutcome && view.upcoming === 'phoneVerificationCompleted') {
    return early(view, what, phoneOutcomeProblem(a, view));
  }
  if (view.state.stage !== 'phone_verification' || !view.awaitingPhoneOutcome) return notWaiting(view, what);
  return phoneOutcomeProblem(a, view) ?? accept({ act: 'phoneVerificationCompleted', payload: a });
}

/** What can be judged of a decision before the rules have run: its kind, who decides, a reason code. */
function decisionProblem(a: ApprovalDecision, view: ActView): ActDecision | null {
  if (!DECISIONS.has(a.decision)) return refuse('INVALID_ACT', view, 'decision must be approve, reject or request_info');
  // Four eyes: whoever submitted the application takes no part in deciding it.
  if (sameStaffId(a.actor, view.input.submittedBy)) return refuse('SUBMITTER_CANNOT_APPROVE', view, 'the submitting officer cannot decide this application');
  if (a.decision !== 'approve' && !isReasonCode(a.reasonCode)) return refuse('INVALID_ACT', view, `${a.decision} needs a known reasonCode`);
  return null;
}

function decideApproval(a: ApprovalDecision, view: ActView): ActDecision {
  const what = 'an approval decision';
  if (view.state.stage === 'approval' && !view.awaitingApproval && view.upcoming === 'approvalDecision') return early(view, what, decisionProblem(a, view));
  if (view.state.stage !== 'approval' || !view.awaitingApproval) return notWaiting(view, what);
  const problem = decisionProblem(a, view);
  if (problem) return problem;
  if (a.decision !== 'approve') return accept({ act: 'approvalDecision', payload: a, count: null });
  const policy = view.policy ?? DEFAULT_POLICY;
  const change = { amountFen: a.amountFen, termMonths: a.termMonths, annualRateBps: a.annualRateBps };
  const current = view.state.offer;
  if (!current && change.amountFen === undefined) return refuse('INVALID_ACT', view, 'no offer could be made: an approval must give amountFen');
  if (change.amountFen !== undefined || change.termMonths !== undefined || change.annualRateBps !== undefined) {
    const given = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) as Partial<typeof change>;
    const problems = offerChangeProblems(given, { maxLoanFen: view.maxLoanFen ?? 0 }, policy);
    if (problems.length > 0) return refuse('INVALID_ACT', view, problems.map((x) => `${x.field}: ${x.message}`).join('; '));
  }
  const changed =
    (change.amountFen !== undefined && change.amountFen !== current?.amountFen) ||
    (change.termMonths !== undefined && change.termMonths !== current?.termMonths) ||
    (change.annualRateBps !== undefined && change.annualRateBps !== current?.annualRateBps);
  // The approver sets new terms within the limits: a new offer, whose approvals start afresh.
  const newOffer =
    changed || !current
      ? buildOffer(
          {
            amountFen: change.amountFen ?? current?.amountFen ?? view.input.amountFen,
            termMonths: change.termMonths ?? current?.termMonths ?? view.input.termMonths,
            repaymentMethod: current?.repaymentMethod ?? (view.input.repaymentMethod as RepaymentMethod),
            annualRateBps: change.annualRateBps ?? current?.annualRateBps ?? policy.ratesByGradeBps[view.state.riskGrade ?? 'E'],
          },
          policy,
        )
      : null;
  const offer = (newOffer ?? current) as Offer;
  const e = evaluateApproval({ amountFen: offer.amountFen, submittedBy: view.input.submittedBy, priorApprovals: newOffer ? [] : view.approvals, approverId: a.actor }, policy);
  if (e.refusal === 'ALREADY_APPROVED_BY_THIS_APPROVER') return refuse('ALREADY_APPROVED_BY_THIS_APPROVER', view, 'this approver has already approved; a second approver is needed');
  if (e.refusal === 'SUBMITTER_CANNOT_APPROVE') return refuse('SUBMITTER_CANNOT_APPROVE', view, 'the submitting officer cannot approve');
  if (e.refusal === 'ALREADY_COMPLETE') return notWaiting(view, 'another approval');
  return accept({ act: 'approvalDecision', payload: a, count: { newOffer, counted: e.counts, approvals: e.approvals, requiredApprovals: e.requiredApprovals, complete: e.complete } });
}

function signatureProblem(a: ContractSigned, view: ActView): ActDecision | null {
  if (a.source !== 'esign_callback' && a.source !== 'on_site') return refuse('INVALID_ACT', view, 'source must be esign_callback or on_site');
  if (a.envelopeId !== undefined && view.state.envelopeId !== null && a.envelopeId !== view.state.envelopeId) {
    return refuse('INVALID_ACT', view, 'the signature is for another envelope than the one open');
  }
  if (!nonEmpty(a.signedAt)) return refuse('INVALID_ACT', view, 'signedAt is required');
  return null;
}

function decideSignature(a: ContractSigned, view: ActView): ActDecision {
  const what = 'a signature';
  const { stage, envelopeId } = view.state;
  if (stage === 'signing' && envelopeId === null && view.signature === null && view.upcoming === 'contractSigned') return early(view, what, signatureProblem(a, view));
  if (stage !== 'signing' || envelopeId === null || view.signature !== null) return notWaiting(view, what);
  return signatureProblem(a, view) ?? accept({ act: 'contractSigned', payload: a });
}

function decideCollateral(a: CollateralRegistered, view: ActView): ActDecision {
  const stage = view.state.stage;
  if (!(stage === 'signing' || stage === 'disbursement' || stage === 'servicing') || view.state.collateralRegistered) return notWaiting(view, 'a collateral registration');
  if (!nonEmpty(a.registrationRef)) return refuse('INVALID_ACT', view, 'registrationRef is required');
  return accept({ act: 'collateralRegistered', payload: a });
}
