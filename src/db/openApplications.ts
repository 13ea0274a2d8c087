import { and, eq, isNull, sql, type SQLWrapper } from 'drizzle-orm';
import { OPEN_APPLICATION_STAGES } from '../domain';
import { rowsOf, type Db } from './client';
import { applications, blacklist, openApplications } from './schema';

/**
 * The duplicate screen (SPEC §2, intake) as one row per person in `open_applications`: the
 * application holding a person's claim is the one that may be open; any other application of the
 * same person is the duplicate. The claim is the linearisation point, so two submissions racing
 * for one person cannot both win, and a check and its effect are one statement.
 *
 * An application whose workflow nobody has seen (its API died between the commit and the start,
 * or Temporal did not answer) must not block the person: once its claim is older than
 * `orphanAfterMs` and still unconfirmed, the next claim takes it over. The orphan still gets its
 * workflow (the reconciler starts it), whose own screen then finds the claim held by the newer
 * application and rejects it as DUPLICATE_APPLICATION: never two open applications for one person.
 * The confirmation (`workflow_seen_at`) and the takeover lock the same row, so a claim whose
 * workflow was seen is never taken over. This module is the one writer of the table.
 */

const OPEN = sql.join(
  OPEN_APPLICATION_STAGES.map((s) => sql`${s}`),
  sql`, `,
);

export interface ClaimRequest {
  /** The keyed hash of the ID number (`cipher.lookupHash('id_number', …)`). */
  idNumberHash: string;
  applicationId: string;
  /** How long an unconfirmed claim protects its holder (ORPHAN_AFTER_MS). */
  orphanAfterMs: number;
  /** The caller is the application's running workflow: the claim is confirmed at once. */
  workflowSeen: boolean;
}

/**
 * Blacklisted (no claim is taken for a listed applicant), or the application holding the person's
 * claim afterwards: the caller's id when it holds it.
 */
export type ScreenVerdict = { blacklisted: true; holder: null } | { blacklisted: false; holder: string };

/**
 * The intake screen in one statement: is the person on the blacklist, and if not, claims the
 * person for `applicationId` (or finds the claim its own already, or takes over an orphan's or a
 * finished application's claim). A holder other than the caller makes the caller the duplicate.
 */
export async function screenApplicant(db: Db, c: ClaimRequest): Promise<ScreenVerdict> {
  const seen = c.workflowSeen ? sql`now()` : sql`null::timestamptz`;
  for (let attempt = 0; ; attempt++) {
    const result = await db.execute(sql`
      with listed as (
        select 1 from ${blacklist} where id_number_hash = ${c.idNumberHash}
      ), claim as (
        insert into ${openApplications} as t (id_number_hash, application_id, workflow_seen_at)
        select ${c.idNumberHash}, ${c.applicationId}, ${seen} where not exists (select 1 from listed)
        on conflict (id_number_hash) do update set
          application_id = excluded.application_id,
          claimed_at = case when t.application_id = excluded.application_id then t.claimed_at else now() end,
          workflow_seen_at = case when t.application_id = excluded.application_id
            then coalesce(t.workflow_seen_at, excluded.workflow_seen_at) else excluded.workflow_seen_at end
        -- Evaluated on the locked, latest version of the row: a confirmation that committed first wins.
        where t.application_id = excluded.application_id
           or (t.workflow_seen_at is null and t.claimed_at < now() - make_interval(secs => ${c.orphanAfterMs / 1000}))
           or exists (select 1 from ${applications} h where h.id = t.application_id and h.stage not in (${OPEN}))
        returning application_id
      )
      select exists (select 1 from listed) as blacklisted, (select application_id from claim) as claimed`);
    const row = rowsOf<{ blacklisted: boolean; claimed: string | null }>(result)[0];
    if (row?.blacklisted) return { blacklisted: true, holder: null };
    if (row?.claimed) return { blacklisted: false, holder: row.claimed };
    const [holder] = await db.select({ applicationId: openApplications.applicationId }).from(openApplications).where(eq(openApplications.idNumberHash, c.idNumberHash));
    if (holder) return { blacklisted: false, holder: holder.applicationId };
    // Released between the two statements: claim again (it is free now).
    if (attempt >= 3) throw new Error('the open-application claim kept changing hands');
  }
}

/**
 * Records that the application's workflow exists (the caller started it, or found it started):
 * the application is no longer an orphan and its claim, if it still holds one, is never taken
 * over. Answers whether the application holds its person's claim (false: it lost it to a newer
 * application while its workflow was being started, or it never had one).
 */
export async function recordWorkflowSeen(db: Db, applicationId: string): Promise<boolean> {
  const result = await db.execute(sql`
    with claim as (
      update ${openApplications} set workflow_seen_at = coalesce(workflow_seen_at, now())
      where application_id = ${applicationId} returning 1
    ), started as (
      update ${applications} set workflow_started_at = coalesce(workflow_started_at, now())
      where id = ${applicationId} and workflow_started_at is null returning 1
    )
    select (select count(*) from claim)::int as held`);
  return (rowsOf<{ held: number }>(result)[0]?.held ?? 0) > 0;
}

/**
 * What the workflow's stage mirror writes beside the applications row: in an open stage the claim
 * is confirmed (the workflow exists), past origination it is released.
 */
export function claimMirrorWrite(db: Db, applicationId: string, stage: string): SQLWrapper {
  const open = (OPEN_APPLICATION_STAGES as readonly string[]).includes(stage);
  return open
    ? db
        .update(openApplications)
        .set({ workflowSeenAt: sql`now()` })
        .where(and(eq(openApplications.applicationId, applicationId), isNull(openApplications.workflowSeenAt)))
    : db.delete(openApplications).where(eq(openApplications.applicationId, applicationId));
}
