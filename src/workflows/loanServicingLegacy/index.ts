/**
 * The loan-servicing run as the release before the servicing ledger wrote it, act proofs (issue 15,
 * patch act-proofs) included. A servicing run lives for years, so runs started by that release
 * keep replaying and running this code (loanServicing() sends them here: their history has no
 * ledger patch marker) until their next continue-as-new, which starts them on the ledger. Do not
 * change what this code does; delete it once no run of that release is open (none can be after
 * one continue-as-new: at most 6 instalments).
 *
 * It is cut into small functions as loanServicing/ is (issue 16), each command where it was: the
 * same patched() ids, activities, timers, conditions, message names and continue-as-new points;
 * the stored servicing-v1 histories (test/workflow/histories/0.1.0/) replay on it.
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
 *
 * This file is the entry and the main loop; run.ts holds what the handlers (handlers.ts) and the
 * loop share; acts.ts applies the queued messages, calendar.ts the day's evaluation and closure.
 */
import { allHandlersFinished, condition, continueAsNew, log, workflowInfo } from '@temporalio/workflow';
import { compareDates, HOUR_MS, type IsoDate, shanghaiStartOfDayMs } from '../../domain';
import { isFullyPaid, nextChangeDate, nextCollateralReminder } from '../../domain/servicingRules';
import type { LoanServicingInput, LoanServicingResult } from '../servicingMessages';
import { drain } from './acts';
import { db } from './activities';
import { close, evaluate } from './calendar';
import { registerLegacyHandlers } from './handlers';
import { LegacyServicingRun, MAX_EVENTS_PER_RUN } from './run';

export { INSTALMENTS_PER_RUN, MAX_EVENTS_PER_RUN, type ServicingCarried } from './run';

/** The workflow wakes at 09:00 Shanghai on a day something changes: no texts at midnight. */
const WAKE_OFFSET_MS = 9 * HOUR_MS;

export async function loanServicingV1(input: LoanServicingInput): Promise<LoanServicingResult> {
  const run = new LegacyServicingRun(input);
  // Handlers first: a message delivered with the first task is queued, not lost.
  registerLegacyHandlers(run);
  await start(run);
  return serve(run);
}

/** The schedule and what was paid, read back from PostgreSQL; the loan's search attributes. */
async function start(run: LegacyServicingRun): Promise<void> {
  const { carried } = run;
  const snapshot = await db.loadServicingSnapshot({ loanId: run.loanId, collateralRegistrationOutstanding: carried.collateralOutstanding });
  run.schedule = snapshot.schedule;
  run.paid = snapshot.paidFen;
  run.unapplied = snapshot.unappliedFen;
  run.repaymentCount = snapshot.repaymentCount;
  run.disbursementDate = snapshot.disbursementDate;
  run.principalFen = snapshot.principalFen;
  carried.collateralOutstanding = snapshot.collateralRegistrationOutstanding;
  run.mirrored = [...snapshot.statuses];
  run.mirroredBucket = snapshot.bucket;
  if (snapshot.status === 'closed') run.closedBy = snapshot.closedHow ?? 'repaid';
  run.publish();
  if (carried.run === 1 && !run.closedBy) await run.event('servicing_started', 'servicing_started', { termMonths: snapshot.termMonths });
}

/** Sleeps until 09:00 of the next day something changes, or until a message arrives. */
async function sleep(run: LegacyServicingRun, day: IsoDate): Promise<void> {
  const { carried, queue } = run;
  const next = nextChangeDate(run.schedule, run.paid, day, [carried.collateralOutstanding ? nextCollateralReminder(run.disbursementDate, day) : null]);
  const wakeInMs = next ? Math.max(1_000, shanghaiStartOfDayMs(next) + WAKE_OFFSET_MS - Date.now()) : undefined;
  if (wakeInMs === undefined) await condition(() => queue.length > 0);
  else await condition(() => queue.length > 0, wakeInMs);
}

/** The main loop: the queued messages, closure, the day's evaluation, the hand-over, the sleep. */
async function serve(run: LegacyServicingRun): Promise<LoanServicingResult> {
  const { carried, queue } = run;
  const runStartDay = run.today();
  for (;;) {
    await drain(run);
    if (run.closedBy || isFullyPaid(run.schedule, run.paid)) return close(run, run.closedBy ?? 'repaid');
    const day = run.today();
    await evaluate(run, day);
    if (queue.length > 0) continue;

    const fellDue = run.schedule.filter((row) => compareDates(row.dueDate, runStartDay) > 0 && compareDates(row.dueDate, day) <= 0).length;
    const info = workflowInfo();
    if (fellDue >= run.perRun || info.continueAsNewSuggested || info.historyLength > MAX_EVENTS_PER_RUN) {
      // Hand over only with nothing in flight: every update answered, the queue empty.
      await condition(() => queue.length > 0 || allHandlersFinished());
      if (queue.length > 0) continue;
      log.info('servicing continues as new', { loanId: run.loanId, run: carried.run, historyLength: info.historyLength });
      return continueAsNew<typeof loanServicingV1>({ ...run.input, carried: { ...carried, run: carried.run + 1, queued: [...queue] } });
    }
    await sleep(run, day);
  }
}
