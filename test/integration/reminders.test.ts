import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { Worker } from '@temporalio/worker';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { createLoanActivities } from '../../src/activities/loans';
import type { ProviderClients } from '../../src/activities/providers';
import { REMINDER_SMS_TAG } from '../../src/activities/reminders';
import type { DbHandle } from '../../src/db/client';
import type { PiiCipher } from '../../src/db/pii';
import { installments, reminders } from '../../src/db/schema';
import { addDays, addMonths, HOUR_MS, reminderFor, shanghaiDate, shanghaiStartOfDayMs } from '../../src/domain';
import { SandboxAdminClient, startSandbox, testValues, type RunningSandbox } from '../../src/sandbox';
import { describeReminderSchedule, ensureReminderSchedule } from '../../src/temporal/schedules';
import { repaymentReminders } from '../../src/workflows/repaymentReminders';
import { instalmentReminderText } from '../../src/domain/servicingRules';
import { createTestDb } from '../helpers/db';
import { sandboxProviders, seedLoan, testCipher } from '../helpers/servicing';
import { localEnv, workflowBundle } from '../helpers/temporal';
import { PATIENCE_MS } from '../helpers/wait';

/**
 * The daily reminder sweep on a real dev server, a real database and the SMS sandbox over HTTP:
 * what is owed is sent once, a second run the same day sends nothing, a crash on either side of
 * the send texts nobody twice, and the Schedule that starts it is created idempotently.
 */

const TASK_QUEUE = 'reminders-test';

describe('repaymentReminders and its Schedule', () => {
  let env: TestWorkflowEnvironment;
  let h: DbHandle;
  let sandbox: RunningSandbox;
  let admin: SandboxAdminClient;
  let cipher: PiiCipher;
  let providers: ProviderClients;
  let worker: Worker;
  let running: Promise<void>;
  let phoneSeq = 0;
  const today = shanghaiDate(Date.now());

  beforeAll(async () => {
    [env, h, sandbox] = await Promise.all([localEnv(), createTestDb(), startSandbox({ port: 0 })]);
    admin = new SandboxAdminClient(sandbox.url);
    cipher = testCipher();
    providers = sandboxProviders(sandbox);
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ db: h.db, cipher, providers }),
    });
    running = worker.run();
  });
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await env?.teardown();
    await sandbox?.close();
    await h?.close();
  });

  /**
   * A loan whose oldest unpaid instalment falls due on `dueDate` (earlier ones paid), so the test
   * can place instalments anywhere around the sweep's day whatever the month lengths.
   */
  async function loanWithInstalmentDue(name: string, dueDate: string, phone = `139${String(++phoneSeq).padStart(8, '0')}`) {
    let months = 1;
    while (addMonths(addMonths(dueDate, -months), months) !== dueDate) months++;
    const disbursement = addMonths(dueDate, -months);
    const { loanId, schedule } = await seedLoan(h.db, cipher, providers, {
      applicationId: `rem-${name}`,
      phone,
      disbursedAtMs: shanghaiStartOfDayMs(disbursement) + 10 * HOUR_MS,
      termMonths: 12,
    });
    const acts = createLoanActivities({ db: h.db, cipher, callCentre: providers.callCentre });
    for (const row of schedule.slice(0, months - 1)) {
      await acts.applyRepayment({ loanId, reference: `pre-${row.seq}`, amountFen: row.totalFen, paidAt: new Date().toISOString(), actor: 'test' });
    }
    return { loanId, phone, seq: months };
  }

  const texts = async (phone: string) => admin.smsMessages({ to: phone });

  it('sends every reminder owed today once, page by page, and a second run the same day sends nothing', async () => {
    const seeded = [
      await loanWithInstalmentDue('upcoming', addDays(today, 3)),
      await loanWithInstalmentDue('tomorrow', addDays(today, 1)), // inside the window, but no text today
      await loanWithInstalmentDue('today', today),
      await loanWithInstalmentDue('m1', addDays(today, -5)),
      await loanWithInstalmentDue('m2', addDays(today, -40)),
      await loanWithInstalmentDue('m3', addDays(today, -70)),
      await loanWithInstalmentDue('later', addDays(today, 10)),
      await loanWithInstalmentDue('dead-number', today, testValues.SMS_NOT_IN_SERVICE_PHONE),
    ];
    // One instalment due today but already paid: nothing owed.
    const paid = await loanWithInstalmentDue('paid', today);
    const [paidRow] = await h.db.select().from(installments).where(and(eq(installments.loanId, paid.loanId), eq(installments.seq, paid.seq)));
    await createLoanActivities({ db: h.db, cipher, callCentre: providers.callCentre }).applyRepayment({
      loanId: paid.loanId,
      reference: 'paid-today',
      amountFen: paidRow!.totalFen,
      paidAt: new Date().toISOString(),
      actor: 'test',
    });
    const all = [...seeded, paid];
    // What is owed today, worked out by hand from the policy (texts 3 days before and on the due
    // day; overdue M1 1–30 days and M2 31–60 by text, M3 61–90 by a call only). Instalments are a
    // month apart, so the loan 40 days late also has its next instalment 9–12 days late (M1), and
    // the one 70 days late has its next two 39–42 (M2) and 8–14 days late (M1).
    const text = (i: number, what: string, next = 0) => `${seeded[i]!.loanId}/${seeded[i]!.seq + next}/${what}`;
    const owed = new Map<string, string[]>([
      [seeded[0]!.loanId, [text(0, 'upcoming-3d')]],
      [seeded[1]!.loanId, []], // due tomorrow: no text today
      [seeded[2]!.loanId, [text(2, 'due-today')]],
      [seeded[3]!.loanId, [text(3, 'overdue-M1')]],
      [seeded[4]!.loanId, [text(4, 'overdue-M2'), text(4, 'overdue-M1', 1)]],
      [seeded[5]!.loanId, [text(5, 'overdue-M2', 1), text(5, 'overdue-M1', 2)]], // M3 is a call, not a text
      [seeded[6]!.loanId, []], // due in 10 days
      [seeded[7]!.loanId, [text(7, 'due-today')]], // refused by the gateway below
      [paid.loanId, []],
    ]);
    const owedIds = [...owed.values()].flat();

    const first = await env.client.workflow.execute(repaymentReminders, {
      taskQueue: TASK_QUEUE,
      workflowId: `reminders-${today}-a`,
      args: [{ asOfDate: today, pageSize: 3, pagesPerRun: 2 }],
    });
    const deliverable = owedIds.length - 1; // the dead number is refused by the gateway
    expect(first).toMatchObject({ asOfDate: today, owed: owedIds.length, sent: deliverable, rejected: 1, duplicates: 0, alreadySent: 0 });
    expect(first.runs).toBeGreaterThan(1); // continued as new every two pages
    expect(first.runs).toBe(Math.ceil(first.pages / 2));
    // Each run's history is a few events per page, however many pages the day has.
    let runId: string | undefined = (await env.client.workflow.getHandle(`reminders-${today}-a`).describe()).runId;
    let runs = 0;
    while (runId) {
      const history = await env.client.workflow.getHandle(`reminders-${today}-a`, runId).fetchHistory();
      expect(history.events!.length).toBeLessThan(30);
      runs++;
      runId = history.events![0]!.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    }
    expect(runs).toBe(first.runs);

    const textsBefore = new Map<string, number>();
    for (const s of all) {
      const got = await texts(s.phone);
      const expected = s.phone === testValues.SMS_NOT_IN_SERVICE_PHONE ? [] : owed.get(s.loanId)!;
      expect(got.map((m) => m.messageId).sort()).toEqual([...expected].sort());
      textsBefore.set(s.phone, got.length);
    }
    const rows = await h.db.select().from(reminders).where(inArray(reminders.loanId, all.map((s) => s.loanId)));
    expect(rows.filter((r) => r.status === 'sent')).toHaveLength(deliverable);
    expect(rows.filter((r) => r.status === 'rejected').map((r) => r.code)).toEqual(['number_not_in_service']);

    // The same day again (a manual trigger, a catch-up): nothing reaches the gateway at all.
    const second = await env.client.workflow.execute(repaymentReminders, {
      taskQueue: TASK_QUEUE,
      workflowId: `reminders-${today}-b`,
      args: [{ asOfDate: today, pageSize: 3 }],
    });
    expect(second).toMatchObject({ owed: owedIds.length, sent: 0, duplicates: 0, rejected: 0, alreadySent: owedIds.length });
    for (const s of all) expect(await texts(s.phone)).toHaveLength(textsBefore.get(s.phone)!);
  });

  it('texts once across a crash after claiming, a crash after sending, and an answer lost on the way back', async () => {
    const day = addDays(today, 200); // a day no other test's loans are texted for in these phones
    const claimedOnly = await loanWithInstalmentDue('crash-before-send', addDays(day, 3));
    const sentNotMarked = await loanWithInstalmentDue('crash-after-send', addDays(day, 3));
    const lostAnswer = await loanWithInstalmentDue('lost-answer', day);

    // A sweep claimed both rows, then died: one before sending, one after the gateway took it.
    for (const s of [claimedOnly, sentNotMarked]) {
      const [row] = await h.db.select().from(installments).where(and(eq(installments.loanId, s.loanId), eq(installments.seq, s.seq)));
      const r = reminderFor(row!, row!.paidFen, day)!;
      const text = instalmentReminderText(s.loanId, s.seq, row!.dueDate, row!.totalFen - row!.paidFen, r);
      await h.db.insert(reminders).values({ ...text, loanId: s.loanId, seq: s.seq, amountFen: row!.totalFen, source: 'sweep' });
      if (s === sentNotMarked) {
        await providers.sms.send({ messageId: text.messageId, to: s.phone, text: text.text, template: text.template, tag: REMINDER_SMS_TAG });
      }
    }
    expect(await texts(sentNotMarked.phone)).toHaveLength(1);
    // And the gateway's first answer of this run is lost after it accepted the batch.
    await admin.setFault({ provider: 'sms', mode: 'lost_response', count: 1 });

    const result = await env.client.workflow.execute(repaymentReminders, {
      taskQueue: TASK_QUEUE,
      workflowId: `reminders-${day}-crash`,
      args: [{ asOfDate: day }],
    });
    expect((await admin.listFaults()).length).toBe(0); // the fault fired
    expect(result.duplicates).toBeGreaterThanOrEqual(1);
    for (const s of [claimedOnly, sentNotMarked, lostAnswer]) {
      const got = await texts(s.phone);
      expect(got).toHaveLength(1);
      const [row] = await h.db.select().from(reminders).where(eq(reminders.messageId, got[0]!.messageId));
      expect(row!.status).toBe('sent');
    }
    const [marked] = await h.db.select().from(reminders).where(and(eq(reminders.loanId, sentNotMarked.loanId), eq(reminders.seq, sentNotMarked.seq)));
    expect(marked!.code).toBe('duplicate');

    const again = await env.client.workflow.execute(repaymentReminders, {
      taskQueue: TASK_QUEUE,
      workflowId: `reminders-${day}-again`,
      args: [{ asOfDate: day }],
    });
    expect(again.sent).toBe(0);
    expect(again.duplicates).toBe(0);
    for (const s of [claimedOnly, sentNotMarked, lostAnswer]) expect(await texts(s.phone)).toHaveLength(1);
  });

  it('texts nobody twice when an attempt dies before its batch reaches the gateway, and another after the gateway accepted it but before the claims are marked', async () => {
    const day = addDays(today, 300); // a day no other test's loans are texted for
    const owed = [
      await loanWithInstalmentDue('batch-crash-a', day),
      await loanWithInstalmentDue('batch-crash-b', day),
      await loanWithInstalmentDue('batch-crash-c', addDays(day, 3)),
    ];
    // Deterministic faults on the real parts. The gateway refuses the first batch request (503:
    // attempt 1 dies after claiming, before anything is sent). The database then fails the first
    // statement that marks claims (attempt 2 dies after the gateway accepted its batch): a
    // sequence, because it is not rolled back with the failed statement, so only the first fails.
    await admin.setFault({ provider: 'sms', mode: 'error_5xx', count: 1 });
    await h.db.execute(sql`create sequence reminder_mark_fault`);
    await h.db.execute(sql.raw(`create function reminder_mark_fault() returns trigger language plpgsql as $$
      begin
        if nextval('reminder_mark_fault') = 1 then
          raise exception 'injected: the attempt dies after the gateway accepted the batch, before the claims are marked';
        end if;
        return null;
      end $$`));
    await h.db.execute(sql`create trigger reminder_mark_fault before update on reminders for each statement execute function reminder_mark_fault()`);
    let result: Awaited<ReturnType<typeof repaymentReminders>>;
    try {
      const workflowId = `reminders-${day}-batch-crash`;
      result = await env.client.workflow.execute(repaymentReminders, { taskQueue: TASK_QUEUE, workflowId, args: [{ asOfDate: day }] });
      // Both faults fired: three attempts of the one page, the third marking what the second sent.
      expect((await admin.listFaults()).length).toBe(0);
      const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
      const attempts = history.events!.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
      expect(Math.max(...attempts)).toBe(3);
      // Every text of the day (other tests' loans are overdue by then too) went in the batch the
      // second attempt sent, so the third finds the gateway holding all of them (but the texts to
      // the first test's dead number, refused again).
      expect(result.owed).toBeGreaterThanOrEqual(3);
      expect(result.sent).toBe(0);
      expect(result.duplicates + result.rejected).toBe(result.owed);
      for (const s of owed) {
        const got = await texts(s.phone);
        expect(got).toHaveLength(1);
        const [row] = await h.db.select().from(reminders).where(eq(reminders.messageId, got[0]!.messageId));
        // The claim row says the gateway had it (a duplicate on the resend) and by which id.
        expect(row).toMatchObject({ status: 'sent', code: 'duplicate', providerMessageId: got[0]!.providerMessageId });
      }
    } finally {
      await h.db.execute(sql`drop trigger reminder_mark_fault on reminders`);
      await h.db.execute(sql`drop function reminder_mark_fault()`);
      await h.db.execute(sql`drop sequence reminder_mark_fault`);
    }
    // Swept again: every claim is marked, so nothing reaches the gateway.
    const again = await env.client.workflow.execute(repaymentReminders, { taskQueue: TASK_QUEUE, workflowId: `reminders-${day}-batch-again`, args: [{ asOfDate: day }] });
    expect(again).toMatchObject({ sent: 0, duplicates: 0, alreadySent: result.owed });
    for (const s of owed) expect(await texts(s.phone)).toHaveLength(1);
  });

  it('creates the daily Schedule idempotently (08:00 Shanghai, no overlaps, a catch-up window) and runs a sweep when triggered', async () => {
    const scheduleId = 'repayment-reminders-daily-test';
    expect(await ensureReminderSchedule(env.client, { taskQueue: TASK_QUEUE, scheduleId })).toBe('created');
    const handle = env.client.schedule.getHandle(scheduleId);
    await handle.pause('maintenance');
    // At the next worker start: the definition is re-applied, the engineer's pause is kept.
    expect(await ensureReminderSchedule(env.client, { taskQueue: TASK_QUEUE, scheduleId })).toBe('updated');
    const d = await describeReminderSchedule(env.client, scheduleId);
    expect(d).toMatchObject({
      paused: true,
      timezone: 'Asia/Shanghai',
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindowMs: 6 * HOUR_MS,
      workflowType: 'repaymentReminders',
      taskQueue: TASK_QUEUE,
    });
    expect(d.calendars).toEqual([expect.objectContaining({ hour: [{ start: 8, end: 8, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] })]);
    // The next run is at 08:00 Shanghai (00:00 UTC).
    await handle.unpause();
    const next = (await describeReminderSchedule(env.client, scheduleId)).nextActionTimes[0]!;
    expect(new Date(next).getUTCHours()).toBe(0);
    expect(new Date(next).getUTCMinutes()).toBe(0);

    // A loan due today, so the scheduled sweep has a text to send whatever ran before it.
    const due = await loanWithInstalmentDue('scheduled', today);
    await handle.trigger();
    let workflowId: string | undefined;
    for (const deadline = Date.now() + PATIENCE_MS; !workflowId && Date.now() < deadline; ) {
      workflowId = (await describeReminderSchedule(env.client, scheduleId)).recentActions[0]?.workflowId;
      if (!workflowId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(workflowId).toMatch(/^repayment-reminders-/);
    const result = await env.client.workflow.getHandle<typeof repaymentReminders>(workflowId!).result();
    expect(result.asOfDate).toBe(shanghaiDate(Date.now()));
    expect(result.sent).toBeGreaterThanOrEqual(1);
    expect((await texts(due.phone)).map((m) => m.messageId)).toEqual([`${due.loanId}/${due.seq}/due-today`]);
    // The same day swept again by hand: nothing is sent twice.
    const again = await env.client.workflow.execute(repaymentReminders, { taskQueue: TASK_QUEUE, workflowId: `reminders-${today}-after-schedule`, args: [{ asOfDate: today }] });
    expect(again.sent).toBe(0);
    expect(await texts(due.phone)).toHaveLength(1);
    await handle.delete();
  });
});
