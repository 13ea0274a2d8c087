/** The previous release's messages applied from the queue, one at a time, in arrival order. */
import { compareDates } from '../../domain';
import { payoffDateProblem, payoffSettlement } from '../../domain/servicingRules';
import type { EarlyPayoffRequested, RepaymentOutcome, RepaymentRecorded } from '../servicingMessages';
import { db } from './activities';
import { type LegacyServicingRun, type Queued, repaymentProblem } from './run';

async function applyRepayment(run: LegacyServicingRun, r: RepaymentRecorded, ticket: number | null): Promise<void> {
  const { carried } = run;
  const problem = repaymentProblem(r);
  let outcome: RepaymentOutcome;
  if (problem) {
    outcome = { reference: String(r?.reference ?? ''), outcome: 'rejected', reason: problem, kind: 'regular', allocations: [] };
  } else {
    const quote = carried.payoffQuote && compareDates(run.today(), carried.payoffQuote.asOfDate) <= 0 ? carried.payoffQuote : null;
    const res = await db.applyRepayment({
      loanId: run.loanId,
      reference: r.reference,
      amountFen: r.amountFen,
      paidAt: r.paidAt,
      actor: r.actor,
      payoffAsOfDate: quote?.asOfDate ?? null,
    });
    run.paid = res.paidFen;
    run.unapplied = res.unappliedFen;
    run.repaymentCount = res.repaymentCount;
    if (res.closedBy) run.closedBy = res.closedBy;
    if (res.kind === 'early_payoff' && res.outcome === 'applied') carried.payoffQuote = null;
    outcome = { reference: r.reference, outcome: res.outcome, reason: res.reason, kind: res.kind, allocations: res.allocations };
  }
  if (outcome.outcome === 'rejected') {
    // The money arrived but cannot be applied (bad figures, a closed loan): finance must see it.
    await run.event(`repayment_refused:${outcome.reference}:${outcome.reason}`, 'repayment_refused', {
      reference: outcome.reference,
      reason: outcome.reason,
      amountFen: typeof r?.amountFen === 'number' ? r.amountFen : null,
    });
  }
  if (ticket !== null) run.answers.set(ticket, run.state(outcome));
}

async function quotePayoff(run: LegacyServicingRun, p: EarlyPayoffRequested, ticket: number | null): Promise<void> {
  const problem = payoffDateProblem(run.schedule, p?.asOfDate, run.today());
  if (problem || run.closedBy) {
    await run.event(`early_payoff_refused:${String(p?.asOfDate)}:${run.today()}`, 'early_payoff_refused', { reason: problem ?? 'LOAN_CLOSED' });
  } else {
    const settlement = payoffSettlement(run.schedule, run.paid, p.asOfDate);
    run.carried.payoffQuote = { asOfDate: p.asOfDate, amountFen: settlement.amountToCloseFen };
    await run.event(`early_payoff_quoted:${p.asOfDate}:${settlement.amountToCloseFen}`, 'early_payoff_quoted', {
      asOfDate: p.asOfDate,
      amountFen: settlement.amountToCloseFen,
      feeFen: settlement.feeFen,
      requestedBy: p.actor,
    });
  }
  if (ticket !== null) run.answers.set(ticket, run.state());
}

export async function drain(run: LegacyServicingRun): Promise<void> {
  const { queue, carried } = run;
  while (queue.length > 0) {
    const m = queue.shift() as Queued;
    if (m.kind === 'repayment') await applyRepayment(run, m.repayment, m.ticket);
    else if (m.kind === 'payoff') await quotePayoff(run, m.request, m.ticket);
    else if (carried.collateralOutstanding) {
      await db.recordCollateralRegistered({ loanId: run.loanId, registrationRef: m.registrationRef, registeredAt: m.registeredAt });
      carried.collateralOutstanding = false;
      await run.event('collateral_registered', 'collateral_registered', { registrationRef: m.registrationRef, actor: m.actor });
      run.publish();
    }
  }
}
