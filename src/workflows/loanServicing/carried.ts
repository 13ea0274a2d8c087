/**
 * What a run on the ledger hands to the next (everything else is in PostgreSQL), and the acts
 * queued for the main loop, which it carries too when it continues as new.
 */
import type { Fen, IsoDate } from '../../domain';
import type { ServicingCarried as LegacyCarried } from '../loanServicingLegacy';
import type { ServicingActName, ServicingActPayloads, ServicingRefusal } from '../servicingActs';
import type { EarlyPayoffRequested, LoanServicingInput, OverdueBucket, PendingApproval, ServicingRequestKind } from '../servicingMessages';

/** Approved and rejected request ids remembered across runs (older repeats meet the ledger's own idempotency). */
export const DECIDED_KEPT = 200;

/** What a run on the ledger hands to the next; everything else is in PostgreSQL. */
export interface LedgerCarried {
  shape: 'ledger';
  run: number;
  bucket: OverdueBucket | null;
  actionsDone: string[];
  openCallTasks: string[];
  collateralOutstanding: boolean;
  collateralLastReminded: IsoDate | null;
  payoffQuote: { asOfDate: IsoDate; amountFen: Fen } | null;
  pending: PendingApproval[];
  decided: string[];
  /** Closed, waiting for the refund of credit left over. */
  closed: { atMs: number; how: 'repaid' | 'early_payoff' } | null;
  queued: Queued[];
}

export type RequestPayload = ServicingActPayloads['reversal'] | ServicingActPayloads['waiver'] | ServicingActPayloads['refund'];
export type Queued =
  | { kind: 'repayment'; payload: ServicingActPayloads['repayment']; ticket: number | null }
  | { kind: 'prepayment'; payload: ServicingActPayloads['prepayment']; ticket: number | null }
  | { kind: 'request'; request: ServicingRequestKind; payload: RequestPayload; ticket: number | null }
  | { kind: 'approval'; payload: ServicingActPayloads['approval']; ticket: number | null }
  | { kind: 'payoff'; payload: EarlyPayoffRequested; ticket: number | null }
  | { kind: 'collateral'; registrationRef: string; registeredAt: string; actor: string }
  /** Refused where it arrived; recorded in turn (and answered, for an update). */
  | { kind: 'refused'; act: ServicingActName; refusal: ServicingRefusal; via: 'signal' | 'update'; actor: string; ticket: number | null };

/** The carried state of a run of either shape (a run of the previous release continues into this one). */
export function carriedFrom(input: LoanServicingInput): LedgerCarried {
  const c = input.carried as Partial<LedgerCarried & LegacyCarried> | undefined;
  if (c?.shape === 'ledger') return c as LedgerCarried;
  return {
    shape: 'ledger',
    run: c?.run ?? 1,
    bucket: c?.bucket ?? null,
    actionsDone: c?.actionsDone ?? [],
    openCallTasks: c?.openCallTasks ?? [],
    collateralOutstanding: c?.collateralOutstanding ?? input.collateralRegistrationOutstanding,
    collateralLastReminded: c?.collateralLastReminded ?? null,
    payoffQuote: c?.payoffQuote ?? null,
    pending: [],
    decided: [],
    closed: null,
    // The previous release hands over with an empty queue; should anything be there, apply it.
    queued: ((c?.queued ?? []) as LegacyCarried['queued']).map((q): Queued =>
      q.kind === 'repayment' ? { kind: 'repayment', payload: q.repayment, ticket: null } : q.kind === 'payoff' ? { kind: 'payoff', payload: q.request, ticket: null } : q,
    ),
  };
}
