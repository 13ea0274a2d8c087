/**
 * The human acts' handlers: each act is a signal (Temporal UI, CLI) and an update (the API), both
 * judged by decideAct and applied by one handler. An update's validator refuses what decideAct
 * refuses, so a refused update leaves nothing in the history; a refused signal is recorded
 * (state.refusedActs, an act_refused event), never dropped. See docs/architecture.md.
 */
import { condition, getExternalWorkflowHandle, log, setHandler } from '@temporalio/workflow';
import { FailureType } from '../../contracts/failures';
import { WORKFLOW_ACT_EVENT_KINDS } from '../../contracts/loanEvents';
import { requiresFourEyes } from '../../domain';
import { isLateProof } from '../actProof';
import {
  approvalDecisionSignal,
  approvalDecisionUpdate,
  collateralRegisteredSignal,
  collateralRegisteredUpdate,
  contractSignedSignal,
  contractSignedUpdate,
  documentsSubmittedSignal,
  documentsSubmittedUpdate,
  phoneVerificationCompletedSignal,
  phoneVerificationCompletedUpdate,
  stateQuery,
  withdrawSignal,
  withdrawUpdate,
  type ActRefusal,
  type LoanState,
  type PendingTaskKind,
} from '../messages';
import { refusalFailure } from '../refusals';
import { decideAct, unauthenticated, type ActDecision, type ActEffect, type ActName, type ActPayloads, type ApprovalCount } from './decideAct';
import { PATCH } from './patches';
import type { ApplicationRun } from './run';

const refusedAct = (r: ActRefusal) => refusalFailure(FailureType.ActRefused, r);

/** decideAct, as runs that met an early act before acts could wait for their step answer it: not waiting. */
function decide<N extends ActName>(run: ApplicationRun, name: N, payload: ActPayloads[N]): ActDecision {
  const d = decideAct(name, payload, run);
  if (d.verdict !== 'accept' && d.early && !run.patched(PATCH.earlyActs)) return { verdict: 'refuse', refusal: d.early };
  return d;
}

/** The act has done what the pending task asked: the task is gone from the state, its answer and the work queue. */
function completeTask(run: ApplicationRun, kind: PendingTaskKind): void {
  if (run.state.pendingTask?.kind === kind && run.patched(PATCH.actCompletesTask)) run.state.pendingTask = null;
}

/** Applies an approval as decideAct counted it; answers what loan_events records of it. */
function applyApproval(run: ApplicationRun, a: ActPayloads['approvalDecision'], count: ApprovalCount | null): Record<string, unknown> {
  const { state } = run;
  const at = run.iso(run.now());
  if (a.decision !== 'approve' || !count) {
    state.decisions.push({ actor: a.actor, decision: a.decision, reasonCode: a.reasonCode, at, counted: true });
    run.approvalOutcome = { kind: a.decision === 'reject' ? 'rejected' : 'request_info', reasonCode: a.reasonCode as string };
    run.awaitingApproval = false;
    completeTask(run, 'approval');
    return { decision: a.decision, reasonCode: a.reasonCode };
  }
  if (count.newOffer) {
    state.offer = count.newOffer;
    state.requiresFourEyes = requiresFourEyes(count.newOffer.amountFen, run.policy);
  }
  run.approvals = count.approvals;
  state.decisions.push({ actor: a.actor, decision: 'approve', at, counted: count.counted });
  if (state.pendingTask?.kind === 'approval') {
    state.pendingTask.approvalsNeeded = count.requiredApprovals;
    state.pendingTask.approvedBy = [...count.approvals];
  }
  if (count.complete) {
    run.approvalOutcome = { kind: 'approved' };
    run.awaitingApproval = false;
    completeTask(run, 'approval');
  }
  const o = count.newOffer;
  return {
    decision: 'approve',
    counted: count.counted,
    approvals: count.approvals.length,
    required: count.requiredApprovals,
    complete: count.complete,
    offer: o ? { amountFen: o.amountFen, termMonths: o.termMonths, annualRateBps: o.annualRateBps } : undefined,
  };
}

/** Applies an accepted act to what the main flow waits on (synchronously); answers what loan_events records of it. */
function applyAct(run: ApplicationRun, effect: ActEffect): Record<string, unknown> {
  const { state } = run;
  switch (effect.act) {
    case 'documentsSubmitted':
      run.documentArrivals++;
      return { documentIds: effect.payload.documentIds };
    case 'phoneVerificationCompleted': {
      const a = effect.payload;
      run.phoneOutcome = a;
      run.awaitingPhoneOutcome = false;
      completeTask(run, 'phone_verification');
      const c = a.checklist;
      const checklist = { identityConfirmed: c?.identityConfirmed === true, incomeConfirmed: c?.incomeConfirmed === true, purposeConfirmed: c?.purposeConfirmed === true, anomalies: c?.anomalies ?? [] };
      return { outcome: a.outcome, recordingRef: a.recordingRef ?? null, checklist, attempt: state.phoneAttempts };
    }
    case 'approvalDecision':
      return applyApproval(run, effect.payload, effect.count);
    case 'contractSigned': {
      const a = effect.payload;
      run.signature = a;
      completeTask(run, 'sign_contract');
      return { source: a.source, envelopeId: a.envelopeId ?? state.envelopeId, signedAt: a.signedAt };
    }
    case 'collateralRegistered': {
      const a = effect.payload;
      state.collateralRegistered = true;
      completeTask(run, 'register_collateral');
      if (state.stage === 'servicing' && run.servicingWorkflowId) {
        // The loan is already with servicing: it tracks the registration still owed.
        // Forwarded whole, with the API's proof, which the servicing workflow checks in its turn.
        void getExternalWorkflowHandle(run.servicingWorkflowId)
          .signal('collateralRegistered', a)
          .catch((err: unknown) => log.warn('could not forward collateral registration', { applicationId: run.applicationId, error: String(err) }));
      }
      return { registrationRef: a.registrationRef, registeredAt: a.registeredAt };
    }
    case 'withdraw':
      run.withdrawal = effect.payload;
      return { reasonCode: effect.payload.reasonCode ?? null, stage: state.stage };
  }
}

/**
 * One act, from a signal or an update: authenticated, decided (waiting first if the stage is about
 * to ask for it), then refused and recorded, or applied and recorded. The update's answer is the
 * state once the main flow has taken the act up in this workflow task (the task it completed gone,
 * the next one set), not a copy taken before the workflow could react.
 */
async function handleAct<N extends ActName>(run: ApplicationRun, name: N, payload: ActPayloads[N], via: 'signal' | 'update'): Promise<LoanState> {
  const { state } = run;
  // Acts a run took before proofs existed replay as they were; every act taken live since needs
  // one, in old runs too (the patch marker goes into the history with the first such act).
  const verdict = run.patched(PATCH.actProofs) ? run.authenticity(name, payload) : null;
  let decision: ActDecision = verdict && !verdict.ok ? { verdict: 'refuse', refusal: unauthenticated(verdict, state.stage) } : decide(run, name, payload);
  const deferred = decision.verdict === 'defer';
  if (deferred) {
    // For this stage, whose step that takes it is still running: wait for that step, or for the stage to move on.
    await condition(() => decideAct(name, payload, run).verdict !== 'defer');
    decision = decide(run, name, payload);
  }
  if (decision.verdict !== 'accept') {
    const refused = decision.verdict === 'refuse' ? decision.refusal : decision.early;
    // An update gets here refused only unauthenticated or after waiting (its validator refused anything else).
    if (via === 'update' && !deferred && refused.code !== 'NOT_AUTHENTICATED') throw refusedAct(refused);
    if (refused.code === 'ALREADY_APPLIED' && !verdict) return state;
    const actor = typeof payload?.actor === 'string' ? payload.actor : 'unknown';
    const problem = verdict && !verdict.ok ? verdict.problem : undefined;
    state.refusedActs.push({ act: name, actor, code: refused.code, at: run.iso(run.now()), ...(problem ? { problem } : {}) });
    await run.recordAct('act_refused', `act:${++run.actSeq}:${name}:refused`, { act: WORKFLOW_ACT_EVENT_KINDS[name], via, code: refused.code, message: refused.message, ...(problem ? { problem } : {}) }, actor);
    if (via === 'update') throw refusedAct(problem ? { ...refused, problem } : refused);
    return state;
  }
  if (payload.actId !== undefined) run.seenActIds.add(payload.actId);
  const seq = ++run.actSeq;
  const emergency = verdict?.ok ? verdict.emergency : null;
  if (emergency) run.flagEmergency(emergency);
  const wakeups = run.wakeups;
  const data = applyAct(run, decision.effect);
  const reacts = run.waitingFor?.() === true;
  const recorded = run.recordAct(WORKFLOW_ACT_EVENT_KINDS[name], `act:${seq}:${name}`, { via, actId: payload.actId ?? null, ...data, ...(emergency ? { emergency: { reasonCode: emergency } } : {}) }, payload.actor);
  // The main flow wakes from its wait in this same workflow task and reacts up to its next step
  // (the conditions are checked again once it has): the answer is the state after that, whatever
  // the main flow does in later tasks while the act is being recorded.
  if (reacts) await condition(() => run.wakeups > wakeups);
  const answer = JSON.parse(JSON.stringify(state)) as LoanState;
  await recorded;
  await run.publish();
  return answer;
}

function validator<N extends ActName>(run: ApplicationRun, name: N) {
  return (payload: ActPayloads[N]): void => {
    // Validators run live only (never on replay), so every update needs its proof, old runs' too.
    const verdict = run.authenticity(name, payload);
    if (!verdict.ok) {
      // The API's own act out of its time: refused to the API, which audits it and retries signed anew.
      if (isLateProof(verdict)) throw refusedAct(unauthenticated(verdict, run.state.stage));
      // Not signed by the API for this act: accepted only so that the handler refuses and records it.
      return;
    }
    const decision = decideAct(name, payload, run);
    if (decision.verdict === 'refuse') throw refusedAct(decision.refusal);
  };
}

/** The `state` query and every act's signal and update. */
export function registerActHandlers(run: ApplicationRun): void {
  setHandler(stateQuery, () => run.state);
  setHandler(documentsSubmittedSignal, (p) => handleAct(run, 'documentsSubmitted', p, 'signal').then(() => undefined));
  setHandler(phoneVerificationCompletedSignal, (p) => handleAct(run, 'phoneVerificationCompleted', p, 'signal').then(() => undefined));
  setHandler(approvalDecisionSignal, (p) => handleAct(run, 'approvalDecision', p, 'signal').then(() => undefined));
  setHandler(contractSignedSignal, (p) => handleAct(run, 'contractSigned', p, 'signal').then(() => undefined));
  setHandler(collateralRegisteredSignal, (p) => handleAct(run, 'collateralRegistered', p, 'signal').then(() => undefined));
  setHandler(withdrawSignal, (p) => handleAct(run, 'withdraw', p, 'signal').then(() => undefined));
  setHandler(documentsSubmittedUpdate, (p) => handleAct(run, 'documentsSubmitted', p, 'update'), { validator: validator(run, 'documentsSubmitted') });
  setHandler(phoneVerificationCompletedUpdate, (p) => handleAct(run, 'phoneVerificationCompleted', p, 'update'), { validator: validator(run, 'phoneVerificationCompleted') });
  setHandler(approvalDecisionUpdate, (p) => handleAct(run, 'approvalDecision', p, 'update'), { validator: validator(run, 'approvalDecision') });
  setHandler(contractSignedUpdate, (p) => handleAct(run, 'contractSigned', p, 'update'), { validator: validator(run, 'contractSigned') });
  setHandler(collateralRegisteredUpdate, (p) => handleAct(run, 'collateralRegistered', p, 'update'), { validator: validator(run, 'collateralRegistered') });
  setHandler(withdrawUpdate, (p) => handleAct(run, 'withdraw', p, 'update'), { validator: validator(run, 'withdraw') });
}
