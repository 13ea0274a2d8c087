/**
 * The previous release's acts: a signal and an update each for repayments and payoff requests,
 * the late collateral registration and the `state` query. Handlers queue what arrives; the main
 * loop applies it and answers each update. Every act must carry the API's proof (issue 15).
 */
import { type ApplicationFailure, condition, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { payoffDateProblem } from '../../domain/servicingRules';
import { BUNDLED_ACT_KEY_RING } from '../actProof';
import { loanApplicationWorkflowId } from '../messages';
import { refusalFailure } from '../refusals';
import { servicingProofRefusal, type ServicingActName } from '../servicingActs';
import {
  type ServicingRefusalCode,
  type ServicingState,
  collateralRegisteredLateSignal,
  earlyPayoffRequestedSignal,
  earlyPayoffRequestedUpdate,
  repaymentRecordedSignal,
  repaymentRecordedUpdate,
  SERVICING_REFUSED,
  servicingStateQuery,
} from '../servicingMessages';
import { db } from './activities';
import { type LegacyServicingRun, repaymentProblem } from './run';

/** The acts of this release by the names the API signs them as, and the ledger's names for them. */
const LEGACY_ACTS = { repaymentRecorded: 'repayment', earlyPayoffRequested: 'payoffQuote', collateralRegistered: 'collateral' } as const satisfies Record<string, ServicingActName>;

type ActGuard = ReturnType<typeof servicingActGuard>;

/**
 * This release's door for acts (issue 15): every repayment, payoff request and late collateral
 * registration must carry the API's proof, checked by servicingActs.ts. `validate` refuses a late
 * proof to its sender; `refused` records a forged act (null when the act may go on).
 */
function servicingActGuard(opts: { workflowId: string; applicationWorkflowId: string; record(data: Record<string, unknown>): Promise<void> }) {
  const proofs = { workflowId: opts.workflowId, applicationWorkflowId: opts.applicationWorkflowId, ring: BUNDLED_ACT_KEY_RING };
  const check = (act: keyof typeof LEGACY_ACTS, payload: unknown) => servicingProofRefusal(LEGACY_ACTS[act], payload, proofs, Date.now());
  const failure = (r: { message: string; problem?: string | undefined }) =>
    refusalFailure(SERVICING_REFUSED, { code: 'NOT_AUTHENTICATED', stage: 'servicing', message: r.message, problem: r.problem });
  return {
    validate(act: keyof typeof LEGACY_ACTS, payload: unknown): void {
      const r = check(act, payload);
      if (r?.late) throw failure(r);
    },
    refused(act: keyof typeof LEGACY_ACTS, payload: unknown, via: 'signal' | 'update'): Promise<void> | null {
      // Acts taken before proofs existed replay as they were; every act taken live since needs one.
      if (!patched('act-proofs')) return null;
      const r = check(act, payload);
      if (!r) return null;
      const claimedActor = typeof (payload as { actor?: unknown } | null)?.actor === 'string' ? (payload as { actor: string }).actor : 'unknown';
      const recorded = opts.record({ act, via, code: 'NOT_AUTHENTICATED', problem: r.problem, message: r.message, claimedActor });
      return via === 'update' ? recorded.then(() => Promise.reject(failure(r))) : recorded;
    },
  };
}

function refused(code: ServicingRefusalCode, message: string): ApplicationFailure {
  return refusalFailure(SERVICING_REFUSED, { code, stage: 'servicing', message });
}

/** The guard of this run: a forged act is recorded as act_refused, numbered within the run. */
function actGuardOf(run: LegacyServicingRun): ActGuard {
  const { workflowId, applicationId, loanId } = run;
  return servicingActGuard({
    workflowId,
    applicationWorkflowId: loanApplicationWorkflowId(applicationId),
    record: (data) =>
      db.recordLoanEvent({ eventKey: `${workflowId}:act_refused:${workflowInfo().runId}:${++run.refusals}`, applicationId, kind: 'act_refused', actor: 'system', stage: 'servicing', data: { loanId, ...data } }),
  });
}

function registerRepayment(run: LegacyServicingRun, acts: ActGuard): void {
  const { queue } = run;
  setHandler(repaymentRecordedSignal, (repayment) => acts.refused('repaymentRecorded', repayment, 'signal') ?? void queue.push({ kind: 'repayment', repayment, ticket: null }));
  setHandler(
    repaymentRecordedUpdate,
    async (repayment) => {
      const forged = acts.refused('repaymentRecorded', repayment, 'update');
      if (forged) return forged.then(() => run.state());
      const ticket = ++run.tickets;
      queue.push({ kind: 'repayment', repayment, ticket });
      await condition(() => run.answers.has(ticket));
      const answer = run.answers.get(ticket) as ServicingState;
      run.answers.delete(ticket);
      return answer;
    },
    {
      validator: (r) => {
        acts.validate('repaymentRecorded', r);
        const problem = repaymentProblem(r);
        if (problem) throw refused(problem, `repayment refused: ${problem}`);
        if (run.closedBy) throw refused('LOAN_CLOSED', 'the loan is closed');
      },
    },
  );
}

function registerPayoff(run: LegacyServicingRun, acts: ActGuard): void {
  const { queue } = run;
  setHandler(earlyPayoffRequestedSignal, (request) => acts.refused('earlyPayoffRequested', request, 'signal') ?? void queue.push({ kind: 'payoff', request, ticket: null }));
  setHandler(
    earlyPayoffRequestedUpdate,
    async (request) => {
      const forged = acts.refused('earlyPayoffRequested', request, 'update');
      if (forged) return forged.then(() => run.state());
      const ticket = ++run.tickets;
      queue.push({ kind: 'payoff', request, ticket });
      await condition(() => run.answers.has(ticket));
      const answer = run.answers.get(ticket) as ServicingState;
      run.answers.delete(ticket);
      if (!answer.payoffQuote || answer.payoffQuote.asOfDate !== request.asOfDate) {
        throw refused('INVALID_PAYOFF_DATE', 'no payoff quote for that date');
      }
      return answer;
    },
    {
      validator: (p) => {
        acts.validate('earlyPayoffRequested', p);
        if (run.closedBy) throw refused('LOAN_CLOSED', 'the loan is closed');
        const problem = run.schedule.length > 0 ? payoffDateProblem(run.schedule, p?.asOfDate, run.today()) : null;
        if (problem) throw refused('INVALID_PAYOFF_DATE', problem);
      },
    },
  );
}

/** Every handler, in the order that release registered them. */
export function registerLegacyHandlers(run: LegacyServicingRun): void {
  const acts = actGuardOf(run);
  registerRepayment(run, acts);
  registerPayoff(run, acts);
  setHandler(
    collateralRegisteredLateSignal,
    (c) =>
      acts.refused('collateralRegistered', c, 'signal') ??
      void run.queue.push({ kind: 'collateral', registrationRef: String(c?.registrationRef ?? ''), registeredAt: String(c?.registeredAt ?? ''), actor: String(c?.actor ?? '') }),
  );
  setHandler(servicingStateQuery, () => run.state());
}
