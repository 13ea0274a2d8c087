/**
 * One servicing run on the ledger: what the handlers and the main loop share (the carried state,
 * the acts queued and their answers, the loan's position as last read) and the bookkeeping every
 * step does (judge an act on the run's view, answer an update, record loan_events, publish).
 */
import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { ServicingPosition, ServicingRequest } from '../../activities/loans';
import { DEFAULT_POLICY, type IsoDate, shanghaiDate } from '../../domain';
import { BUNDLED_ACT_KEY_RING } from '../actProof';
import { loanApplicationWorkflowId, loanServicingWorkflowId } from '../messages';
import { LoanAmountFen, LoanStage, OverdueBucket as OverdueBucketSA, PendingTask } from '../searchAttributes';
import { refuseServicingAct, type ServicingActName, type ServicingActPayloads, type ServicingActView, type ServicingProofContext, type ServicingRefusal } from '../servicingActs';
import type { LoanServicingInput, ServicingState } from '../servicingMessages';
import { call, db } from './activities';
import { servicingDetails } from './details';
import { carriedFrom, type LedgerCarried, type Queued } from './carried';
import { PATCH } from './patches';

/** Continue-as-new after this many instalments fell due in one run. */
export const INSTALMENTS_PER_RUN = 6;
/** Whatever happens (a flood of repayments), a run hands over before its history gets long. */
export const MAX_EVENTS_PER_RUN = 2_000;

/** What an update is answered: the state after its act, or why it was refused. */
export type Answer = { state: ServicingState } | { refusal: ServicingRefusal };

export class ServicingRun {
  readonly loanId: string;
  readonly applicationId: string;
  readonly workflowId: string;
  readonly perRun: number;
  readonly maxEvents: number;
  readonly policy = DEFAULT_POLICY.servicing;
  readonly carried: LedgerCarried;
  /** Acts in arrival order; the main loop applies them one at a time. */
  readonly queue: Queued[];
  readonly answers = new Map<number, Answer>();
  /** Approvals accepted and not yet applied: a second approval of the same request is refused. */
  readonly deciding = new Set<string>();
  /** Every act must carry the API's proof, checked against this. */
  readonly proofs: ServicingProofContext;
  tickets = 0;
  forgeries = 0;
  /** The loan's position as last read (null until the run's first read). */
  position: ServicingPosition | null = null;
  /** When the run next wakes by the calendar alone (null while it waits for an act only). */
  nextLookMs: number | null = null;

  constructor(readonly input: LoanServicingInput) {
    this.loanId = input.loanId;
    this.applicationId = input.applicationId;
    this.workflowId = loanServicingWorkflowId(input.loanId);
    this.perRun = Math.max(1, input.instalmentsPerRun ?? INSTALMENTS_PER_RUN);
    this.maxEvents = Math.max(100, input.maxEventsPerRun ?? MAX_EVENTS_PER_RUN);
    this.carried = carriedFrom(input);
    this.queue = [...this.carried.queued];
    this.proofs = { workflowId: this.workflowId, applicationWorkflowId: loanApplicationWorkflowId(input.applicationId), ring: BUNDLED_ACT_KEY_RING };
  }

  today(): IsoDate {
    return shanghaiDate(Date.now());
  }

  /** The position once the run has read it (the main loop reads it before anything else). */
  current(): ServicingPosition {
    return this.position as ServicingPosition;
  }

  /** The proofs an act arriving now is checked against: none in histories recorded before proofs existed (they replay as they were). */
  proofsAtEntry(): ServicingProofContext | null {
    return patched(PATCH.actProofs) ? this.proofs : null;
  }

  view(proofs: ServicingProofContext | null): ServicingActView {
    const { position, carried } = this;
    return {
      nowMs: Date.now(),
      disbursementDate: position?.disbursementDate ?? '1970-01-01',
      closed: carried.closed !== null,
      // Before the first position is read the activity's check decides.
      creditFen: position?.creditFen ?? Number.MAX_SAFE_INTEGER,
      pending: carried.pending,
      decided: [...carried.decided, ...this.deciding],
      policy: this.policy,
      proofs,
    };
  }

  /** Whether the run takes the act now; `proofs` null for an act whose proof was checked when it arrived. */
  refuse<N extends ServicingActName>(name: N, payload: ServicingActPayloads[N], proofs: ServicingProofContext | null = null): ServicingRefusal | null {
    return refuseServicingAct(name, payload, this.view(proofs));
  }

  state(extra: Partial<ServicingState> = {}): ServicingState {
    const { position, carried } = this;
    return {
      loanId: this.loanId,
      applicationId: this.applicationId,
      status: carried.closed ? 'closed' : 'active',
      bucket: carried.bucket,
      outstandingPrincipalFen: position?.outstandingPrincipalFen ?? 0,
      creditFen: position?.creditFen ?? 0,
      nextDue: carried.closed ? null : (position?.nextDue ?? null),
      collateralRegistrationOutstanding: carried.collateralOutstanding,
      repaymentReferences: position?.moneyTransactions ?? 0,
      payoffQuote: carried.payoffQuote,
      overdueFen: position?.overdueFen ?? 0,
      penaltyFen: position?.penaltyFen ?? 0,
      balanceFen: position?.balanceFen ?? 0,
      scheduleVersion: position?.scheduleVersion ?? 1,
      pendingApprovals: [...carried.pending],
      ...extra,
    };
  }

  /** Answers the update waiting on `ticket` (a signal has none). */
  answer(ticket: number | null, a: Answer): void {
    if (ticket !== null) this.answers.set(ticket, a);
  }

  event(key: string, kind: string, data: Record<string, unknown> = {}, actor = 'system'): Promise<void> {
    return call(db.recordLoanEvent, `record ${kind}`, { eventKey: `${this.workflowId}:${key}`, applicationId: this.applicationId, kind, actor, stage: 'servicing', data: { loanId: this.loanId, ...data } });
  }

  /** Search attributes and current details follow the loan (the details also before each sleep). */
  publish(): void {
    const { carried } = this;
    setCurrentDetails(servicingDetails(this));
    const pendingTask = carried.bucket === 'M3+' ? 'collections' : carried.collateralOutstanding ? 'register_collateral' : 'none';
    upsertSearchAttributes([
      { key: LoanStage, value: carried.closed ? 'closed' : 'servicing' },
      { key: LoanAmountFen, value: this.position?.principalFen ?? 0 },
      { key: PendingTask, value: carried.closed ? 'none' : pendingTask },
      { key: OverdueBucketSA, value: carried.closed ? 'none' : (carried.bucket ?? 'none') },
    ]);
  }

  /**
   * The application's stage follows its loan once its run has handed the loan over: `closed`, in
   * the audit trail and the applications row, through their one writer each.
   */
  async closeApplication(how: 'repaid' | 'early_payoff'): Promise<void> {
    const { applicationId, loanId } = this;
    const outcomeReason = how === 'early_payoff' ? 'EARLY_PAYOFF' : null;
    await Promise.all([
      call(db.recordLoanEvent, 'record stage_entered closed', {
        eventKey: `${this.workflowId}:stage_entered:closed`,
        applicationId,
        kind: 'stage_entered',
        actor: 'system',
        stage: 'closed',
        data: { from: 'servicing', outcomeReason, loanId },
      }),
      call(db.mirrorStage, 'mirror stage closed to the applications row', { applicationId, stage: 'closed', pendingTask: null, task: null }),
    ]);
  }

  /** Books a transaction on the ledger; the position it answers is the run's from now on. */
  async book(request: ServicingRequest, paid = false) {
    const r = await call(db.bookServicingTransaction, `book the ${request.kind} on the ledger`, { loanId: this.loanId, asOfDate: this.today(), request, paid });
    this.position = r.position;
    return r;
  }
}
