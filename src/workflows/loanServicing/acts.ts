/**
 * The main loop's side of the acts: the queue applied one at a time in arrival order (so the
 * database sees them in that order), each judged again on the run as it now is, booked through the
 * ledger's activities, recorded, and answered to its update.
 */
import { ActivityFailure, workflowInfo } from '@temporalio/workflow';
import type { ServicingRequest } from '../../activities/loans';
import { SERVICING_ACT_PROOFS } from '../servicingActs';
import type { RepaymentOutcome } from '../servicingMessages';
import { call, db, sms } from './activities';
import { reassess } from './calendar';
import type { Queued } from './carried';
import { approvalAct, requestAct } from './requests';
import type { ServicingRun } from './run';

type Money = Extract<Queued, { kind: 'repayment' | 'prepayment' }>;

/** Records what a booking did (booked, with its new schedule texted, or refused) for loan_events. */
async function recordBooking(run: ServicingRun, m: Money, r: Awaited<ReturnType<ServicingRun['book']>>): Promise<void> {
  const p = m.payload;
  if (r.outcome === 'applied') {
    await run.event(`${m.kind}_booked:${r.txnId}`, `${m.kind}_booked`, {
      reference: p.reference,
      amountFen: p.amountFen,
      creditFen: r.creditFen,
      prepaidPrincipalFen: r.prepaidPrincipalFen,
      feeFen: r.feeFen,
      newSchedule: r.newSchedule,
    }, p.actor);
    if (r.newSchedule) {
      try {
        await call(sms.sendServicingReminder, `text the new schedule (version ${r.newSchedule.version})`, { loanId: run.loanId, asOfDate: run.today(), scheduleChange: r.newSchedule });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        await run.event(`schedule_text_failed:${r.newSchedule.version}`, 'schedule_text_failed', { version: r.newSchedule.version });
      }
    }
  } else if (r.outcome !== 'duplicate') {
    await run.event(`repayment_refused:${p.reference}:${r.code}`, 'repayment_refused', { reference: p.reference, reason: r.code, amountFen: p.amountFen });
  }
}

/** A repayment or a prepayment, booked on the ledger. */
async function money(run: ServicingRun, m: Money): Promise<void> {
  const p = m.payload;
  const again = run.refuse(m.kind, p);
  if (again) {
    run.answer(m.ticket, { refusal: again });
    await run.event(`repayment_refused:${String(p?.reference)}:${again.code}`, 'repayment_refused', { reference: String(p?.reference ?? ''), reason: again.code, amountFen: typeof p?.amountFen === 'number' ? p.amountFen : null });
    return;
  }
  const request: ServicingRequest =
    m.kind === 'prepayment'
      ? { kind: 'prepayment', reference: p.reference, amountFen: p.amountFen, paidAt: p.paidAt, mode: m.payload.mode, actor: p.actor }
      : { kind: 'repayment', reference: p.reference, amountFen: p.amountFen, paidAt: p.paidAt, actor: p.actor };
  const r = await run.book(request);
  const outcome: RepaymentOutcome = {
    reference: p.reference,
    outcome: r.outcome === 'refused' ? 'rejected' : r.outcome,
    reason: r.code,
    kind: m.kind === 'prepayment' ? 'prepayment' : r.prepaidPrincipalFen > 0 ? 'early_payoff' : 'regular',
    allocations: r.allocations.map((a) => ({ seq: a.seq, component: a.component, amountFen: a.amountFen })),
    newSchedule: r.newSchedule,
  };
  await recordBooking(run, m, r);
  // The answer tells the bucket as the money left it (cured, or still overdue).
  await reassess(run, run.today());
  run.answer(m.ticket, { state: run.state({ lastRepayment: outcome }) });
}

async function quoteAct(run: ServicingRun, m: Extract<Queued, { kind: 'payoff' }>): Promise<void> {
  const again = run.refuse('payoffQuote', m.payload);
  if (again) {
    await run.event(`early_payoff_refused:${String(m.payload?.asOfDate)}:${run.today()}`, 'early_payoff_refused', { reason: again.code });
    return run.answer(m.ticket, { refusal: again });
  }
  const q = await call(db.servicingPayoffQuote, `quote the payoff as of ${m.payload.asOfDate}`, { loanId: run.loanId, asOfDate: m.payload.asOfDate });
  run.carried.payoffQuote = { asOfDate: q.asOfDate, amountFen: q.totalFen };
  await run.event(`early_payoff_quoted:${q.asOfDate}:${q.totalFen}`, 'early_payoff_quoted', { asOfDate: q.asOfDate, amountFen: q.totalFen, feeFen: q.feeFen, requestedBy: m.payload.actor });
  run.answer(m.ticket, { state: run.state() });
}

async function recordRefusal(run: ServicingRun, m: Extract<Queued, { kind: 'refused' }>): Promise<void> {
  const r = m.refusal;
  if (r.code === 'NOT_AUTHENTICATED') {
    // Not the API's act: recorded under the name it came by, its actor only as claimed.
    const act = SERVICING_ACT_PROOFS[m.act].act;
    await run.event(`act_refused:${workflowInfo().runId}:${++run.forgeries}`, 'act_refused', { act, via: m.via, code: r.code, problem: r.problem ?? null, message: r.message, claimedActor: m.actor || 'unknown' });
  } else {
    // A signal cannot be refused to its sender: what it was refused for is recorded instead.
    const kind = m.act === 'repayment' || m.act === 'prepayment' ? 'repayment_refused' : 'act_refused';
    await run.event(`${kind}:${m.act}:${r.code}:${Date.now()}`, kind, { act: m.act, reason: r.code }, m.actor || 'unknown');
  }
  run.answer(m.ticket, { refusal: r });
}

/** The application's late collateral registration (a second one changes nothing). */
async function collateral(run: ServicingRun, m: Extract<Queued, { kind: 'collateral' }>): Promise<void> {
  if (!run.carried.collateralOutstanding) return;
  await call(db.recordCollateralRegistered, 'record the mortgage registration', { loanId: run.loanId, registrationRef: m.registrationRef, registeredAt: m.registeredAt });
  run.carried.collateralOutstanding = false;
  await run.event('collateral_registered', 'collateral_registered', { registrationRef: m.registrationRef, actor: m.actor });
  run.publish();
}

/** Applies every queued act, in arrival order (acts arriving meanwhile join the queue). */
export async function drain(run: ServicingRun): Promise<void> {
  while (run.queue.length > 0) {
    const m = run.queue.shift() as Queued;
    if (m.kind === 'repayment' || m.kind === 'prepayment') await money(run, m);
    else if (m.kind === 'request') await requestAct(run, m);
    else if (m.kind === 'approval') await approvalAct(run, m);
    else if (m.kind === 'payoff') await quoteAct(run, m);
    else if (m.kind === 'refused') await recordRefusal(run, m);
    else await collateral(run, m);
  }
}
