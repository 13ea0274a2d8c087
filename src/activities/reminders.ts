import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { installments, loans, reminders } from '../db/schema';
import { type Fen, type IsoDate, type Reminder, addDays, DEFAULT_POLICY, reminderFor } from '../domain';
import { type ReminderText, collateralReminderText, instalmentReminderText, scheduleChangeText } from '../domain/servicingRules';
import { borrowerPhones } from './loans';
import type { SmsBatchResult, SmsClient, SmsMessageRequest } from './providers';

/**
 * Repayment reminders, sent once each. The protocol, per reminder:
 *
 *   1. INSERT the reminder row (status `pending`) ON CONFLICT DO NOTHING: the unique key
 *      (instalment, kind, day) means it is claimed once however many sweeps run;
 *   2. send every row of the page still `pending`, with the row's id as the gateway's messageId,
 *      in the gateway's batches of 100 (a few requests in flight);
 *   3. mark each batch's rows `sent` (or `rejected`) in one statement when its answer is back.
 *
 * A crash between 1 and 2 leaves the row pending: the next run (the activity's retry, a re-run
 * of the sweep, tomorrow's sweep for an overdue bucket) sends it. A crash between 2 and 3 (the
 * gateway accepted the batch, the marks were not written) leaves it pending although the gateway
 * has it: the resend carries the same messageId and the same stored text, and the gateway answers
 * `duplicate` instead of texting again. Rows already `sent` are never sent again. Phone numbers
 * are decrypted here and never leave the activity.
 */

export interface ReminderCursor {
  dueDate: IsoDate;
  loanId: string;
  seq: number;
}

export interface ReminderPageInput {
  /** The Asia/Shanghai day the sweep is for. */
  asOfDate: IsoDate;
  /** Keyset cursor: the last instalment of the previous page, null for the first page. */
  after: ReminderCursor | null;
  pageSize: number;
}

export interface ReminderCounts {
  /** Unpaid instalments read (due within the window or overdue). */
  scanned: number;
  /** Of those, the ones owed a text today. */
  owed: number;
  /** Accepted by the gateway in this run. */
  sent: number;
  /** Claimed by an earlier run that crashed before marking them: the gateway already had them. */
  duplicates: number;
  /** Already sent (or refused) by an earlier run: nothing sent. */
  alreadySent: number;
  /** Refused by the gateway (number not in service, invalid number). */
  rejected: number;
}

export interface ReminderPageResult extends ReminderCounts {
  nextCursor: ReminderCursor | null;
}

export type ServicingReminderInput =
  | { loanId: string; asOfDate: IsoDate; seq: number }
  | { loanId: string; asOfDate: IsoDate; collateralRemindOn: IsoDate }
  /** A prepayment re-amortised the loan: the new instalment. */
  | { loanId: string; asOfDate: IsoDate; scheduleChange: { version: number; instalmentFen: Fen; instalments: number; firstDueDate: IsoDate } };

export interface ServicingReminderResult {
  status: 'sent' | 'duplicate' | 'already_sent' | 'rejected' | 'not_owed';
  messageId: string | null;
  code: string | null;
}

export const SMS_BATCH_SIZE = 100;
const BATCH_CONCURRENCY = 4;
/** The gateway tag of every reminder text (part of the message the gateway compares on a resend). */
export const REMINDER_SMS_TAG = 'repayment_reminder';

type Claim = ReminderText & { loanId: string; seq: number; amountFen: Fen | null };
type Outcome = ServicingReminderResult['status'];

export const emptyCounts = (): ReminderCounts => ({ scanned: 0, owed: 0, sent: 0, duplicates: 0, alreadySent: 0, rejected: 0 });

/** Whether the sweep texts this reminder (overdue buckets text only when their action says so). */
function textsFor(r: Reminder): boolean {
  return r.kind !== 'overdue' || r.actions.includes('sms');
}

export function createReminderActivities(deps: { db: Db; cipher: PiiCipher; sms: SmsClient }) {
  const { db, cipher, sms } = deps;

  async function mark(results: SmsBatchResult[]): Promise<void> {
    if (results.length === 0) return;
    const marks = results.map((r) => {
      const refusal = r.status === 'rejected' ? r.code : null;
      // message_id_reused: the gateway holds another text under this id, so one was sent already.
      const sent = refusal === null || refusal === 'message_id_reused';
      const code = r.status === 'accepted' ? null : r.status === 'duplicate' ? 'duplicate' : refusal;
      const pid = r.status === 'rejected' ? null : r.providerMessageId;
      return { id: r.messageId, status: sent ? 'sent' : 'rejected', pid, code };
    });
    // One JSON parameter for the batch, as the claims (not four parameters a message).
    await db.execute(sql`
      update reminders as r
         set status = v.status, provider_message_id = v.pid, code = v.code,
             sent_at = case when v.status = 'sent' then now() else null end
        from json_to_recordset(${JSON.stringify(marks)}::json) as v(id text, status text, pid text, code text)
       where r.message_id = v.id and r.status = 'pending'`);
  }

  /** Claims, sends and marks; answers what happened to each messageId. */
  async function claimAndSend(claims: Claim[], source: 'sweep' | 'servicing'): Promise<Map<string, { outcome: Outcome; code: string | null }>> {
    const outcomes = new Map<string, { outcome: Outcome; code: string | null }>();
    if (claims.length === 0) return outcomes;
    const ids = claims.map((c) => c.messageId);
    for (const id of ids) outcomes.set(id, { outcome: 'already_sent', code: null });

    // 1. Claim. Rows already there are looked up first (a re-run then writes nothing); the rest are
    //    inserted ON CONFLICT DO NOTHING, and only the rows this run inserted (RETURNING) are its
    //    to send, so two sweeps racing never both send a new reminder.
    const existing = await db
      .select({ messageId: reminders.messageId, loanId: reminders.loanId, text: reminders.text, template: reminders.template, status: reminders.status })
      .from(reminders)
      .where(inArray(reminders.messageId, ids));
    const known = new Set(existing.map((r) => r.messageId));
    const fresh = claims.filter((c) => !known.has(c.messageId));
    // The claims go as one JSON parameter read by json_to_recordset, not a parameter per value:
    // building and binding a 750-row insert value by value took most of a page's database time.
    const inserted = fresh.length
      ? rowsOf<{ messageId: string; loanId: string; text: string; template: string }>(
          await db.execute(sql`
            insert into reminders (message_id, loan_id, seq, kind, remind_on, template, text, amount_fen, source)
            select c.message_id, c.loan_id, c.seq, c.kind, c.remind_on, c.template, c.text, c.amount_fen, ${source}::text
              from json_to_recordset(${JSON.stringify(
                fresh.map((c) => ({
                  message_id: c.messageId,
                  loan_id: c.loanId,
                  seq: c.seq,
                  kind: c.kind,
                  remind_on: c.remindOn,
                  template: c.template,
                  text: c.text,
                  amount_fen: c.amountFen,
                })),
              )}::json)
                as c(message_id text, loan_id text, seq integer, kind text, remind_on date, template text, text text, amount_fen bigint)
            on conflict do nothing
            returning message_id as "messageId", loan_id as "loanId", text, template`),
        )
      : [];
    // 2. What to send: rows claimed now, and rows a crashed run claimed but never marked (their
    //    stored text, so a resend is byte-identical and the gateway answers `duplicate`).
    const pending = [...existing.filter((r) => r.status === 'pending'), ...inserted];

    const phones = await borrowerPhones(
      db,
      cipher,
      pending.map((p) => p.loanId),
    );
    const messages: SmsMessageRequest[] = [];
    for (const p of pending) {
      const to = phones.get(p.loanId);
      if (to) messages.push({ messageId: p.messageId, to, text: p.text, template: p.template, tag: REMINDER_SMS_TAG });
    }
    const batches: SmsMessageRequest[][] = [];
    for (let i = 0; i < messages.length; i += SMS_BATCH_SIZE) batches.push(messages.slice(i, i + SMS_BATCH_SIZE));
    // A few batches in flight at once. A failed batch stops the others taking more, and the
    // attempt fails only once the batches in flight are answered and marked, so its retry never
    // overlaps it; whatever it left pending is resent under the same messageIds.
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < batches.length) {
        const batch = batches[next++] as SmsMessageRequest[];
        try {
          const results = await sms.sendBatch(batch);
          // Marked batch by batch: a crash loses the marks of the batches in flight at most.
          await mark(results);
          for (const r of results) {
            const refusal = r.status === 'rejected' ? r.code : null;
            const outcome: Outcome =
              r.status === 'accepted' ? 'sent' : r.status === 'duplicate' || refusal === 'message_id_reused' ? 'duplicate' : 'rejected';
            outcomes.set(r.messageId, { outcome, code: refusal });
          }
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(BATCH_CONCURRENCY, batches.length) }, worker));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    return outcomes;
  }

  return {
    /**
     * One page of the daily sweep: unpaid instalments due within the reminder window or overdue,
     * in (due_date, loan_id, seq) order from the partial index, after the cursor.
     */
    async sendReminderPage(input: ReminderPageInput): Promise<ReminderPageResult> {
      const window = Math.max(0, ...DEFAULT_POLICY.reminders.daysBeforeDue);
      const horizon = addDays(input.asOfDate, window);
      const after = input.after;
      const rows = await db
        .select({
          loanId: installments.loanId,
          seq: installments.seq,
          dueDate: installments.dueDate,
          totalFen: installments.totalFen,
          paidFen: installments.paidFen,
        })
        .from(installments)
        .where(
          and(
            // Literal, not a parameter, so the planner can prove the partial index applies.
            sql`${installments.status} <> 'paid'`,
            sql`${installments.dueDate} <= ${horizon}::date`,
            after
              ? sql`(${installments.dueDate}, ${installments.loanId}, ${installments.seq}) > (${after.dueDate}::date, ${after.loanId}::text, ${after.seq}::int)`
              : undefined,
          ),
        )
        .orderBy(asc(installments.dueDate), asc(installments.loanId), asc(installments.seq))
        .limit(input.pageSize);

      const claims: Claim[] = [];
      for (const row of rows) {
        const r = reminderFor({ dueDate: row.dueDate, totalFen: row.totalFen }, row.paidFen, input.asOfDate);
        if (!r || !textsFor(r)) continue;
        const owedFen = row.totalFen - row.paidFen;
        claims.push({ ...instalmentReminderText(row.loanId, row.seq, row.dueDate, owedFen, r), loanId: row.loanId, seq: row.seq, amountFen: owedFen });
      }
      const outcomes = await claimAndSend(claims, 'sweep');
      const counts = emptyCounts();
      counts.scanned = rows.length;
      counts.owed = claims.length;
      for (const { outcome } of outcomes.values()) {
        if (outcome === 'sent') counts.sent++;
        else if (outcome === 'duplicate') counts.duplicates++;
        else if (outcome === 'already_sent') counts.alreadySent++;
        else if (outcome === 'rejected') counts.rejected++;
      }
      const last = rows[rows.length - 1];
      return {
        ...counts,
        nextCursor: rows.length === input.pageSize && last ? { dueDate: last.dueDate, loanId: last.loanId, seq: last.seq } : null,
      };
    },

    /**
     * A text the loan-servicing workflow owes: an overdue bucket's SMS (the same reminder row as the
     * sweep's, so whichever comes first sends it), a collateral-registration reminder, or the new
     * instalment after a prepayment.
     */
    async sendServicingReminder(input: ServicingReminderInput): Promise<ServicingReminderResult> {
      let claim: Claim | null = null;
      if ('seq' in input) {
        const [row] = await db
          .select()
          .from(installments)
          .where(and(eq(installments.loanId, input.loanId), eq(installments.seq, input.seq)));
        const r = row ? reminderFor({ dueDate: row.dueDate, totalFen: row.totalFen }, row.paidFen, input.asOfDate) : null;
        if (row && r && textsFor(r)) {
          const owedFen = row.totalFen - row.paidFen;
          claim = { ...instalmentReminderText(row.loanId, row.seq, row.dueDate, owedFen, r), loanId: row.loanId, seq: row.seq, amountFen: owedFen };
        }
      } else if ('scheduleChange' in input) {
        const c = input.scheduleChange;
        claim = { ...scheduleChangeText(input.loanId, c.version, input.asOfDate, c.instalmentFen, c.instalments, c.firstDueDate), loanId: input.loanId, seq: 0, amountFen: c.instalmentFen };
      } else {
        const [loan] = await db
          .select({ outstanding: loans.collateralRegistrationOutstanding, status: loans.status })
          .from(loans)
          .where(eq(loans.id, input.loanId));
        if (loan?.outstanding && loan.status === 'active') {
          claim = { ...collateralReminderText(input.loanId, input.collateralRemindOn), loanId: input.loanId, seq: 0, amountFen: null };
        }
      }
      if (!claim) return { status: 'not_owed', messageId: null, code: null };
      const outcome = (await claimAndSend([claim], 'servicing')).get(claim.messageId);
      return { status: outcome?.outcome ?? 'already_sent', messageId: claim.messageId, code: outcome?.code ?? null };
    },
  };
}
