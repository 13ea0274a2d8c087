import { and, asc, desc, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client';
import { applications, taskClaims } from '../db/schema';
import type { PendingTaskKind, StaffRole } from '../workflows/messages';
import type { Staff } from './auth';
import { ProblemError, validationProblem } from './problem';
import type { ApplicationRow } from './views';

/**
 * Work queues over the applications rows (the workflow's mirror): filters, sorts with keyset
 * cursors, a total, and claims. A claim makes a pending task one person's until they release it,
 * it lapses (TASK_CLAIM_MINUTES) or the workflow moves on (a claim belongs to one task instance:
 * its kind and since). While a task is claimed, another person's act on it is refused with 409
 * naming the claimant, unless they are a supervisor or an admin.
 */
export const TASK_ROLE: Readonly<Record<PendingTaskKind, StaffRole>> = {
  submit_documents: 'officer',
  phone_verification: 'verifier',
  approval: 'approver',
  sign_contract: 'officer',
  register_collateral: 'officer',
};

/** The acts (as the audit trail names them) that complete a pending task of this kind. */
export const ACT_TASK: Readonly<Record<string, PendingTaskKind>> = {
  documents_submitted: 'submit_documents',
  phone_verification_completed: 'phone_verification',
  approval_decision: 'approval',
  contract_signed: 'sign_contract',
  collateral_registered: 'register_collateral',
};

/** Roles that may act on or release a task someone else has claimed. */
export const CLAIM_OVERRIDE_ROLES: readonly StaffRole[] = ['supervisor', 'admin'];
export const DEFAULT_CLAIM_MINUTES = 30;

export const overridesClaims = (staff: Staff) => CLAIM_OVERRIDE_ROLES.some((r) => staff.roles.has(r));

/** The claim that applies to the row's current pending task: same kind, same since, not lapsed. */
const claimApplies = sql`${taskClaims.expiresAt} > now() and ${taskClaims.taskKind} = ${applications.pendingTask} and ${taskClaims.taskSince} is not distinct from ${applications.pendingSince}`;

export type ClaimRow = typeof taskClaims.$inferSelect;

export async function activeClaim(db: Db, applicationId: string): Promise<ClaimRow | null> {
  const [found] = await db
    .select({ claim: taskClaims })
    .from(taskClaims)
    .innerJoin(applications, eq(applications.id, taskClaims.applicationId))
    .where(and(eq(taskClaims.applicationId, applicationId), claimApplies));
  return found?.claim ?? null;
}

export function claimView(c: ClaimRow) {
  return { claimedBy: c.claimedBy, claimedAt: c.claimedAt.toISOString(), expiresAt: c.expiresAt.toISOString() };
}

export function claimedByOther(c: ClaimRow, stage: string): ProblemError {
  return new ProblemError('task_claimed', `${c.claimedBy} is working on this task (claimed until ${c.expiresAt.toISOString()}); ask them to release it, or a supervisor`, {
    code: 'TASK_CLAIMED',
    stage,
    ...claimView(c),
  });
}

/**
 * Claims (or renews) the row's pending task for `staff`, atomically: one statement takes a free,
 * lapsed or stale claim and leaves anyone else's live one alone.
 */
export async function claimTask(db: Db, row: ApplicationRow, staff: Staff, minutes: number, retried = false): Promise<ClaimRow> {
  const kind = row.pendingTask as PendingTaskKind;
  const expiresAt = new Date(Date.now() + minutes * 60_000);
  const since = sql`${row.pendingSince?.toISOString() ?? null}::timestamptz`;
  const taken = await db
    .insert(taskClaims)
    .values({ applicationId: row.id, taskKind: kind, taskSince: row.pendingSince, claimedBy: staff.id, expiresAt })
    .onConflictDoUpdate({
      target: taskClaims.applicationId,
      set: { taskKind: kind, taskSince: row.pendingSince, claimedBy: staff.id, claimedAt: sql`now()`, expiresAt },
      setWhere: sql`${taskClaims.claimedBy} = ${staff.id} or ${taskClaims.expiresAt} <= now() or ${taskClaims.taskKind} <> ${kind} or ${taskClaims.taskSince} is distinct from ${since}`,
    })
    .returning();
  if (taken[0]) return taken[0];
  const holder = await activeClaim(db, row.id);
  if (holder) throw claimedByOther(holder, row.stage);
  // The holder's claim lapsed (or the task moved on) between the two statements: try once more.
  if (!retried) return claimTask(db, row, staff, minutes, true);
  throw new ProblemError('not_waiting', 'The task changed while it was being claimed; read the application again', { stage: row.stage });
}

/** Releases the claim: the claimant's own, or anyone's for a supervisor. Null when there was none. */
export async function releaseTask(db: Db, row: ApplicationRow, staff: Staff): Promise<ClaimRow | null> {
  const current = await activeClaim(db, row.id);
  if (current && current.claimedBy !== staff.id && !overridesClaims(staff)) {
    throw new ProblemError('task_claimed', `${current.claimedBy} holds this claim: only they or a supervisor may release it`, { code: 'TASK_CLAIMED', stage: row.stage, ...claimView(current) });
  }
  const [gone] = await db.delete(taskClaims).where(eq(taskClaims.applicationId, row.id)).returning();
  return current ? (gone ?? current) : null;
}

/** After an accepted act: the actor's claim on the application is done with. */
/** A select's join of the claim on the application's current task (left-join it after `applications`). */
export const claimOnTask = and(eq(taskClaims.applicationId, applications.id), claimApplies);

/** Drops `staffId`'s claim; unawaited, to write alone or with the act's audit row. */
export function dropClaimWrite(db: Db, applicationId: string, staffId: string) {
  return db.delete(taskClaims).where(and(eq(taskClaims.applicationId, applicationId), eq(taskClaims.claimedBy, staffId)));
}

export async function dropClaimOf(db: Db, applicationId: string, staffId: string): Promise<void> {
  await dropClaimWrite(db, applicationId, staffId);
}

// ---------------------------------------------------------------------------------------------
// The list

export const QUEUE_SORTS = ['createdAt', '-createdAt', 'slaAt', '-slaAt', 'deadline', '-deadline', 'pendingSince', '-pendingSince', 'amountFen', '-amountFen'] as const;
export type QueueSort = (typeof QUEUE_SORTS)[number];

export interface QueueFilters {
  stage?: string[] | undefined;
  pendingTask?: string[] | undefined;
  branchId?: string[] | undefined;
  riskGrade?: string[] | undefined;
  escalated?: boolean | undefined;
  slaBreached?: boolean | undefined;
  /** A staff id, `me`, or `none` (nobody has claimed it). */
  assignee?: string | undefined;
  /** A staff id or `me`: applications this approver has approved (four eyes: waiting for someone else). */
  approvedBy?: string | undefined;
  sort?: QueueSort | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

type SortSpec = { expr: SQL; kind: 'time' | 'int'; dir: 'asc' | 'desc' };

function sortSpec(sort: QueueSort): SortSpec {
  const dir = sort.startsWith('-') ? 'desc' : 'asc';
  // A task without an SLA (or no task) sorts last whichever way.
  const last = dir === 'asc' ? sql`'infinity'::timestamptz` : sql`'-infinity'::timestamptz`;
  switch (sort.replace(/^-/, '')) {
    case 'slaAt':
      return { expr: sql`coalesce(${applications.slaAt}, ${last})`, kind: 'time', dir };
    case 'deadline':
      return { expr: sql`coalesce(${applications.deadlineAt}, ${last})`, kind: 'time', dir };
    case 'pendingSince':
      return { expr: sql`coalesce(${applications.pendingSince}, ${last})`, kind: 'time', dir };
    case 'amountFen':
      return { expr: sql`${applications.amountFen}`, kind: 'int', dir };
    default:
      return { expr: sql`${applications.createdAt}`, kind: 'time', dir };
  }
}

interface Cursor {
  /** The sort it belongs to. */
  s: string;
  /** The sort key as PostgreSQL prints it. */
  v: string;
  i: string;
}

/** A timestamptz as PostgreSQL prints it, e.g. `2026-11-22 18:50:01.123456+00`, checked to be a real instant. */
const PG_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;
function isPgTime(v: string): boolean {
  if (v === 'infinity' || v === '-infinity') return true;
  const m = PG_TIME.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60;
}

const badCursor = () => validationProblem([{ pointer: '#/cursor', in: 'query', code: 'invalid_cursor', message: 'is not a cursor this API gave out for this sort' }]);

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

function decodeCursor(text: string, sort: QueueSort, kind: SortSpec['kind']): Cursor {
  let value: Partial<Cursor>;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    throw badCursor();
  }
  if (value?.s !== sort || typeof value.v !== 'string' || typeof value.i !== 'string' || value.i.length > 128) throw badCursor();
  if (kind === 'time' ? !isPgTime(value.v) : !/^\d{1,16}$/.test(value.v)) throw badCursor();
  return { s: value.s, v: value.v, i: value.i };
}

export interface QueueRow {
  row: ApplicationRow;
  sortText: string;
  claim: { claimedBy: string; claimedAt: Date; expiresAt: Date } | null;
  slaBreached: boolean;
}

/** One page of the queue and the total of the filters (the cursor does not change the total). */
export async function queuePage(db: Db, staff: Staff, f: QueueFilters, defaultLimit: number): Promise<{ rows: QueueRow[]; total: number; nextCursor: string | null }> {
  const limit = f.limit ?? defaultLimit;
  const sort = f.sort ?? 'createdAt';
  const spec = sortSpec(sort);
  const who = (v: string) => (v === 'me' ? staff.id : v);
  const breached = sql<boolean>`(${applications.pendingTask} is not null and ${applications.slaAt} is not null and ${applications.slaAt} < now())`;

  const where: SQL[] = [];
  if (f.stage?.length) where.push(inArray(applications.stage, f.stage));
  if (f.pendingTask?.length) {
    const kinds = f.pendingTask.filter((k) => k !== 'none');
    const parts: SQL[] = [];
    if (kinds.length) parts.push(inArray(applications.pendingTask, kinds));
    if (f.pendingTask.includes('none')) parts.push(or(isNull(applications.pendingTask), eq(applications.pendingTask, 'none')) as SQL);
    where.push(or(...parts) as SQL);
  }
  if (f.branchId?.length) where.push(inArray(applications.branchId, f.branchId));
  if (f.riskGrade?.length) where.push(inArray(applications.riskGrade, f.riskGrade));
  if (f.escalated !== undefined) where.push(and(eq(applications.escalated, f.escalated), sql`${applications.pendingTask} is not null`) as SQL);
  if (f.slaBreached !== undefined) where.push(f.slaBreached ? breached : sql`not ${breached}`);
  if (f.assignee) where.push(sql`${applications.pendingTask} is not null`);
  if (f.assignee === 'none') where.push(isNull(taskClaims.claimedBy));
  else if (f.assignee) where.push(eq(taskClaims.claimedBy, who(f.assignee)));
  if (f.approvedBy) where.push(sql`${applications.approvedBy} @> jsonb_build_array(${who(f.approvedBy)}::text)`);

  const filtered = where.length > 0 ? and(...where) : undefined;
  const page: SQL[] = filtered ? [filtered] : [];
  if (f.cursor) {
    const c = decodeCursor(f.cursor, sort, spec.kind);
    const cast = spec.kind === 'time' ? sql`${c.v}::timestamptz` : sql`${c.v}::bigint`;
    page.push(spec.dir === 'asc' ? sql`(${spec.expr}, ${applications.id}) > (${cast}, ${c.i})` : sql`(${spec.expr}, ${applications.id}) < (${cast}, ${c.i})`);
  }
  const claimJoin = and(eq(taskClaims.applicationId, applications.id), claimApplies);
  const order = spec.dir === 'asc' ? [asc(spec.expr), asc(applications.id)] : [desc(spec.expr), desc(applications.id)];

  const [rows, [counted]] = await Promise.all([
    db
      .select({
        row: applications,
        sortText: sql<string>`(${spec.expr})::text`,
        claimedBy: taskClaims.claimedBy,
        claimedAt: taskClaims.claimedAt,
        expiresAt: taskClaims.expiresAt,
        slaBreached: breached,
      })
      .from(applications)
      .leftJoin(taskClaims, claimJoin)
      .where(page.length > 0 ? and(...page) : undefined)
      .orderBy(...order)
      .limit(limit + 1),
    db.select({ n: sql<number>`count(*)::int` }).from(applications).leftJoin(taskClaims, claimJoin).where(filtered),
  ]);
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return {
    rows: shown.map((r) => ({
      row: r.row,
      sortText: r.sortText,
      claim: r.claimedBy && r.claimedAt && r.expiresAt ? { claimedBy: r.claimedBy, claimedAt: new Date(r.claimedAt), expiresAt: new Date(r.expiresAt) } : null,
      slaBreached: Boolean(r.slaBreached),
    })),
    total: Number(counted?.n ?? 0),
    nextCursor: rows.length > limit && last ? encodeCursor({ s: sort, v: last.sortText, i: last.row.id }) : null,
  };
}

/** One work-queue item: no personal data; the task with its clock, claim and four-eyes progress. */
export function queueItem(q: QueueRow, staff: Staff) {
  const row = q.row;
  const kind = row.pendingTask && row.pendingTask !== 'none' ? (row.pendingTask as PendingTaskKind) : null;
  const approvedBy = Array.isArray(row.approvedBy) ? row.approvedBy : [];
  return {
    id: row.id,
    workflowId: row.workflowId,
    stage: row.stage,
    pendingTask: kind,
    task: kind
      ? {
          kind,
          role: TASK_ROLE[kind] ?? null,
          since: row.pendingSince?.toISOString() ?? null,
          slaAt: row.slaAt?.toISOString() ?? null,
          deadline: row.deadlineAt?.toISOString() ?? null,
          escalated: row.escalated,
          slaBreached: q.slaBreached,
          claim: q.claim ? { claimedBy: q.claim.claimedBy, claimedAt: q.claim.claimedAt.toISOString(), expiresAt: q.claim.expiresAt.toISOString() } : null,
          approvals:
            kind === 'approval' && row.approvalsNeeded !== null
              ? { needed: row.approvalsNeeded, given: approvedBy.length, approvedBy: [...approvedBy], approvedByMe: approvedBy.includes(staff.id) }
              : null,
        }
      : null,
    channel: row.channel,
    branchId: row.branchId,
    dealerId: row.dealerId,
    amountFen: row.amountFen,
    termMonths: row.termMonths,
    riskGrade: row.riskGrade,
    loanId: row.loanId,
    submittedBy: row.submittedBy,
    createdAt: row.createdAt.toISOString(),
  };
}
