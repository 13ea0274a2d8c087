import { and, asc, eq, gt } from 'drizzle-orm';
import { applicants, loanEvents } from '../../db/schema';
import type { PendingTaskKind } from '../../workflows/messages';
import { assertRole } from '../auth';
import { audit } from '../audit';
import type { ApiContext } from '../context';
import { defineOperation, type Operation } from '../operation';
import { ProblemError } from '../problem';
import { ApplicationPage, ClaimResult, EscalationsQuery, LoanEventPage, LoanEventsQuery } from '../schemas/applications';
import { ApplicationIdParams } from '../schemas/common';
import { APPLICATION_PAGE_EXAMPLE, CLAIM_EXAMPLE, EVENTS_EXAMPLE, RELEASE_EXAMPLE } from '../schemas/examples';
import { eventView, fullFieldsFor } from '../views';
import { claimTask, claimView, CLAIM_OVERRIDE_ROLES, DEFAULT_CLAIM_MINUTES, queueItem, queuePage, releaseTask, TASK_ROLE } from '../workQueue';
import { loadApplication } from './applications';

const DEFAULT_EVENTS_PAGE = 50;

export function workQueueOperations(ctx: ApiContext): Operation[] {
  const claimMinutes = ctx.config.TASK_CLAIM_MINUTES ?? DEFAULT_CLAIM_MINUTES;

  const escalations = defineOperation({
    operationId: 'listEscalations',
    method: 'get',
    path: '/escalations',
    summary: "The supervisor's queue: open tasks that passed their SLA, most overdue first",
    description:
      'Every pending task the workflow escalated at its SLA (phone verification, approval) and nobody has completed yet, oldest SLA first, with who claimed it. A supervisor releases a claim that blocks the queue (`POST /applications/{id}/release`) and may act on a task someone else claimed.',
    tags: ['work queues'],
    auth: { kind: 'staff', roles: CLAIM_OVERRIDE_ROLES },
    query: EscalationsQuery,
    responses: { 200: { description: 'One page', schema: ApplicationPage, example: APPLICATION_PAGE_EXAMPLE } },
    async handle({ query, staff }) {
      const page = await queuePage(ctx.db, staff, { ...query, escalated: true, sort: 'slaAt' }, 20);
      return { status: 200, body: { items: page.rows.map((r) => queueItem(r, staff)), total: page.total, nextCursor: page.nextCursor } };
    },
  });

  const claim = defineOperation({
    operationId: 'claimTask',
    method: 'post',
    path: '/applications/:id/claim',
    summary: 'Claim the pending task: it is yours until you release it, act on it, or the claim lapses',
    description: `Takes the application's pending task for you for ${claimMinutes} minutes (TASK_CLAIM_MINUTES); claiming again renews it. While it is yours, another person's act on the task is refused with 409 naming you (a supervisor or admin may still act). Needs the task's role (verifier for phone verification, approver for approval, officer for documents, signature and collateral). 409 when someone else holds it, when nothing is pending, or when you already approved this application (four eyes need someone else).`,
    tags: ['work queues'],
    auth: { kind: 'staff' },
    params: ApplicationIdParams,
    idempotent: true,
    responses: {
      200: { description: 'Claimed (or renewed)', schema: ClaimResult, example: CLAIM_EXAMPLE },
      403: { description: 'Your roles do not include the task\'s, or you submitted this application' },
      404: { description: 'No application has this id' },
      409: { description: 'Someone else holds the claim (`claimedBy`), nothing is pending, or you already approved' },
    },
    async handle({ staff, params }) {
      const row = await loadApplication(ctx, params.id);
      const kind = row.pendingTask && row.pendingTask !== 'none' ? (row.pendingTask as PendingTaskKind) : null;
      if (!kind) throw new ProblemError('not_waiting', `The application is in ${row.stage} and has no pending task to claim`, { stage: row.stage });
      assertRole(staff, [TASK_ROLE[kind]]);
      if (kind === 'approval') {
        if (row.submittedBy.trim().toLowerCase() === staff.id.trim().toLowerCase()) {
          throw new ProblemError('four_eyes', 'You submitted this application: you take no part in deciding it', { code: 'SUBMITTER_CANNOT_APPROVE', stage: row.stage });
        }
        if ((row.approvedBy ?? []).includes(staff.id)) {
          throw new ProblemError('already_approved', 'You have approved this application already: a second approver is needed', { code: 'ALREADY_APPROVED_BY_THIS_APPROVER', stage: row.stage });
        }
      }
      const taken = await claimTask(ctx.db, row, staff, claimMinutes);
      await audit(ctx.db, { applicationId: row.id, kind: 'task_claimed', actor: staff.id, stage: row.stage, data: { task: kind, ...claimView(taken) } });
      return { status: 200, body: { applicationId: row.id, task: kind, claim: claimView(taken) } };
    },
  });

  const release = defineOperation({
    operationId: 'releaseTask',
    method: 'post',
    path: '/applications/:id/release',
    summary: 'Release the claim on the pending task (yours; a supervisor or admin: anyone\'s)',
    description: 'The task goes back to its queue. Releasing when nobody holds a claim answers `claim: null`.',
    tags: ['work queues'],
    auth: { kind: 'staff' },
    params: ApplicationIdParams,
    idempotent: true,
    responses: {
      200: { description: 'Released (claim is what was released, or null)', schema: ClaimResult, example: RELEASE_EXAMPLE },
      404: { description: 'No application has this id' },
      409: { description: 'Someone else holds the claim and you are not a supervisor' },
    },
    async handle({ staff, params }) {
      const row = await loadApplication(ctx, params.id);
      const released = await releaseTask(ctx.db, row, staff);
      if (released) {
        await audit(ctx.db, {
          applicationId: row.id,
          kind: 'task_released',
          actor: staff.id,
          stage: row.stage,
          data: { task: released.taskKind, claimedBy: released.claimedBy, byOther: released.claimedBy !== staff.id },
        });
      }
      return { status: 200, body: { applicationId: row.id, task: (row.pendingTask as PendingTaskKind | null) ?? null, claim: released ? claimView(released) : null } };
    },
  });

  const events = defineOperation({
    operationId: 'listApplicationEvents',
    method: 'get',
    path: '/applications/:id/events',
    summary: 'The audit trail: every stage change, act, refusal, claim and read of personal data',
    description:
      "From loan_events, oldest first. What staff wrote is included for the roles that need it: phone-verification `notes` for verifiers, approvers and supervisors; decision `comment`s for approvers, officers (what information is requested) and supervisors; withdrawal `reason`s for officers, approvers and supervisors; admins see all. Anything else is null and named in `withheld`. Personal data is masked as in `GET /applications/{id}`, in free text too.",
    tags: ['applications'],
    auth: { kind: 'staff' },
    params: ApplicationIdParams,
    query: LoanEventsQuery,
    responses: {
      200: { description: 'One page of the trail', schema: LoanEventPage, example: EVENTS_EXAMPLE },
      404: { description: 'No application has this id' },
    },
    async handle({ staff, params, query }) {
      const row = await loadApplication(ctx, params.id);
      const limit = query.limit ?? DEFAULT_EVENTS_PAGE;
      const after = query.cursor ? Number(query.cursor) : 0;
      const [rows, [applicant]] = await Promise.all([
        ctx.db
          .select()
          .from(loanEvents)
          .where(and(eq(loanEvents.applicationId, row.id), gt(loanEvents.seq, after)))
          .orderBy(asc(loanEvents.seq))
          .limit(limit + 1),
        ctx.db.select().from(applicants).where(eq(applicants.id, row.applicantId)),
      ]);
      const personal = applicant
        ? { name: ctx.cipher.decrypt(applicant.nameEnc), idNumber: ctx.cipher.decrypt(applicant.idNumberEnc), phone: ctx.cipher.decrypt(applicant.phoneEnc) }
        : null;
      const page = rows.slice(0, limit);
      const full = fullFieldsFor(staff);
      return {
        status: 200,
        body: {
          applicationId: row.id,
          items: page.map((e) => eventView(e, staff, personal, full)),
          nextCursor: rows.length > limit ? String(page[page.length - 1]!.seq) : null,
        },
      };
    },
  });

  return [escalations, claim, release, events];
}
