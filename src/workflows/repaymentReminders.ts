/**
 * The daily reminder sweep, started by the `repayment-reminders-daily` Schedule at 08:00
 * Asia/Shanghai (or by hand from the Temporal UI). It pages through the unpaid instalments due in
 * three days, due today and overdue, in index order, and sends each reminder once (see
 * src/activities/reminders.ts for the claim-then-send protocol). Each page is one activity; every
 * `pagesPerRun` pages the run continues as new, carrying the cursor and the running totals, so its
 * history stays under about 160 events however many loans there are. (Not after every page: the
 * server starts a continued run about a second later, which would cap the sweep near one page a
 * second.) The day is fixed at the first run, so a sweep that crosses midnight finishes the day it
 * started.
 */
import { ActivityFailure, ApplicationFailure, continueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createReminderActivities, ReminderCounts, ReminderCursor } from '../activities/reminders';
import { smsActivityOptions } from '../activities/providers/options';
import { type IsoDate, shanghaiDate } from '../domain';
import { FailureType } from '../contracts/failures';

export interface RepaymentRemindersInput {
  /** The Shanghai day to remind for; default the day the run starts (workflow time). */
  asOfDate?: IsoDate | undefined;
  /** Instalments read per page (one activity); default 1,000. */
  pageSize?: number | undefined;
  /** Pages per run before continuing as new; default 25 (about 150 events a run). */
  pagesPerRun?: number | undefined;
  /** Carried across continue-as-new. */
  cursor?: ReminderCursor | null | undefined;
  totals?: RepaymentRemindersResult | undefined;
}

export interface RepaymentRemindersResult extends ReminderCounts {
  asOfDate: IsoDate;
  pages: number;
  /** Runs of the chain (continue-as-new between pages). */
  runs: number;
}

export const DEFAULT_REMINDER_PAGE_SIZE = 1_000;
export const DEFAULT_REMINDER_PAGES_PER_RUN = 25;

const { sendReminderPage } = proxyActivities<ReturnType<typeof createReminderActivities>>({
  ...smsActivityOptions,
  // A page is up to ten batched calls to the gateway plus a few queries.
  startToCloseTimeout: '2m',
});

export async function repaymentReminders(input: RepaymentRemindersInput = {}): Promise<RepaymentRemindersResult> {
  const asOfDate = input.asOfDate ?? shanghaiDate(Date.now());
  const pageSize = Math.min(Math.max(1, input.pageSize ?? DEFAULT_REMINDER_PAGE_SIZE), 10_000);
  const pagesPerRun = Math.min(Math.max(1, input.pagesPerRun ?? DEFAULT_REMINDER_PAGES_PER_RUN), 100);
  const totals: RepaymentRemindersResult = input.totals ?? {
    asOfDate,
    scanned: 0,
    owed: 0,
    sent: 0,
    duplicates: 0,
    alreadySent: 0,
    rejected: 0,
    pages: 0,
    runs: 0,
  };
  totals.runs += 1;
  let cursor = input.cursor ?? null;

  for (let page = 0; ; page++) {
    let next: ReminderCursor | null = null;
    try {
      const r = await sendReminderPage({ asOfDate, after: cursor, pageSize });
      totals.scanned += r.scanned;
      totals.owed += r.owed;
      totals.sent += r.sent;
      totals.duplicates += r.duplicates;
      totals.alreadySent += r.alreadySent;
      totals.rejected += r.rejected;
      next = r.nextCursor;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      // The gateway refused or stayed down for the whole retry budget. The page's rows stay
      // pending or unclaimed, so re-running the sweep resumes it and sends nothing twice; fail
      // visibly so an engineer sees it in the Temporal UI.
      log.error('reminder page failed', { asOfDate, page: totals.pages + 1 });
      throw ApplicationFailure.create({
        type: FailureType.ReminderSweepFailed,
        message: `reminder sweep for ${asOfDate} stopped at page ${totals.pages + 1}; re-run it to resume (nothing is sent twice)`,
        nonRetryable: true,
        details: [{ ...totals }],
      });
    }
    totals.pages += 1;
    if (next === null) {
      log.info('reminder sweep done', { ...totals });
      return totals;
    }
    cursor = next;
    if (page + 1 >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof repaymentReminders>({ asOfDate, pageSize, pagesPerRun, cursor, totals });
    }
  }
}
