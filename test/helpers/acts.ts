import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config';
import { actSignerFromConfig } from '../../src/temporal/actKeys';
import { actRoles, type ActName, type ActPayloads } from '../../src/workflows/loanApplication/decideAct';

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

const SERVICING_ROLES = { repaymentRecorded: ['finance'], earlyPayoffRequested: ['finance'] } as const;
type ServicingActName = keyof typeof SERVICING_ROLES;

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
  const roles = opts.roles ?? (act in SERVICING_ROLES ? SERVICING_ROLES[act as ServicingActName] : actRoles(act as ActName, payload as never));
  return testSigner.sign(act, workflowId, payload, {
    actor: payload.actor,
    roles,
    actId: opts.actId ?? payload.actId ?? randomUUID(),
    nowMs: opts.nowMs ?? (await clock()),
  });
}
