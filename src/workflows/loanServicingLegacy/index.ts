/**
 * The loan-servicing run as the release before the servicing ledger wrote it, act proofs (issue 15,
 * patch act-proofs) included. A servicing run lives for years, so runs started by that release
 * keep replaying and running this code (loanServicing() sends them here: their history has no
 * ledger patch marker) until their next continue-as-new, which starts them on the ledger. Do not
 * change what this code does; delete it once no run of that release is open (none can be after
 * one continue-as-new: at most 6 instalments).
 *
 * One disbursed loan, from the first instalment to closure: `loan-servicing-<loanId>`, started by
 * the application workflow as a child (parentClosePolicy ABANDON) after createLoan stored the
 * schedule.
 *
 * Design:
 * - PostgreSQL is the source of truth for the schedule and for what was paid. Repayments are
 *   applied by one idempotent activity (keyed by the bank's reference) inside a transaction; the
 *   workflow keeps the paid amounts it returns. Each run starts by reading them back, so nothing
 *   applied before a continue-as-new can be lost.
 * - The workflow decides by the calendar (workflow time, Asia/Shanghai dates): it sleeps until
 *   the next day something changes (an instalment enters its reminder window, falls overdue, the
 *   oldest arrear enters the next bucket, a collateral reminder is owed), evaluates, mirrors
 *   statuses and the bucket into the database, and acts on a new bucket once (SMS, call-centre
 *   task, collections hand-off recorded in loan_events).
 * - Messages (repayments, payoff requests, collateral registration) are queued by their handlers
 *   and applied one at a time by the main loop, so the database sees them in arrival order.
 * - History stays bounded: after INSTALMENTS_PER_RUN instalments have fallen due (or when the
 *   server suggests it) the run waits for every handler to finish and the queue to be empty, then
 *   continues as new with the little state that is not in the database. A signal that arrives
 *   during the hand-over lands in the queue before the check (or fails the completion, so the run
 *   sees it on the retried task): it is applied before the run ends, never dropped.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createLoanEventActivities } from '../../activities/loanEvents';
import type { createLoanActivities } from '../../activities/loans';
import type { createReminderActivities } from '../../activities/reminders';
import { callCentreActivityOptions, smsActivityOptions } from '../../activities/providers/options';
import { type Fen, type InstallmentStatus, type IsoDate, addDays, compareDates, DEFAULT_POLICY, HOUR_MS, shanghaiDate, shanghaiStartOfDayMs } from '../../domain';
import { loanApplicationWorkflowId, loanServicingWorkflowId } from '../messages';
import { BUNDLED_ACT_KEY_RING } from '../actProof';
import { refusalFailure } from '../refusals';
import { servicingProofRefusal, type ServicingActName } from '../servicingActs';
import { LoanAmountFen, LoanStage, OverdueBucket as OverdueBucketSA, PendingTask } from '../searchAttributes';
import {
  type EarlyPayoffRequested,
  type LoanServicingInput,
  type LoanServicingResult,
  type OverdueBucket,
  type RepaymentOutcome,
  type RepaymentRecorded,
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
import {
  type ScheduleRow,
  collateralReminderDue,
  delinquencyOn,
  isFullyPaid,
  nextChangeDate,
  nextCollateralReminder,
  outstandingPrincipalFen,
  payoffDateProblem,
  payoffSettlement,
  statusesOn,
} from '../../domain/servicingRules';

/** Continue-as-new after this many instalments fell due in one run (about 150 events each run). */
export const INSTALMENTS_PER_RUN = 6;
/** Whatever happens (a flood of repayments), a run hands over before its history gets long. */
export const MAX_EVENTS_PER_RUN = 2_000;
/** The workflow wakes at 09:00 Shanghai on a day something changes: no texts at midnight. */
const WAKE_OFFSET_MS = 9 * HOUR_MS;
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

type Queued =
  | { kind: 'repayment'; repayment: RepaymentRecorded; ticket: number | null }
  | { kind: 'payoff'; request: EarlyPayoffRequested; ticket: number | null }
  | { kind: 'collateral'; registrationRef: string; registeredAt: string; actor: string };

/** The activities this workflow calls (registered by src/activities/index.ts). */
type ServicingActivities = ReturnType<typeof createLoanActivities> &
  ReturnType<typeof createReminderActivities> &
  Pick<ReturnType<typeof createLoanEventActivities>, 'recordLoanEvent'>;

const db = proxyActivities<ServicingActivities>({
  startToCloseTimeout: '30s',
  // No attempt limit: the database coming back is all these need, and giving up would stall the loan.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const sms = proxyActivities<ServicingActivities>({ ...smsActivityOptions, startToCloseTimeout: '1m' });
const calls = proxyActivities<ServicingActivities>({ ...callCentreActivityOptions, scheduleToCloseTimeout: '1h' });

function repaymentProblem(r: RepaymentRecorded): ServicingRefusalCode | null {
  if (typeof r?.amountFen !== 'number' || !Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) return 'INVALID_AMOUNT';
  if (typeof r.reference !== 'string' || r.reference.trim() === '' || r.reference.length > 128) return 'INVALID_REFERENCE';
  if (typeof r.paidAt !== 'string' || Number.isNaN(Date.parse(r.paidAt))) return 'INVALID_PAID_AT';
  return null;
}

/** The acts of this release by the names the API signs them as, and the ledger's names for them. */
const LEGACY_ACTS = { repaymentRecorded: 'repayment', earlyPayoffRequested: 'payoffQuote', collateralRegistered: 'collateral' } as const satisfies Record<string, ServicingActName>;

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

export async function loanServicingV1(input: LoanServicingInput): Promise<LoanServicingResult> {
  const { loanId, applicationId } = input;
  const workflowId = loanServicingWorkflowId(loanId);
  const perRun = Math.max(1, input.instalmentsPerRun ?? INSTALMENTS_PER_RUN);
  const carried: ServicingCarried = (input.carried as ServicingCarried | undefined) ?? {
    run: 1,
    bucket: null,
    actionsDone: [],
    openCallTasks: [],
    collateralOutstanding: input.collateralRegistrationOutstanding,
    collateralLastReminded: null,
    payoffQuote: null,
    queued: [],
  };

  // Handlers first: a message delivered with the first task is queued, not lost.
  const queue: Queued[] = [...carried.queued];
  const answers = new Map<number, ServicingState>();
  let tickets = 0;
  let closedBy: 'repaid' | 'early_payoff' | null = null;
  let schedule: ScheduleRow[] = [];
  let paid: Fen[] = [];
  let unapplied = 0;
  let repaymentCount = 0;
  let disbursementDate: IsoDate = '1970-01-01';

  const today = (): IsoDate => shanghaiDate(Date.now());
  const state = (lastRepayment?: RepaymentOutcome): ServicingState => {
    const t = today();
    const nextIdx = schedule.findIndex((row, i) => (paid[i] ?? 0) < row.totalFen);
    const next = nextIdx >= 0 ? (schedule[nextIdx] as ScheduleRow) : null;
    // Money paid towards instalments not yet in their reminder window: paid ahead.
    const horizon = addDays(t, REMINDER_WINDOW_DAYS);
    let creditFen = closedBy ? 0 : unapplied;
    if (!closedBy) schedule.forEach((row, i) => compareDates(row.dueDate, horizon) > 0 && (creditFen += paid[i] ?? 0));
    return {
      loanId,
      applicationId,
      status: closedBy ? 'closed' : 'active',
      bucket: carried.bucket,
      outstandingPrincipalFen: closedBy ? 0 : outstandingPrincipalFen(schedule, paid),
      creditFen,
      nextDue: next && !closedBy ? { seq: next.seq, dueDate: next.dueDate, amountFen: next.totalFen - (paid[nextIdx] ?? 0) } : null,
      collateralRegistrationOutstanding: carried.collateralOutstanding,
      repaymentReferences: repaymentCount,
      payoffQuote: carried.payoffQuote,
      ...(lastRepayment ? { lastRepayment } : {}),
    };
  };

  // Every act must carry the API's proof: refused and recorded otherwise (servicingActs.ts).
  let refusals = 0;
  const acts = servicingActGuard({
    workflowId,
    applicationWorkflowId: loanApplicationWorkflowId(applicationId),
    record: (data) =>
      db.recordLoanEvent({ eventKey: `${workflowId}:act_refused:${workflowInfo().runId}:${++refusals}`, applicationId, kind: 'act_refused', actor: 'system', stage: 'servicing', data: { loanId, ...data } }),
  });
  setHandler(repaymentRecordedSignal, (repayment) => acts.refused('repaymentRecorded', repayment, 'signal') ?? void queue.push({ kind: 'repayment', repayment, ticket: null }));
  setHandler(
    repaymentRecordedUpdate,
    async (repayment) => {
      const forged = acts.refused('repaymentRecorded', repayment, 'update');
      if (forged) return forged.then(() => state());
      const ticket = ++tickets;
      queue.push({ kind: 'repayment', repayment, ticket });
      await condition(() => answers.has(ticket));
      const answer = answers.get(ticket) as ServicingState;
      answers.delete(ticket);
      return answer;
    },
    {
      validator: (r) => {
        acts.validate('repaymentRecorded', r);
        const problem = repaymentProblem(r);
        if (problem) throw refused(problem, `repayment refused: ${problem}`);
        if (closedBy) throw refused('LOAN_CLOSED', 'the loan is closed');
      },
    },
  );
  setHandler(earlyPayoffRequestedSignal, (request) => acts.refused('earlyPayoffRequested', request, 'signal') ?? void queue.push({ kind: 'payoff', request, ticket: null }));
  setHandler(
    earlyPayoffRequestedUpdate,
    async (request) => {
      const forged = acts.refused('earlyPayoffRequested', request, 'update');
      if (forged) return forged.then(() => state());
      const ticket = ++tickets;
      queue.push({ kind: 'payoff', request, ticket });
      await condition(() => answers.has(ticket));
      const answer = answers.get(ticket) as ServicingState;
      answers.delete(ticket);
      if (!answer.payoffQuote || answer.payoffQuote.asOfDate !== request.asOfDate) {
        throw refused('INVALID_PAYOFF_DATE', 'no payoff quote for that date');
      }
      return answer;
    },
    {
      validator: (p) => {
        acts.validate('earlyPayoffRequested', p);
        if (closedBy) throw refused('LOAN_CLOSED', 'the loan is closed');
        const problem = schedule.length > 0 ? payoffDateProblem(schedule, p?.asOfDate, today()) : null;
        if (problem) throw refused('INVALID_PAYOFF_DATE', problem);
      },
    },
  );
  setHandler(
    collateralRegisteredLateSignal,
    (c) =>
      acts.refused('collateralRegistered', c, 'signal') ??
      void queue.push({ kind: 'collateral', registrationRef: String(c?.registrationRef ?? ''), registeredAt: String(c?.registeredAt ?? ''), actor: String(c?.actor ?? '') }),
  );
  setHandler(servicingStateQuery, () => state());

  const event = (key: string, kind: string, data: Record<string, unknown> = {}) =>
    db.recordLoanEvent({ eventKey: `${workflowId}:${key}`, applicationId, kind, actor: 'system', stage: 'servicing', data: { loanId, ...data } });

  const snapshot = await db.loadServicingSnapshot({ loanId, collateralRegistrationOutstanding: carried.collateralOutstanding });
  schedule = snapshot.schedule;
  paid = snapshot.paidFen;
  unapplied = snapshot.unappliedFen;
  repaymentCount = snapshot.repaymentCount;
  disbursementDate = snapshot.disbursementDate;
  carried.collateralOutstanding = snapshot.collateralRegistrationOutstanding;
  let mirrored: InstallmentStatus[] = [...snapshot.statuses];
  let mirroredBucket: OverdueBucket | null = snapshot.bucket;
  if (snapshot.status === 'closed') closedBy = snapshot.closedHow ?? 'repaid';

  const pendingTask = (): string =>
    carried.bucket === 'M3+' ? 'collections' : carried.collateralOutstanding ? 'register_collateral' : 'none';
  const publish = () =>
    upsertSearchAttributes([
      { key: LoanStage, value: closedBy ? 'closed' : 'servicing' },
      { key: LoanAmountFen, value: snapshot.principalFen },
      { key: PendingTask, value: closedBy ? 'none' : pendingTask() },
      { key: OverdueBucketSA, value: closedBy ? 'none' : (carried.bucket ?? 'none') },
    ]);
  publish();
  if (carried.run === 1 && !closedBy) await event('servicing_started', 'servicing_started', { termMonths: snapshot.termMonths });

  // ---- applying messages ----------------------------------------------------------------------

  async function applyRepayment(r: RepaymentRecorded, ticket: number | null): Promise<void> {
    const problem = repaymentProblem(r);
    let outcome: RepaymentOutcome;
    if (problem) {
      outcome = { reference: String(r?.reference ?? ''), outcome: 'rejected', reason: problem, kind: 'regular', allocations: [] };
    } else {
      const quote = carried.payoffQuote && compareDates(today(), carried.payoffQuote.asOfDate) <= 0 ? carried.payoffQuote : null;
      const res = await db.applyRepayment({
        loanId,
        reference: r.reference,
        amountFen: r.amountFen,
        paidAt: r.paidAt,
        actor: r.actor,
        payoffAsOfDate: quote?.asOfDate ?? null,
      });
      paid = res.paidFen;
      unapplied = res.unappliedFen;
      repaymentCount = res.repaymentCount;
      if (res.closedBy) closedBy = res.closedBy;
      if (res.kind === 'early_payoff' && res.outcome === 'applied') carried.payoffQuote = null;
      outcome = { reference: r.reference, outcome: res.outcome, reason: res.reason, kind: res.kind, allocations: res.allocations };
    }
    if (outcome.outcome === 'rejected') {
      // The money arrived but cannot be applied (bad figures, a closed loan): finance must see it.
      await event(`repayment_refused:${outcome.reference}:${outcome.reason}`, 'repayment_refused', {
        reference: outcome.reference,
        reason: outcome.reason,
        amountFen: typeof r?.amountFen === 'number' ? r.amountFen : null,
      });
    }
    if (ticket !== null) answers.set(ticket, state(outcome));
  }

  async function quotePayoff(p: EarlyPayoffRequested, ticket: number | null): Promise<void> {
    const problem = payoffDateProblem(schedule, p?.asOfDate, today());
    if (problem || closedBy) {
      await event(`early_payoff_refused:${String(p?.asOfDate)}:${today()}`, 'early_payoff_refused', { reason: problem ?? 'LOAN_CLOSED' });
    } else {
      const settlement = payoffSettlement(schedule, paid, p.asOfDate);
      carried.payoffQuote = { asOfDate: p.asOfDate, amountFen: settlement.amountToCloseFen };
      await event(`early_payoff_quoted:${p.asOfDate}:${settlement.amountToCloseFen}`, 'early_payoff_quoted', {
        asOfDate: p.asOfDate,
        amountFen: settlement.amountToCloseFen,
        feeFen: settlement.feeFen,
        requestedBy: p.actor,
      });
    }
    if (ticket !== null) answers.set(ticket, state());
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const m = queue.shift() as Queued;
      if (m.kind === 'repayment') await applyRepayment(m.repayment, m.ticket);
      else if (m.kind === 'payoff') await quotePayoff(m.request, m.ticket);
      else if (carried.collateralOutstanding) {
        await db.recordCollateralRegistered({ loanId, registrationRef: m.registrationRef, registeredAt: m.registeredAt });
        carried.collateralOutstanding = false;
        await event('collateral_registered', 'collateral_registered', { registrationRef: m.registrationRef, actor: m.actor });
        publish();
      }
    }
  }

  // ---- the calendar ---------------------------------------------------------------------------

  async function cancelOpenCalls(): Promise<void> {
    for (const taskId of carried.openCallTasks) {
      try {
        await calls.cancelCollectionsCall({ taskId });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('could not cancel a collections call', { loanId, taskId });
      }
    }
    carried.openCallTasks = [];
  }

  async function bucketActions(seq: number, bucket: OverdueBucket, daysPastDue: number, actions: readonly string[], day: IsoDate) {
    for (const action of actions) {
      try {
        if (action === 'sms') {
          await sms.sendServicingReminder({ loanId, asOfDate: day, seq });
        } else if (action === 'call_task') {
          const r = await calls.openCollectionsCall({ loanId, seq, bucket, idempotencyKey: `${workflowId}/collections-call/${seq}/${bucket}` });
          if (r.status === 'created') carried.openCallTasks.push(r.taskId);
          else await event(`collections_call_refused:${seq}:${bucket}`, 'collections_call_refused', { seq, bucket, code: r.code });
        } else if (action === 'collections_handoff') {
          let overdueFen = 0;
          schedule.forEach((row, i) => compareDates(row.dueDate, day) < 0 && (overdueFen += Math.max(0, row.totalFen - (paid[i] ?? 0))));
          await event(`collections_handoff:${seq}`, 'collections_handoff', { seq, bucket, daysPastDue, overdueFen });
        }
      } catch (err) {
        // A provider that stays down for the whole retry budget must not stop the loan's servicing.
        if (!(err instanceof ActivityFailure)) throw err;
        await event(`collections_action_failed:${seq}:${bucket}:${action}`, 'collections_action_failed', { seq, bucket, action });
      }
    }
  }

  async function evaluate(day: IsoDate): Promise<void> {
    if (carried.payoffQuote && compareDates(day, carried.payoffQuote.asOfDate) > 0) carried.payoffQuote = null;
    const statuses = statusesOn(schedule, paid, day);
    const delinquency = delinquencyOn(schedule, paid, day);
    const bucket = delinquency?.bucket ?? null;
    const changes = statuses.flatMap((status, i) =>
      status !== 'paid' && status !== mirrored[i] ? [{ seq: i + 1, status: status as Exclude<InstallmentStatus, 'paid'> }] : [],
    );
    if (changes.length > 0 || bucket !== mirroredBucket) {
      await db.mirrorServicing({ loanId, statuses: changes, bucket });
      mirroredBucket = bucket;
    }
    mirrored = statuses;

    if (bucket !== carried.bucket) {
      const from = carried.bucket;
      carried.bucket = bucket;
      if (bucket === null) {
        await event(`overdue_cured:${from}:${day}`, 'overdue_cured', { from });
        await cancelOpenCalls();
        carried.actionsDone = [];
      } else if (delinquency) {
        await event(`overdue_bucket:${delinquency.seq}:${bucket}`, 'overdue_bucket_entered', {
          seq: delinquency.seq,
          from,
          bucket,
          daysPastDue: delinquency.daysPastDue,
        });
      }
      publish();
    }
    if (delinquency) {
      const key = `${delinquency.seq}:${delinquency.bucket}`;
      if (!carried.actionsDone.includes(key)) {
        await bucketActions(delinquency.seq, delinquency.bucket, delinquency.daysPastDue, delinquency.actions, day);
        carried.actionsDone.push(key);
      }
    }

    if (carried.collateralOutstanding) {
      const owed = collateralReminderDue(disbursementDate, day, carried.collateralLastReminded);
      if (owed) {
        try {
          await sms.sendServicingReminder({ loanId, asOfDate: day, collateralRemindOn: owed });
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          await event(`collateral_reminder_failed:${owed}`, 'collateral_reminder_failed', { remindOn: owed });
        }
        carried.collateralLastReminded = owed;
      }
    }
  }

  async function close(how: 'repaid' | 'early_payoff'): Promise<LoanServicingResult> {
    const closedAtMs = Date.now();
    await db.closeLoan({ loanId, how, closedAtMs });
    await event('loan_closed', 'loan_closed', { how, unappliedFen: unapplied });
    await cancelOpenCalls();
    carried.bucket = null;
    publish();
    // Anything that arrived meanwhile is applied (a late duplicate, money to refund) before the end.
    for (;;) {
      await drain();
      await condition(() => queue.length > 0 || allHandlersFinished());
      if (queue.length === 0) break;
    }
    return { outcome: 'closed', closedAt: new Date(closedAtMs).toISOString(), how };
  }

  // ---- main loop ------------------------------------------------------------------------------

  const runStartDay = today();
  for (;;) {
    await drain();
    if (closedBy || isFullyPaid(schedule, paid)) return close(closedBy ?? 'repaid');
    const day = today();
    await evaluate(day);
    if (queue.length > 0) continue;

    const fellDue = schedule.filter((row) => compareDates(row.dueDate, runStartDay) > 0 && compareDates(row.dueDate, day) <= 0).length;
    const info = workflowInfo();
    if (fellDue >= perRun || info.continueAsNewSuggested || info.historyLength > MAX_EVENTS_PER_RUN) {
      // Hand over only with nothing in flight: every update answered, the queue empty.
      await condition(() => queue.length > 0 || allHandlersFinished());
      if (queue.length > 0) continue;
      log.info('servicing continues as new', { loanId, run: carried.run, historyLength: info.historyLength });
      return continueAsNew<typeof loanServicingV1>({ ...input, carried: { ...carried, run: carried.run + 1, queued: [...queue] } });
    }

    const next = nextChangeDate(schedule, paid, day, [carried.collateralOutstanding ? nextCollateralReminder(disbursementDate, day) : null]);
    const wakeInMs = next ? Math.max(1_000, shanghaiStartOfDayMs(next) + WAKE_OFFSET_MS - Date.now()) : undefined;
    if (wakeInMs === undefined) await condition(() => queue.length > 0);
    else await condition(() => queue.length > 0, wakeInMs);
  }
}
