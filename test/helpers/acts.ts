import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config';
import { actSignerFromConfig } from '../../src/temporal/actKeys';
import { actRoles, type ActName, type ActPayloads } from '../../src/workflows/loanApplication/decideAct';
import { SERVICING_ACT_PROOFS } from '../../src/workflows/servicingActs';

/**
 * Tests that send acts straight to a workflow sign them as the API does: with the production
 * signer (src/temporal/actKeys.ts) and the development key the test workers trust, so the test
 * and the API cannot drift apart. On the time-skipping server the proof is issued at the server's
 * time (`useActClock`), since that is the workflow time it is judged by.
 */
export const testSigner = actSignerFromConfig(loadConfig({}));

let clock: () => Promise<number> = async () => Date.now();
/** The clock proofs are issued by (a time-skipping server's `currentTimeMs`). */
export function useActClock(fn: () => Promise<number>): void {
  clock = fn;
}

/** The servicing run's acts by the name the API signs them as (`repaymentRecorded`, `servicingApproval`, ...). */
const SERVICING_ROLES: Record<string, readonly string[]> = Object.fromEntries(
  Object.values(SERVICING_ACT_PROOFS)
    .filter((p) => p.act !== 'collateralRegistered') // the application's act: its own roles
    .map((p) => [p.act, p.roles]),
);
type ServicingActName = 'repaymentRecorded' | 'prepaymentRequested' | 'reversalRequested' | 'waiverRequested' | 'refundRequested' | 'servicingApproval' | 'earlyPayoffRequested';

/** The act an update or signal of the servicing run carries: its signal's name (`repaymentRecordedUpdate` carries `repaymentRecorded`). */
export const servicingActOf = (def: { name: string }): ServicingActName => def.name.replace(/Update$/, '') as ServicingActName;

export interface SignOptions {
  /** Default: the roles the act needs. */
  roles?: readonly string[];
  nowMs?: number;
  actId?: string;
}

/** The payload with the API's proof for `act` on `workflowId`. */
export async function signAct<P extends { actor: string; actId?: string | undefined }>(
  act: ActName | ServicingActName,
  workflowId: string,
  payload: P,
  opts: SignOptions = {},
): Promise<P & { proof: NonNullable<ActPayloads[ActName]['proof']> }> {
  const roles = opts.roles ?? SERVICING_ROLES[act] ?? actRoles(act as ActName, payload as never);
  return testSigner.sign(act, workflowId, payload, {
    actor: payload.actor,
    roles,
    actId: opts.actId ?? payload.actId ?? randomUUID(),
    nowMs: opts.nowMs ?? (await clock()),
  });
}
