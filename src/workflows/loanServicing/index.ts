/**
 * One disbursed loan, from the first instalment to closure: `loan-servicing-<loanId>`, started by
 * the application workflow as a child (parentClosePolicy ABANDON) after createLoan stored it; the
 * application run then ends (patch hand-over-to-servicing) and this run carries the loan's stage,
 * recording the application's closure when it closes the loan.
 *
 * Design:
 * - The servicing ledger (src/domain/ledger) is the arithmetic: every balance is a pure function of
 *   the loan's contract, its transactions and a date. The transactions live in PostgreSQL; the
 *   ledger activities book them (idempotent by bank reference or request id) and answer the
 *   loan's position in a few bounded figures, so this run holds no transactions at all and its
 *   history does not grow with them.
 * - Acts (repayment, prepayment, reversal, waiver, refund, the second finance user's approval,
 *   payoff quote, and the application's late collateral registration) are an update each, with a
 *   signal twin for the Temporal UI (handlers.ts). One pure function, refuseServicingAct
 *   (../servicingActs.ts), is every validator and every signal's check, the API's proof first
 *   (issue 15): a refused signal is recorded as an event, never dropped; a forged update is
 *   accepted only to be recorded as act_refused and then refused to its sender. Handlers queue the
 *   acts and the main loop applies them one at a time (acts.ts), so the database sees them in
 *   arrival order.
 * - Four eyes (requests.ts): reversals, waivers and refunds wait in the run (carried across
 *   continue-as-new) until a second, different finance user approves; only then are they booked
 *   (a refund after the payment provider paid it).
 * - The calendar drives the rest (calendar.ts): the run sleeps until the next day something
 *   changes by date alone, reads the day's position (which projects statuses and the bucket into
 *   the database) and acts on a new bucket once (SMS, collections call, hand-off).
 * - Bounded history: after INSTALMENTS_PER_RUN instalments fall due, when the server suggests it or
 *   past MAX_EVENTS_PER_RUN events, the run waits for every update to be answered and continues as
 *   new with the little it carries (carried.ts: bucket, actions done, open calls, collateral,
 *   pending approvals).
 * - Runs started before the ledger have no patch marker: loanServicing() sends them to
 *   loanServicingV1 (../loanServicingLegacy/) until their next continue-as-new.
 *
 * This file is the entry and the main loop; the run object (run.ts) holds what the handlers and
 * the loop share. See docs/architecture.md, "The loan-servicing workflow".
 */
import { allHandlersFinished, condition, continueAsNew, log, patched, setCurrentDetails, workflowInfo, type WorkflowInfo } from '@temporalio/workflow';
import { compareDates, DAY_MS, HOUR_MS, type IsoDate, nextCollateralReminder, shanghaiDate, shanghaiDateTime, shanghaiStartOfDayMs } from '../../domain';
import { loanServicingV1 } from '../loanServicingLegacy';
import type { LoanServicingInput, LoanServicingResult } from '../servicingMessages';
import { drain } from './acts';
import { call, db } from './activities';
import { close, evaluate } from './calendar';
import { servicingDetails } from './details';
import { registerServicingHandlers } from './handlers';
import { PATCH } from './patches';
import { ServicingRun } from './run';

export { INSTALMENTS_PER_RUN, MAX_EVENTS_PER_RUN } from './run';
export type { LedgerCarried } from './carried';

/** The marker of runs on the ledger (runs without it are the previous release's). */
export const SERVICING_LEDGER_PATCH = PATCH.ledger;
/** The workflow wakes at 09:00 Shanghai on a day something changes: no texts at midnight. */
const WAKE_OFFSET_MS = 9 * HOUR_MS;

export async function loanServicing(input: LoanServicingInput): Promise<LoanServicingResult> {
  // A run of the previous release (no marker in its history) finishes its run on its own code.
  if (!patched(SERVICING_LEDGER_PATCH)) return loanServicingV1(input);
  return servicingOnLedger(input);
}

async function servicingOnLedger(input: LoanServicingInput): Promise<LoanServicingResult> {
  const run = new ServicingRun(input);
  registerServicingHandlers(run);
  await start(run);
  return serve(run);
}

/** The run's first position: whether collateral is still owed, whether the loan is already closed. */
async function start(run: ServicingRun): Promise<void> {
  const { carried } = run;
  const position = await call(db.servicingPosition, 'read the loan\'s position', { loanId: run.loanId, asOfDate: run.today(), collateralRegistrationOutstanding: carried.collateralOutstanding });
  run.position = position;
  carried.collateralOutstanding = position.collateralRegistrationOutstanding;
  if (position.status === 'closed' && !carried.closed) carried.closed = { atMs: Date.now(), how: position.settled?.how ?? 'repaid' };
  run.publish();
  if (carried.run === 1 && !carried.closed) await run.event('servicing_started', 'servicing_started', { termMonths: position.termMonths });
}

/** Waits for every update in flight to be answered; false when an act arrived meanwhile (the loop goes round again). */
async function quiet(run: ServicingRun): Promise<boolean> {
  await condition(() => run.queue.length > 0 || allHandlersFinished());
  return run.queue.length === 0;
}

/** Closed: the run ends once no credit is left to refund (or the refund window has passed). 'again' when an act arrived first. */
async function ending(run: ServicingRun): Promise<LoanServicingResult | 'again' | null> {
  const closedFor = run.carried.closed;
  if (!closedFor) return null;
  const position = run.current();
  const until = closedFor.atMs + run.policy.closedCreditRefundDays * DAY_MS;
  if (position.creditFen !== 0 && Date.now() < until) return null;
  if (position.creditFen > 0) await run.event('closed_with_credit', 'closed_with_credit', { creditFen: position.creditFen });
  if (!(await quiet(run))) return 'again';
  return { outcome: 'closed', closedAt: new Date(closedFor.atMs).toISOString(), how: closedFor.how };
}

/** The run's info when it has done its share (instalments fallen due since it started, or a history long enough), else null. */
function handOverDue(run: ServicingRun, runStartDay: IsoDate, day: IsoDate): WorkflowInfo | null {
  const fellDue = run.current().dueDates.filter((d) => compareDates(d, runStartDay) > 0 && compareDates(d, day) <= 0).length;
  const info = workflowInfo();
  return fellDue >= run.perRun || info.continueAsNewSuggested || info.historyLength > run.maxEvents ? info : null;
}

function handOver(run: ServicingRun, info: WorkflowInfo): Promise<never> {
  const { carried } = run;
  log.info('servicing continues as new', { loanId: run.loanId, run: carried.run, historyLength: info.historyLength });
  return continueAsNew<typeof loanServicing>({ ...run.input, carried: { ...carried, run: carried.run + 1, queued: [...run.queue] } });
}

/** Sleeps until 09:00 of the next day something changes by date alone, or until an act arrives. */
async function sleep(run: ServicingRun, day: IsoDate): Promise<void> {
  const { carried } = run;
  const position = run.current();
  const next = carried.closed
    ? shanghaiDate(carried.closed.atMs + run.policy.closedCreditRefundDays * DAY_MS)
    : [position.nextChangeDate, carried.collateralOutstanding ? nextCollateralReminder(position.disbursementDate, day) : null]
        .filter((d): d is string => d !== null)
        .sort()[0];
  const wakeInMs = next ? Math.max(1_000, shanghaiStartOfDayMs(next) + WAKE_OFFSET_MS - Date.now()) : undefined;
  run.nextLookMs = wakeInMs === undefined ? null : Date.now() + wakeInMs;
  setCurrentDetails(servicingDetails(run));
  if (wakeInMs === undefined) await condition(() => run.queue.length > 0);
  else await condition(() => run.queue.length > 0, wakeInMs, { summary: `${carried.closed ? 'refund window of the closed loan ends' : 'next look at the loan'}: ${shanghaiDateTime(run.nextLookMs as number)}` });
}

/** The main loop: the acts queued, the day's position, closure, hand-over, and the sleep until the next change. */
async function serve(run: ServicingRun): Promise<LoanServicingResult> {
  const runStartDay = run.today();
  for (;;) {
    await drain(run);
    if (!run.carried.closed) {
      await evaluate(run, run.today());
      if (run.queue.length > 0) continue;
      const settled = run.current().settled;
      if (settled) await close(run, settled.how);
    }
    const ended = await ending(run);
    if (ended === 'again') continue;
    if (ended) return ended;
    const day = run.today();
    const info = handOverDue(run, runStartDay, day);
    if (info) {
      // Hand over only with nothing in flight: every update answered, the queue empty.
      if (!(await quiet(run))) continue;
      return handOver(run, info);
    }
    await sleep(run, day);
  }
}
