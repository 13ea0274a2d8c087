/**
 * The servicing workflow's door for acts: every repayment, payoff request and late collateral
 * registration must carry the API's proof (actProof.ts), as the application's acts do. One call at
 * each act's entry: the update validator (`validate`) and the signal and update handlers
 * (`refused`). What was not signed by the API is refused and recorded in loan_events; a proof the
 * API signed but that came too late is refused to its sender, who signs anew.
 */
import { patched } from '@temporalio/workflow';
import { BUNDLED_ACT_KEY_RING, isLateProof, verifyActProof, type ActProofVerdict } from './actProof';
import { refusalFailure } from './refusals';
import { SERVICING_REFUSED } from './servicingMessages';

export type ServicingActName = 'repaymentRecorded' | 'earlyPayoffRequested' | 'collateralRegistered';

const ROLES: Record<ServicingActName, readonly string[]> = {
  repaymentRecorded: ['finance'],
  earlyPayoffRequested: ['finance'],
  collateralRegistered: ['officer'],
};

export interface ServicingActGuardOptions {
  workflowId: string;
  /** A collateral registration is the application's act, forwarded with its proof for that workflow. */
  applicationWorkflowId: string;
  /** Writes the act_refused event (loan_events). */
  record(data: Record<string, unknown>): Promise<void>;
}

export function servicingActGuard(opts: ServicingActGuardOptions) {
  const verdict = (act: ServicingActName, payload: unknown): ActProofVerdict =>
    verifyActProof(
      payload,
      { act, workflowId: act === 'collateralRegistered' ? opts.applicationWorkflowId : opts.workflowId, roles: ROLES[act], allowEmergency: false },
      BUNDLED_ACT_KEY_RING,
      Date.now(),
    );
  const failure = (v: Extract<ActProofVerdict, { ok: false }>) =>
    refusalFailure(SERVICING_REFUSED, { code: 'NOT_AUTHENTICATED', stage: 'servicing', message: `${v.message} (${v.problem})`, problem: v.problem });

  return {
    /** For an update validator: refuses a late proof; a forged one passes, for the handler to record. */
    validate(act: ServicingActName, payload: unknown): void {
      const v = verdict(act, payload);
      if (!v.ok && isLateProof(v)) throw failure(v);
    },
    /**
     * Null when the act may go on (authenticated, or taken before proofs existed and replayed as
     * it was); otherwise the refusal being recorded, which an update's handler returns (it fails).
     */
    refused(act: ServicingActName, payload: unknown, via: 'signal' | 'update'): Promise<void> | null {
      // Acts taken before proofs existed replay as they were; every act taken live since needs one.
      if (!patched('act-proofs')) return null;
      const v = verdict(act, payload);
      if (v.ok) return null;
      const claimedActor = typeof (payload as { actor?: unknown } | null)?.actor === 'string' ? (payload as { actor: string }).actor : 'unknown';
      const recorded = opts.record({ act, via, code: 'NOT_AUTHENTICATED', problem: v.problem, message: v.message, claimedActor });
      return via === 'update' ? recorded.then(() => Promise.reject(failure(v))) : recorded;
    },
  };
}
