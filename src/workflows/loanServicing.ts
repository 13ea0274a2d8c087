/**
 * One disbursed loan, from the first instalment to closure: `loan-servicing-<loanId>`, started by
 * the application workflow as a child (parentClosePolicy ABANDON) after createLoan stored it.
 *
 * Design:
 * - The servicing ledger (src/domain/ledger) is the arithmetic: every balance is a pure function of
 *   the loan's contract, its transactions and a date. The transactions live in PostgreSQL; the
 *   ledger activities book them (idempotent by bank reference or request id) and answer the
 *   loan's position in a few bounded figures, so this run holds no transactions at all and its
 *   history does not grow with them.
 * - Acts (repayment, prepayment, reversal, waiver, refund, the second finance user's approval,
 *   payoff quote, and the application's late collateral registration) are an update each, with a
 *   signal twin for the Temporal UI. One pure function, refuseServicingAct (servicingActs.ts), is
 *   every validator and every signal's check, the API's proof first (issue 15): a refused signal
 *   is recorded as an event, never dropped; a forged update is accepted only to be recorded as
 *   act_refused and then refused to its sender. Handlers queue the acts and the main
 *   loop applies them one at a time, so the database sees them in arrival order.
 * - Four eyes: reversals, waivers and refunds wait in the run (carried across continue-as-new)
 *   until a second, different finance user approves; only then are they booked (a refund after the
 *   payment provider paid it).
 * - The calendar drives the rest, as before: the run sleeps until the next day something changes
 *   by date alone, reads the day's position (which projects statuses and the bucket into the
 *   database) and acts on a new bucket once (SMS, collections call, hand-off).
 * - Bounded history: after INSTALMENTS_PER_RUN instalments fall due, when the server suggests it or
 *   past MAX_EVENTS_PER_RUN events, the run waits for every update to be answered and continues as
 *   new with the little it carries (bucket, actions done, open calls, collateral, pending approvals).
 * - Runs started before the ledger have no patch marker: loanServicing() sends them to
 *   loanServicingV1 (loanServicingLegacy.ts) until their next continue-as-new.
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
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { createLoanEventActivities } from '../activities/loanEvents';
import type { createLoanActivities, ServicingPosition, ServicingRequest } from '../activities/loans';
import type { createPaymentActivities } from '../activities/payments';
import type { createReminderActivities } from '../activities/reminders';
import { callCentreActivityOptions, paymentsActivityOptions, ProviderFailureType, smsActivityOptions } from '../activities/providers/options';
import {
  type Fen,
  type IsoDate,
  collateralReminderDue,
  compareDates,
  DAY_MS,
  DEFAULT_POLICY,
  HOUR_MS,
  nextCollateralReminder,
  overdueBucketRule,
  shanghaiDate,
  shanghaiStartOfDayMs,
} from '../domain';
import { loanServicingV1, type ServicingCarried as LegacyCarried } from './loanServicingLegacy';
import { BUNDLED_ACT_KEY_RING } from './actProof';
import { loanApplicationWorkflowId, loanServicingWorkflowId } from './messages';
import { LoanAmountFen, LoanStage, OverdueBucket as OverdueBucketSA, PendingTask } from './searchAttributes';
import { refuseServicingAct, SERVICING_ACT_PROOFS, servicingProofRefusal, type ServicingActName, type ServicingActPayloads, type ServicingActView, type ServicingProofContext, type ServicingRefusal } from './servicingActs';
import {
  type EarlyPayoffRequested,
  type LoanServicingInput,
  type LoanServicingResult,
  type OverdueBucket,
  type PendingApproval,
  type RepaymentOutcome,
  type ServicingRequestKind,
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
} from './servicingMessages';

/** The marker of runs on the ledger (runs without it are the previous release's). */
export const SERVICING_LEDGER_PATCH = 'servicing-ledger-v2';
/** Continue-as-new after this many instalments fell due in one run. */
export const INSTALMENTS_PER_RUN = 6;
/** Whatever happens (a flood of repayments), a run hands over before its history gets long. */
export const MAX_EVENTS_PER_RUN = 2_000;
/** The workflow wakes at 09:00 Shanghai on a day something changes: no texts at midnight. */
const WAKE_OFFSET_MS = 9 * HOUR_MS;
/** Approved and rejected request ids remembered across runs (older repeats meet the ledger's own idempotency). */
const DECIDED_KEPT = 200;

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

type RequestPayload = ServicingActPayloads['reversal'] | ServicingActPayloads['waiver'] | ServicingActPayloads['refund'];
type Queued =
  | { kind: 'repayment'; payload: ServicingActPayloads['repayment']; ticket: number | null }
  | { kind: 'prepayment'; payload: ServicingActPayloads['prepayment']; ticket: number | null }
  | { kind: 'request'; request: ServicingRequestKind; payload: RequestPayload; ticket: number | null }
  | { kind: 'approval'; payload: ServicingActPayloads['approval']; ticket: number | null }
  | { kind: 'payoff'; payload: EarlyPayoffRequested; ticket: number | null }
  | { kind: 'collateral'; registrationRef: string; registeredAt: string; actor: string }
  /** Refused where it arrived; recorded in turn (and answered, for an update). */
  | { kind: 'refused'; act: ServicingActName; refusal: ServicingRefusal; via: 'signal' | 'update'; actor: string; ticket: number | null };

type Answer = { state: ServicingState } | { refusal: ServicingRefusal };

type Activities = ReturnType<typeof createLoanActivities> &
  ReturnType<typeof createReminderActivities> &
  Pick<ReturnType<typeof createPaymentActivities>, 'refundToCustomer'> &
  Pick<ReturnType<typeof createLoanEventActivities>, 'recordLoanEvent'>;

const db = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  // No attempt limit: the database coming back is all these need, and giving up would stall the loan.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const sms = proxyActivities<Activities>({ ...smsActivityOptions, startToCloseTimeout: '1m' });
const calls = proxyActivities<Activities>({ ...callCentreActivityOptions, scheduleToCloseTimeout: '1h' });
const payments = proxyActivities<Activities>(paymentsActivityOptions);

function refused(r: ServicingRefusal): ApplicationFailure {
  return ApplicationFailure.create({ type: SERVICING_REFUSED, message: r.message, nonRetryable: true, details: [{ code: r.code, ...(r.problem ? { problem: r.problem } : {}) }] });
}

/** The carried state of a run of either shape (a run of the previous release continues into this one). */
function carriedFrom(input: LoanServicingInput): LedgerCarried {
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

export async function loanServicing(input: LoanServicingInput): Promise<LoanServicingResult> {
  // A run of the previous release (no marker in its history) finishes its run on its own code.
  if (!patched(SERVICING_LEDGER_PATCH)) return loanServicingV1(input);
  return servicingOnLedger(input);
}

async function servicingOnLedger(input: LoanServicingInput): Promise<LoanServicingResult> {
  const { loanId, applicationId } = input;
  const workflowId = loanServicingWorkflowId(loanId);
  const perRun = Math.max(1, input.instalmentsPerRun ?? INSTALMENTS_PER_RUN);
  const maxEvents = Math.max(100, input.maxEventsPerRun ?? MAX_EVENTS_PER_RUN);
  const policy = DEFAULT_POLICY.servicing;
  const carried = carriedFrom(input);
  const queue: Queued[] = [...carried.queued];
  const answers = new Map<number, Answer>();
  /** Approvals accepted and not yet applied: a second approval of the same request is refused. */
  const deciding = new Set<string>();
  let tickets = 0;
  let position: ServicingPosition | null = null;

  const today = (): IsoDate => shanghaiDate(Date.now());
  const view = (proofs: ServicingProofContext | null): ServicingActView => ({
    nowMs: Date.now(),
    disbursementDate: position?.disbursementDate ?? '1970-01-01',
    closed: carried.closed !== null,
    // Before the first position is read the activity's check decides.
    creditFen: position?.creditFen ?? Number.MAX_SAFE_INTEGER,
    pending: carried.pending,
    decided: [...carried.decided, ...deciding],
    policy,
    proofs,
  });
  /** Whether the run takes the act now; `proofs` null for an act whose proof was checked when it arrived. */
  const refuse = <N extends ServicingActName>(name: N, payload: ServicingActPayloads[N], proofs: ServicingProofContext | null = null) => refuseServicingAct(name, payload, view(proofs));

  const state = (extra: Partial<ServicingState> = {}): ServicingState => ({
    loanId,
    applicationId,
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
  });
  const answer = (ticket: number | null, a: Answer) => {
    if (ticket !== null) answers.set(ticket, a);
  };

  // ---- acts: an update and a signal each, both through refuseServicingAct ----------------------

  // Every act must carry the API's proof. Acts in histories recorded before proofs existed replay
  // as they were (no marker); every act handled live since is checked.
  const proofs = { workflowId, applicationWorkflowId: loanApplicationWorkflowId(applicationId), ring: BUNDLED_ACT_KEY_RING };
  const proofsAtEntry = () => (patched('act-proofs') ? proofs : null);
  const claimedActor = (payload: unknown) => String((payload as { actor?: unknown } | null)?.actor ?? '');

  function act<N extends ServicingActName>(name: N, signal: SignalDefinition<[ServicingActPayloads[N]]>, update: UpdateDefinition<ServicingState, [ServicingActPayloads[N]]>, enqueue: (p: ServicingActPayloads[N], ticket: number | null) => Queued) {
    setHandler(signal, (payload) => {
      const r = refuse(name, payload, proofsAtEntry());
      if (r && r.code !== 'ALREADY_PENDING') queue.push({ kind: 'refused', act: name, refusal: r, via: 'signal', actor: claimedActor(payload), ticket: null });
      else if (!r) queue.push(enqueue(payload, null));
    });
    setHandler(
      update,
      async (payload) => {
        const ticket = ++tickets;
        // A forged act got past the validator to be recorded here, then refused to its sender.
        const ctx = proofsAtEntry();
        const forged = ctx ? servicingProofRefusal(name, payload, ctx, Date.now()) : null;
        if (forged) queue.push({ kind: 'refused', act: name, refusal: forged, via: 'update', actor: claimedActor(payload), ticket });
        else {
          if (name === 'approval') deciding.add((payload as ServicingActPayloads['approval']).requestId);
          queue.push(enqueue(payload, ticket));
        }
        await condition(() => answers.has(ticket));
        const a = answers.get(ticket) as Answer;
        answers.delete(ticket);
        if ('refusal' in a) throw refused(a.refusal);
        return a.state;
      },
      {
        validator: (payload) => {
          const r = refuse(name, payload, proofs);
          // Forged: accepted so that the handler records it. Late: the API signs anew and retries.
          if (r && !(r.code === 'NOT_AUTHENTICATED' && !r.late)) throw refused(r);
        },
      },
    );
  }
  act('repayment', repaymentRecordedSignal, repaymentRecordedUpdate, (payload, ticket) => ({ kind: 'repayment', payload, ticket }));
  act('prepayment', prepaymentRequestedSignal, prepaymentRequestedUpdate, (payload, ticket) => ({ kind: 'prepayment', payload, ticket }));
  act('reversal', reversalRequestedSignal, reversalRequestedUpdate, (payload, ticket) => ({ kind: 'request', request: 'reversal', payload, ticket }));
  act('waiver', waiverRequestedSignal, waiverRequestedUpdate, (payload, ticket) => ({ kind: 'request', request: 'waiver', payload, ticket }));
  act('refund', refundRequestedSignal, refundRequestedUpdate, (payload, ticket) => ({ kind: 'request', request: 'refund', payload, ticket }));
  act('approval', servicingApprovalSignal, servicingApprovalUpdate, (payload, ticket) => ({ kind: 'approval', payload, ticket }));
  act('payoffQuote', earlyPayoffRequestedSignal, earlyPayoffRequestedUpdate, (payload, ticket) => ({ kind: 'payoff', payload, ticket }));
  setHandler(collateralRegisteredLateSignal, (c) => {
    const r = refuse('collateral', c, proofsAtEntry());
    if (r) queue.push({ kind: 'refused', act: 'collateral', refusal: r, via: 'signal', actor: claimedActor(c), ticket: null });
    else queue.push({ kind: 'collateral', registrationRef: String(c?.registrationRef ?? ''), registeredAt: String(c?.registeredAt ?? ''), actor: String(c?.actor ?? '') });
  });
  setHandler(servicingStateQuery, () => state());

  const event = (key: string, kind: string, data: Record<string, unknown> = {}, actor = 'system') =>
    db.recordLoanEvent({ eventKey: `${workflowId}:${key}`, applicationId, kind, actor, stage: 'servicing', data: { loanId, ...data } });

  const pendingTask = (): string => (carried.bucket === 'M3+' ? 'collections' : carried.collateralOutstanding ? 'register_collateral' : 'none');
  const publish = () =>
    upsertSearchAttributes([
      { key: LoanStage, value: carried.closed ? 'closed' : 'servicing' },
      { key: LoanAmountFen, value: position?.principalFen ?? 0 },
      { key: PendingTask, value: carried.closed ? 'none' : pendingTask() },
      { key: OverdueBucketSA, value: carried.closed ? 'none' : (carried.bucket ?? 'none') },
    ]);

  position = await db.servicingPosition({ loanId, asOfDate: today(), collateralRegistrationOutstanding: carried.collateralOutstanding });
  carried.collateralOutstanding = position.collateralRegistrationOutstanding;
  if (position.status === 'closed' && !carried.closed) carried.closed = { atMs: Date.now(), how: position.settled?.how ?? 'repaid' };
  publish();
  if (carried.run === 1 && !carried.closed) await event('servicing_started', 'servicing_started', { termMonths: position.termMonths });

  // ---- applying acts ----------------------------------------------------------------------------

  const book = async (request: ServicingRequest, paid = false) => {
    const r = await db.bookServicingTransaction({ loanId, asOfDate: today(), request, paid });
    position = r.position;
    return r;
  };

  async function money(m: Extract<Queued, { kind: 'repayment' | 'prepayment' }>): Promise<void> {
    const p = m.payload;
    const again = refuse(m.kind, p);
    if (again) {
      answer(m.ticket, { refusal: again });
      await event(`repayment_refused:${String(p?.reference)}:${again.code}`, 'repayment_refused', { reference: String(p?.reference ?? ''), reason: again.code, amountFen: typeof p?.amountFen === 'number' ? p.amountFen : null });
      return;
    }
    const request: ServicingRequest =
      m.kind === 'prepayment'
        ? { kind: 'prepayment', reference: p.reference, amountFen: p.amountFen, paidAt: p.paidAt, mode: m.payload.mode, actor: p.actor }
        : { kind: 'repayment', reference: p.reference, amountFen: p.amountFen, paidAt: p.paidAt, actor: p.actor };
    const r = await book(request);
    const outcome: RepaymentOutcome = {
      reference: p.reference,
      outcome: r.outcome === 'refused' ? 'rejected' : r.outcome,
      reason: r.code,
      kind: m.kind === 'prepayment' ? 'prepayment' : r.prepaidPrincipalFen > 0 ? 'early_payoff' : 'regular',
      allocations: r.allocations.map((a) => ({ seq: a.seq, component: a.component, amountFen: a.amountFen })),
      newSchedule: r.newSchedule,
    };
    if (r.outcome === 'applied') {
      await event(`${m.kind}_booked:${r.txnId}`, `${m.kind}_booked`, {
        reference: p.reference,
        amountFen: p.amountFen,
        creditFen: r.creditFen,
        prepaidPrincipalFen: r.prepaidPrincipalFen,
        feeFen: r.feeFen,
        newSchedule: r.newSchedule,
      }, p.actor);
      if (r.newSchedule) {
        try {
          await sms.sendServicingReminder({ loanId, asOfDate: today(), scheduleChange: r.newSchedule });
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          await event(`schedule_text_failed:${r.newSchedule.version}`, 'schedule_text_failed', { version: r.newSchedule.version });
        }
      }
    } else if (r.outcome !== 'duplicate') {
      await event(`repayment_refused:${p.reference}:${r.code}`, 'repayment_refused', { reference: p.reference, reason: r.code, amountFen: p.amountFen });
    }
    // The answer tells the bucket as the money left it (cured, or still overdue).
    await reassess(today());
    answer(m.ticket, { state: state({ lastRepayment: outcome }) });
  }

  const toRequest = (kind: ServicingRequestKind, p: RequestPayload, approvedBy?: string): ServicingRequest => {
    const a = p as RequestPayload & { reference?: string; component?: 'penalty' | 'interest' | 'fee'; amountFen?: number };
    if (kind === 'reversal') return { kind, requestId: a.requestId, reference: a.reference as string, reasonCode: a.reasonCode, actor: a.actor, approvedBy };
    if (kind === 'waiver') return { kind, requestId: a.requestId, component: a.component as 'penalty', amountFen: a.amountFen as number, reasonCode: a.reasonCode, actor: a.actor, approvedBy };
    return { kind, requestId: a.requestId, amountFen: a.amountFen as number, reasonCode: a.reasonCode, actor: a.actor, approvedBy };
  };
  const refusal = (code: ServicingRefusal['code'], message: string): Answer => ({ refusal: { code, message } });

  async function requestAct(m: Extract<Queued, { kind: 'request' }>): Promise<void> {
    const again = refuse(m.request, m.payload as never);
    if (again) {
      if (again.code === 'ALREADY_PENDING') answer(m.ticket, { state: state({ lastRequest: { requestId: m.payload.requestId, kind: m.request, status: 'pending' } }) });
      else answer(m.ticket, { refusal: again });
      return;
    }
    const { refusal: code } = await db.checkServicingRequest({ loanId, asOfDate: today(), request: toRequest(m.request, m.payload) });
    if (code) {
      await event(`${m.request}_refused:${m.payload.requestId}`, `${m.request}_refused`, { requestId: m.payload.requestId, code }, m.payload.actor);
      answer(m.ticket, refusal('LEDGER_REFUSED', `${code}: the ledger refuses this ${m.request}`));
      return;
    }
    const a = m.payload as RequestPayload & { reference?: string; component?: 'penalty' | 'interest' | 'fee'; amountFen?: number };
    carried.pending.push({
      requestId: a.requestId,
      kind: m.request,
      requestedBy: a.actor,
      requestedAt: new Date().toISOString(),
      reasonCode: a.reasonCode,
      ...(a.reference !== undefined ? { reference: a.reference } : {}),
      ...(a.component !== undefined ? { component: a.component } : {}),
      ...(a.amountFen !== undefined ? { amountFen: a.amountFen } : {}),
    });
    await event(`${m.request}_requested:${a.requestId}`, `${m.request}_requested`, { requestId: a.requestId, reasonCode: a.reasonCode, reference: a.reference ?? null, component: a.component ?? null, amountFen: a.amountFen ?? null }, a.actor);
    answer(m.ticket, { state: state({ lastRequest: { requestId: a.requestId, kind: m.request, status: 'pending' } }) });
  }

  async function approvalAct(m: Extract<Queued, { kind: 'approval' }>): Promise<void> {
    const a = m.payload;
    deciding.delete(a.requestId);
    const again = refuse('approval', a);
    if (again) return answer(m.ticket, { refusal: again });
    const request = carried.pending.find((r) => r.requestId === a.requestId) as PendingApproval;
    const decided = () => {
      carried.pending = carried.pending.filter((r) => r.requestId !== request.requestId);
      carried.decided = [...carried.decided, request.requestId].slice(-DECIDED_KEPT);
    };
    const done = (status: 'applied' | 'rejected', extra: { waivedFen?: number; refundedFen?: number } = {}) =>
      answer(m.ticket, { state: state({ lastRequest: { requestId: request.requestId, kind: request.kind, status, ...extra } }) });
    const data = { requestId: request.requestId, requestedBy: request.requestedBy, reasonCode: request.reasonCode, reference: request.reference ?? null, component: request.component ?? null, amountFen: request.amountFen ?? null };
    if (a.decision === 'reject') {
      decided();
      await event(`${request.kind}_rejected:${request.requestId}`, `${request.kind}_rejected`, data, a.actor);
      return done('rejected');
    }
    const booking = toRequest(request.kind, { ...request, actor: request.requestedBy } as never, a.actor);
    let providerRef: string | undefined;
    if (request.kind === 'refund') {
      const check = await db.checkServicingRequest({ loanId, asOfDate: today(), request: booking });
      if (check.refusal) {
        decided();
        await event(`refund_refused:${request.requestId}`, 'refund_refused', { ...data, code: check.refusal }, a.actor);
        return answer(m.ticket, refusal('LEDGER_REFUSED', `${check.refusal}: the ledger refuses this refund`));
      }
      try {
        providerRef = (await payments.refundToCustomer({ loanId, refundId: request.requestId, amountFen: request.amountFen as number })).providerRefundId;
      } catch (err) {
        const refusedByProvider = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === ProviderFailureType.PaymentRefused;
        if (!refusedByProvider) throw err;
        decided();
        await event(`refund_failed:${request.requestId}`, 'refund_failed', data, a.actor);
        return answer(m.ticket, refusal('REFUND_REFUSED', 'the payment provider refused the refund'));
      }
    }
    const r = await book(request.kind === 'refund' ? { ...booking, providerRef } as ServicingRequest : booking, request.kind === 'refund');
    decided();
    if (r.outcome === 'refused' || r.outcome === 'conflict') {
      await event(`${request.kind}_refused:${request.requestId}`, `${request.kind}_refused`, { ...data, code: r.code }, a.actor);
      return answer(m.ticket, refusal('LEDGER_REFUSED', `${r.code}: the ledger refuses this ${request.kind}`));
    }
    await event(`${request.kind}_approved:${request.requestId}`, `${request.kind}_approved`, { ...data, approvedBy: a.actor, waivedFen: r.waivedFen, providerRef: providerRef ?? null }, a.actor);
    await reassess(today());
    done('applied', request.kind === 'waiver' ? { waivedFen: r.waivedFen } : request.kind === 'refund' ? { refundedFen: request.amountFen ?? 0 } : {});
  }

  async function quoteAct(m: Extract<Queued, { kind: 'payoff' }>): Promise<void> {
    const again = refuse('payoffQuote', m.payload);
    if (again) {
      await event(`early_payoff_refused:${String(m.payload?.asOfDate)}:${today()}`, 'early_payoff_refused', { reason: again.code });
      return answer(m.ticket, { refusal: again });
    }
    const q = await db.servicingPayoffQuote({ loanId, asOfDate: m.payload.asOfDate });
    carried.payoffQuote = { asOfDate: q.asOfDate, amountFen: q.totalFen };
    await event(`early_payoff_quoted:${q.asOfDate}:${q.totalFen}`, 'early_payoff_quoted', { asOfDate: q.asOfDate, amountFen: q.totalFen, feeFen: q.feeFen, requestedBy: m.payload.actor });
    answer(m.ticket, { state: state() });
  }

  let forgeries = 0;
  async function recordRefusal(m: Extract<Queued, { kind: 'refused' }>): Promise<void> {
    const r = m.refusal;
    if (r.code === 'NOT_AUTHENTICATED') {
      // Not the API's act: recorded under the name it came by, its actor only as claimed.
      const act = SERVICING_ACT_PROOFS[m.act].act;
      await event(`act_refused:${workflowInfo().runId}:${++forgeries}`, 'act_refused', { act, via: m.via, code: r.code, problem: r.problem ?? null, message: r.message, claimedActor: m.actor || 'unknown' });
    } else {
      // A signal cannot be refused to its sender: what it was refused for is recorded instead.
      const kind = m.act === 'repayment' || m.act === 'prepayment' ? 'repayment_refused' : 'act_refused';
      await event(`${kind}:${m.act}:${r.code}:${Date.now()}`, kind, { act: m.act, reason: r.code }, m.actor || 'unknown');
    }
    answer(m.ticket, { refusal: r });
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const m = queue.shift() as Queued;
      if (m.kind === 'repayment' || m.kind === 'prepayment') await money(m);
      else if (m.kind === 'request') await requestAct(m);
      else if (m.kind === 'approval') await approvalAct(m);
      else if (m.kind === 'payoff') await quoteAct(m);
      else if (m.kind === 'refused') await recordRefusal(m);
      else if (carried.collateralOutstanding) {
        await db.recordCollateralRegistered({ loanId, registrationRef: m.registrationRef, registeredAt: m.registeredAt });
        carried.collateralOutstanding = false;
        await event('collateral_registered', 'collateral_registered', { registrationRef: m.registrationRef, actor: m.actor });
        publish();
      }
    }
  }

  // ---- the calendar -----------------------------------------------------------------------------

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
        if (action === 'sms') await sms.sendServicingReminder({ loanId, asOfDate: day, seq });
        else if (action === 'call_task') {
          const r = await calls.openCollectionsCall({ loanId, seq, bucket, idempotencyKey: `${workflowId}/collections-call/${seq}/${bucket}` });
          if (r.status === 'created') carried.openCallTasks.push(r.taskId);
          else await event(`collections_call_refused:${seq}:${bucket}`, 'collections_call_refused', { seq, bucket, code: r.code });
        } else if (action === 'collections_handoff') {
          await event(`collections_handoff:${seq}`, 'collections_handoff', { seq, bucket, daysPastDue, overdueFen: position?.overdueFen ?? 0, penaltyFen: position?.penaltyFen ?? 0 });
        }
      } catch (err) {
        // A provider that stays down for the whole retry budget must not stop the loan's servicing.
        if (!(err instanceof ActivityFailure)) throw err;
        await event(`collections_action_failed:${seq}:${bucket}:${action}`, 'collections_action_failed', { seq, bucket, action });
      }
    }
  }

  /** The day's position (read once a day, or fresh from a booking) and what a new bucket asks for. */
  async function evaluate(day: IsoDate): Promise<void> {
    if (position?.asOfDate !== day) position = await db.servicingPosition({ loanId, asOfDate: day });
    if (carried.payoffQuote && compareDates(day, carried.payoffQuote.asOfDate) > 0) carried.payoffQuote = null;
    await reassess(day);
    await remindCollateral(day);
  }

  /** Acts on the position's bucket: entered (once per bucket), or cured. */
  async function reassess(day: IsoDate): Promise<void> {
    if (!position || carried.closed) return;
    const d = position.delinquency;
    const rule = d ? overdueBucketRule(d.daysPastDue) : null;
    const bucket = rule?.bucket ?? null;
    if (bucket !== carried.bucket) {
      const from = carried.bucket;
      carried.bucket = bucket;
      if (bucket === null) {
        await event(`overdue_cured:${from}:${day}`, 'overdue_cured', { from });
        await cancelOpenCalls();
        carried.actionsDone = [];
      } else if (d) {
        await event(`overdue_bucket:${d.seq}:${bucket}`, 'overdue_bucket_entered', { seq: d.seq, from, bucket, daysPastDue: d.daysPastDue });
      }
      publish();
    }
    if (d && rule && !carried.actionsDone.includes(`${d.seq}:${rule.bucket}`)) {
      await bucketActions(d.seq, rule.bucket, d.daysPastDue, rule.actions, day);
      carried.actionsDone.push(`${d.seq}:${rule.bucket}`);
    }
  }

  async function remindCollateral(day: IsoDate): Promise<void> {
    if (!position) return;
    if (carried.collateralOutstanding) {
      const owed = collateralReminderDue(position.disbursementDate, day, carried.collateralLastReminded);
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

  async function close(how: 'repaid' | 'early_payoff'): Promise<void> {
    const atMs = Date.now();
    await db.closeLoan({ loanId, how, closedAtMs: atMs });
    await event('loan_closed', 'loan_closed', { how, unappliedFen: position?.creditFen ?? 0 });
    await cancelOpenCalls();
    carried.bucket = null;
    carried.closed = { atMs, how };
    // Nothing is left to reverse or waive on a closed loan: those requests end here, recorded.
    for (const r of carried.pending.filter((p) => p.kind !== 'refund')) {
      await event(`${r.kind}_dropped:${r.requestId}`, `${r.kind}_dropped`, { requestId: r.requestId, requestedBy: r.requestedBy, reason: 'LOAN_CLOSED' });
    }
    carried.decided = [...carried.decided, ...carried.pending.filter((p) => p.kind !== 'refund').map((p) => p.requestId)].slice(-DECIDED_KEPT);
    carried.pending = carried.pending.filter((r) => r.kind === 'refund');
    publish();
  }

  // ---- main loop --------------------------------------------------------------------------------

  const runStartDay = today();
  for (;;) {
    await drain();
    if (!carried.closed) {
      await evaluate(today());
      if (queue.length > 0) continue;
      if (position.settled) await close(position.settled.how);
    }
    const closedFor = carried.closed;
    if (closedFor) {
      // Closed: the run ends once no credit is left to refund (or the refund window has passed).
      const until = closedFor.atMs + policy.closedCreditRefundDays * DAY_MS;
      if (position.creditFen === 0 || Date.now() >= until) {
        if (position.creditFen > 0) await event('closed_with_credit', 'closed_with_credit', { creditFen: position.creditFen });
        await condition(() => queue.length > 0 || allHandlersFinished());
        if (queue.length > 0) continue;
        return { outcome: 'closed', closedAt: new Date(closedFor.atMs).toISOString(), how: closedFor.how };
      }
    }

    const day = today();
    const fellDue = position.dueDates.filter((d) => compareDates(d, runStartDay) > 0 && compareDates(d, day) <= 0).length;
    const info = workflowInfo();
    if (fellDue >= perRun || info.continueAsNewSuggested || info.historyLength > maxEvents) {
      // Hand over only with nothing in flight: every update answered, the queue empty.
      await condition(() => queue.length > 0 || allHandlersFinished());
      if (queue.length > 0) continue;
      log.info('servicing continues as new', { loanId, run: carried.run, historyLength: info.historyLength });
      return continueAsNew<typeof loanServicing>({ ...input, carried: { ...carried, run: carried.run + 1, queued: [...queue] } });
    }

    const next = closedFor
      ? shanghaiDate(closedFor.atMs + policy.closedCreditRefundDays * DAY_MS)
      : [position.nextChangeDate, carried.collateralOutstanding ? nextCollateralReminder(position.disbursementDate, day) : null]
          .filter((d): d is string => d !== null)
          .sort()[0];
    const wakeInMs = next ? Math.max(1_000, shanghaiStartOfDayMs(next) + WAKE_OFFSET_MS - Date.now()) : undefined;
    if (wakeInMs === undefined) await condition(() => queue.length > 0);
    else await condition(() => queue.length > 0, wakeInMs);
  }
}
