/**
 * One run of the previous release's servicing: what its handlers and main loop share (the carried
 * state, the queue and the updates' answers, the schedule and what was paid as last read) and the
 * bookkeeping every step does (the state query's answer, loan_events, search attributes).
 */
import { upsertSearchAttributes } from '@temporalio/workflow';
import { type Fen, type InstallmentStatus, type IsoDate, addDays, compareDates, DEFAULT_POLICY, shanghaiDate } from '../../domain';
import { type ScheduleRow, outstandingPrincipalFen } from '../../domain/servicingRules';
import { loanServicingWorkflowId } from '../messages';
import { LoanAmountFen, LoanStage, OverdueBucket as OverdueBucketSA, PendingTask } from '../searchAttributes';
import type { EarlyPayoffRequested, LoanServicingInput, OverdueBucket, RepaymentOutcome, RepaymentRecorded, ServicingRefusalCode, ServicingState } from '../servicingMessages';
import { db } from './activities';

/** Continue-as-new after this many instalments fell due in one run (about 150 events each run). */
export const INSTALMENTS_PER_RUN = 6;
/** Whatever happens (a flood of repayments), a run hands over before its history gets long. */
export const MAX_EVENTS_PER_RUN = 2_000;
const REMINDER_WINDOW_DAYS = Math.max(0, ...DEFAULT_POLICY.reminders.daysBeforeDue);

/** What a run hands to the next one; everything else is read back from PostgreSQL. */
export interface ServicingCarried {
  run: number;
  /** The bucket last acted on, and the actions done for the current arrears (`seq:bucket`). */
  bucket: OverdueBucket | null;
  actionsDone: string[];
  /** Collections call tasks opened and not yet cured. */
  openCallTasks: string[];
  collateralOutstanding: boolean;
  collateralLastReminded: IsoDate | null;
  payoffQuote: { asOfDate: IsoDate; amountFen: Fen } | null;
  /** Messages not yet applied (empty in practice: the run hands over only with an empty queue). */
  queued: Queued[];
}

export type Queued =
  | { kind: 'repayment'; repayment: RepaymentRecorded; ticket: number | null }
  | { kind: 'payoff'; request: EarlyPayoffRequested; ticket: number | null }
  | { kind: 'collateral'; registrationRef: string; registeredAt: string; actor: string };

export function repaymentProblem(r: RepaymentRecorded): ServicingRefusalCode | null {
  if (typeof r?.amountFen !== 'number' || !Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) return 'INVALID_AMOUNT';
  if (typeof r.reference !== 'string' || r.reference.trim() === '' || r.reference.length > 128) return 'INVALID_REFERENCE';
  if (typeof r.paidAt !== 'string' || Number.isNaN(Date.parse(r.paidAt))) return 'INVALID_PAID_AT';
  return null;
}

export class LegacyServicingRun {
  readonly loanId: string;
  readonly applicationId: string;
  readonly workflowId: string;
  readonly perRun: number;
  readonly carried: ServicingCarried;
  /** Messages in arrival order; the main loop applies them one at a time. */
  readonly queue: Queued[];
  readonly answers = new Map<number, ServicingState>();
  tickets = 0;
  refusals = 0;
  closedBy: 'repaid' | 'early_payoff' | null = null;
  schedule: ScheduleRow[] = [];
  paid: Fen[] = [];
  unapplied = 0;
  repaymentCount = 0;
  disbursementDate: IsoDate = '1970-01-01';
  principalFen = 0;
  /** The statuses and bucket last written to the database. */
  mirrored: InstallmentStatus[] = [];
  mirroredBucket: OverdueBucket | null = null;

  constructor(readonly input: LoanServicingInput) {
    this.loanId = input.loanId;
    this.applicationId = input.applicationId;
    this.workflowId = loanServicingWorkflowId(input.loanId);
    this.perRun = Math.max(1, input.instalmentsPerRun ?? INSTALMENTS_PER_RUN);
    this.carried = (input.carried as ServicingCarried | undefined) ?? {
      run: 1,
      bucket: null,
      actionsDone: [],
      openCallTasks: [],
      collateralOutstanding: input.collateralRegistrationOutstanding,
      collateralLastReminded: null,
      payoffQuote: null,
      queued: [],
    };
    this.queue = [...this.carried.queued];
  }

  today(): IsoDate {
    return shanghaiDate(Date.now());
  }

  state(lastRepayment?: RepaymentOutcome): ServicingState {
    const { schedule, paid, closedBy, carried } = this;
    const t = this.today();
    const nextIdx = schedule.findIndex((row, i) => (paid[i] ?? 0) < row.totalFen);
    const next = nextIdx >= 0 ? (schedule[nextIdx] as ScheduleRow) : null;
    // Money paid towards instalments not yet in their reminder window: paid ahead.
    const horizon = addDays(t, REMINDER_WINDOW_DAYS);
    let creditFen = closedBy ? 0 : this.unapplied;
    if (!closedBy) schedule.forEach((row, i) => compareDates(row.dueDate, horizon) > 0 && (creditFen += paid[i] ?? 0));
    return {
      loanId: this.loanId,
      applicationId: this.applicationId,
      status: closedBy ? 'closed' : 'active',
      bucket: carried.bucket,
      outstandingPrincipalFen: closedBy ? 0 : outstandingPrincipalFen(schedule, paid),
      creditFen,
      nextDue: next && !closedBy ? { seq: next.seq, dueDate: next.dueDate, amountFen: next.totalFen - (paid[nextIdx] ?? 0) } : null,
      collateralRegistrationOutstanding: carried.collateralOutstanding,
      repaymentReferences: this.repaymentCount,
      payoffQuote: carried.payoffQuote,
      ...(lastRepayment ? { lastRepayment } : {}),
    };
  }

  event(key: string, kind: string, data: Record<string, unknown> = {}): Promise<void> {
    return db.recordLoanEvent({ eventKey: `${this.workflowId}:${key}`, applicationId: this.applicationId, kind, actor: 'system', stage: 'servicing', data: { loanId: this.loanId, ...data } });
  }

  publish(): void {
    const { carried, closedBy } = this;
    const pendingTask = carried.bucket === 'M3+' ? 'collections' : carried.collateralOutstanding ? 'register_collateral' : 'none';
    upsertSearchAttributes([
      { key: LoanStage, value: closedBy ? 'closed' : 'servicing' },
      { key: LoanAmountFen, value: this.principalFen },
      { key: PendingTask, value: closedBy ? 'none' : pendingTask },
      { key: OverdueBucketSA, value: closedBy ? 'none' : (carried.bucket ?? 'none') },
    ]);
  }
}
