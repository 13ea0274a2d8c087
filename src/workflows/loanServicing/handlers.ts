/**
 * The servicing run's acts: an update (the API) and a signal twin (the Temporal UI) each, both
 * judged by refuseServicingAct on the run's view. The handlers only queue what arrives (a refusal
 * too, to be recorded); the main loop applies the queue in order and answers each update.
 */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { refusalFailure } from '../refusals';
import { servicingProofRefusal, type ServicingActName, type ServicingActPayloads, type ServicingRefusal } from '../servicingActs';
import {
  type ServicingState,
  collateralRegisteredLateSignal,
  earlyPayoffRequestedSignal,
  earlyPayoffRequestedUpdate,
  prepaymentRequestedSignal,
  prepaymentRequestedUpdate,
  refundRequestedSignal,
  refundRequestedUpdate,
  repaymentRecordedSignal,
  repaymentRecordedUpdate,
  reversalRequestedSignal,
  reversalRequestedUpdate,
  SERVICING_REFUSED,
  servicingApprovalSignal,
  servicingApprovalUpdate,
  servicingStateQuery,
  waiverRequestedSignal,
  waiverRequestedUpdate,
} from '../servicingMessages';
import type { Queued } from './carried';
import type { Answer, ServicingRun } from './run';

type Enqueue<N extends ServicingActName> = (p: ServicingActPayloads[N], ticket: number | null) => Queued;

export function refused(r: ServicingRefusal): ApplicationFailure {
  return refusalFailure(SERVICING_REFUSED, { code: r.code, stage: 'servicing', message: r.message, ...(r.problem ? { problem: r.problem } : {}) });
}

const claimedActor = (payload: unknown) => String((payload as { actor?: unknown } | null)?.actor ?? '');

function signalHandler<N extends ServicingActName>(run: ServicingRun, name: N, enqueue: Enqueue<N>) {
  return (payload: ServicingActPayloads[N]): void => {
    const r = run.refuse(name, payload, run.proofsAtEntry());
    if (r && r.code !== 'ALREADY_PENDING') run.queue.push({ kind: 'refused', act: name, refusal: r, via: 'signal', actor: claimedActor(payload), ticket: null });
    else if (!r) run.queue.push(enqueue(payload, null));
  };
}

/** Queues the act with a ticket and waits for the main loop's answer to it. */
function updateHandler<N extends ServicingActName>(run: ServicingRun, name: N, enqueue: Enqueue<N>) {
  return async (payload: ServicingActPayloads[N]): Promise<ServicingState> => {
    const ticket = ++run.tickets;
    // A forged act got past the validator to be recorded here, then refused to its sender.
    const ctx = run.proofsAtEntry();
    const forged = ctx ? servicingProofRefusal(name, payload, ctx, Date.now()) : null;
    if (forged) run.queue.push({ kind: 'refused', act: name, refusal: forged, via: 'update', actor: claimedActor(payload), ticket });
    else {
      if (name === 'approval') run.deciding.add((payload as ServicingActPayloads['approval']).requestId);
      run.queue.push(enqueue(payload, ticket));
    }
    await condition(() => run.answers.has(ticket));
    const a = run.answers.get(ticket) as Answer;
    run.answers.delete(ticket);
    if ('refusal' in a) throw refused(a.refusal);
    return a.state;
  };
}

function validator<N extends ServicingActName>(run: ServicingRun, name: N) {
  return (payload: ServicingActPayloads[N]): void => {
    const r = run.refuse(name, payload, run.proofs);
    // Forged: accepted so that the handler records it. Late: the API signs anew and retries.
    if (r && !(r.code === 'NOT_AUTHENTICATED' && !r.late)) throw refused(r);
  };
}

function act<N extends ServicingActName>(run: ServicingRun, name: N, signal: SignalDefinition<[ServicingActPayloads[N]]>, update: UpdateDefinition<ServicingState, [ServicingActPayloads[N]]>, enqueue: Enqueue<N>): void {
  setHandler(signal, signalHandler(run, name, enqueue));
  setHandler(update, updateHandler(run, name, enqueue), { validator: validator(run, name) });
}

/** Every act's signal and update, the late collateral registration and the `state` query. */
export function registerServicingHandlers(run: ServicingRun): void {
  act(run, 'repayment', repaymentRecordedSignal, repaymentRecordedUpdate, (payload, ticket) => ({ kind: 'repayment', payload, ticket }));
  act(run, 'prepayment', prepaymentRequestedSignal, prepaymentRequestedUpdate, (payload, ticket) => ({ kind: 'prepayment', payload, ticket }));
  act(run, 'reversal', reversalRequestedSignal, reversalRequestedUpdate, (payload, ticket) => ({ kind: 'request', request: 'reversal', payload, ticket }));
  act(run, 'waiver', waiverRequestedSignal, waiverRequestedUpdate, (payload, ticket) => ({ kind: 'request', request: 'waiver', payload, ticket }));
  act(run, 'refund', refundRequestedSignal, refundRequestedUpdate, (payload, ticket) => ({ kind: 'request', request: 'refund', payload, ticket }));
  act(run, 'approval', servicingApprovalSignal, servicingApprovalUpdate, (payload, ticket) => ({ kind: 'approval', payload, ticket }));
  act(run, 'payoffQuote', earlyPayoffRequestedSignal, earlyPayoffRequestedUpdate, (payload, ticket) => ({ kind: 'payoff', payload, ticket }));
  setHandler(collateralRegisteredLateSignal, (c) => {
    const r = run.refuse('collateral', c, run.proofsAtEntry());
    if (r) run.queue.push({ kind: 'refused', act: 'collateral', refusal: r, via: 'signal', actor: claimedActor(c), ticket: null });
    else run.queue.push({ kind: 'collateral', registrationRef: String(c?.registrationRef ?? ''), registeredAt: String(c?.registeredAt ?? ''), actor: String(c?.actor ?? '') });
  });
  setHandler(servicingStateQuery, () => run.state());
}
