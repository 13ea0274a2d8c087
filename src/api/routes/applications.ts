import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { validateVin } from '../../domain';
import { writeTogether } from '../../db/client';
import { recordWorkflowSeen, screenApplicant } from '../../db/openApplications';
import { applicants, applications, documents, openApplications, vehicles } from '../../db/schema';
import { newApplicationRows } from '../applicationRows';
import { audit, auditInsert } from '../audit';
import type { ApiContext } from '../context';
import { deterministicUuid } from '../idempotency';
import { defineOperation, type Operation } from '../operation';
import { ProblemError } from '../problem';
import { queueItem, queuePage } from '../workQueue';
import {
  ApplicationDetail,
  ApplicationPage,
  CREATE_APPLICATION_EXAMPLES,
  CreateApplicationBody,
  createApplicationRules,
  CreatedApplication,
  documentUriErrors,
  DuplicateApplicationProblem,
  ListApplicationsQuery,
} from '../schemas/applications';
import { ApplicationIdParams } from '../schemas/common';
import { applicantView, fullFieldsFor, stateView, type ApplicationRow } from '../views';
import { APPLICATION_DETAIL_EXAMPLE, APPLICATION_PAGE_EXAMPLE, CREATED_EXAMPLE, DUPLICATE_APPLICATION_EXAMPLE } from '../schemas/examples';

const TAGS = ['applications'];
const DEFAULT_PAGE = 20;

export async function loadApplication(ctx: ApiContext, id: string): Promise<ApplicationRow> {
  const [row] = await ctx.db.select().from(applications).where(eq(applications.id, id));
  if (!row) throw new ProblemError('not_found', 'No application has this id');
  return row;
}

/** A document as the detail query's json_agg gives it (timestamps as PostgreSQL's JSON text). */
interface DocumentJson {
  id: string;
  type: string;
  uri: string;
  sha256: string;
  ocrStatus: string;
  submittedAt: string;
}

export function applicationOperations(ctx: ApiContext): Operation[] {
  const create = defineOperation({
    operationId: 'createApplication',
    method: 'post',
    path: '/applications',
    summary: 'Submit an application and start its workflow',
    description:
      'Validates the applicant (GB 11643 ID number, mobile number), the vehicle (VIN format; a wrong check digit is accepted and flagged for manual review) and the loan (term 12/24/36/48/60), runs the intake screen (blacklist, an open application of the same person), stores the personal data encrypted, and starts `loan-application-<id>`. The screen\'s verdict is in the answer: a duplicate is 409 naming the open application, a blacklisted applicant 201 with `stage: rejected`. With an Idempotency-Key the same key and body return the same application.',
    tags: TAGS,
    auth: { kind: 'staff', roles: ['officer'] },
    body: CreateApplicationBody,
    bodyRules: createApplicationRules,
    checks: ({ body }) => documentUriErrors(body.documents, ctx.config.DOCUMENT_URI_HOSTS),
    examples: CREATE_APPLICATION_EXAMPLES,
    idempotent: true,
    responses: {
      201: {
        description:
          'Created; Location points at the application. `stage` is `intake`, or `rejected` with `outcomeReason: BLACKLISTED` when the applicant is on the blacklist (the application is kept for the audit trail and the applicant is told)',
        schema: CreatedApplication,
        example: CREATED_EXAMPLE,
        headers: { Location: { description: '/applications/{id}', schema: { type: 'string' } } },
      },
      409: {
        description:
          'The applicant already has an open application (`code: DUPLICATE_APPLICATION`, `openApplicationId` names it; nothing is stored), or a request with this Idempotency-Key is still running',
        schema: DuplicateApplicationProblem,
        example: DUPLICATE_APPLICATION_EXAMPLE,
      },
      503: {
        description: 'Temporal did not start the workflow in time (APPLICATION_START_TIMEOUT_MS): retry after `Retry-After` seconds with the same Idempotency-Key; the application is kept and gets its workflow either way',
      },
    },
    async handle({ staff, body, actId, keyed, log, requestId }) {
      const id = keyed ? deterministicUuid(`application\n${actId}`) : randomUUID();
      const submittedAtMs = Date.now();
      const rows = newApplicationRows(ctx.cipher, { id, body, submittedBy: staff.id, submittedAtMs });
      const { workflowId } = rows.application;
      const { flags, input } = rows;
      const idNumberHash = rows.applicant.idNumberHash;
      const db = ctx.db;

      // The intake screen's verdict before anything is written, so the answer tells it: a listed
      // applicant's application is stored and rejected (the lender's decision has an audit trail and
      // the applicant is told); a person with an open application is claimed by it, and this one
      // is refused with 409 and not stored. The workflow's own screen stays the authority.
      const verdict = await screenApplicant(db, { idNumberHash, applicationId: id, orphanAfterMs: ctx.orphanAfterMs, workflowSeen: false });
      if (!verdict.blacklisted && verdict.holder !== id) throw await duplicateApplication(verdict.holder, staff.id, actId, requestId);
      const blacklisted = verdict.blacklisted;

      // Every row of the application in one statement (atomic, one round trip); each row's key
      // derives from the application id, so a retry with the same Idempotency-Key finds it done.
      const v = body.vehicle;
      const docs = body.documents ?? [];
      await writeTogether(db, [
        db.insert(applicants).values(rows.applicant).onConflictDoNothing(),
        db.insert(applications).values(rows.application).onConflictDoNothing(),
        db.insert(vehicles).values(rows.vehicle).onConflictDoNothing(),
        ...(rows.documents.length > 0 ? [db.insert(documents).values(rows.documents).onConflictDoNothing()] : []),
        auditInsert(db, {
          eventKey: `api:application_created:${id}`,
          applicationId: id,
          kind: 'application_created',
          actor: staff.id,
          stage: 'intake',
          data: { flags, documentTypes: docs.map((d) => d.type), ...(blacklisted ? { screen: 'BLACKLISTED' } : {}) },
          before: null,
          after: {
            stage: 'intake',
            channel: body.channel,
            branchId: body.branchId,
            dealerId: body.dealerId ?? null,
            amountFen: body.loan.amountFen,
            termMonths: body.loan.termMonths,
            repaymentMethod: body.loan.repaymentMethod,
            vehicle: { make: v.make, model: v.model, year: v.year, condition: v.condition, energy: v.energy, usage: v.usage, priceFen: v.priceFen, mileageKm: v.mileageKm },
            monthlyIncomeFen: body.applicant.monthlyIncomeFen,
          },
        }),
      ]);

      // Within the start deadline, or 503: the rows stay, and a retry with the same key or the
      // reconciler gives the application its workflow.
      await ctx.workflows.start(input);
      let holdsClaim = true;
      try {
        holdsClaim = await recordWorkflowSeen(db, id);
      } catch (err) {
        // Only a shortcut: the workflow's first activity records it too.
        log.warn({ applicationId: id, err: (err as Error).message }, 'could not record the started workflow');
      }
      if (!blacklisted && !holdsClaim) {
        // The start took longer than ORPHAN_AFTER_MS and the person was submitted again meanwhile:
        // the newer application holds the claim and this one's screen will reject it.
        const [holder] = await db.select({ applicationId: openApplications.applicationId }).from(openApplications).where(eq(openApplications.idNumberHash, idNumberHash));
        if (holder && holder.applicationId !== id) throw await duplicateApplication(holder.applicationId, staff.id, actId, requestId);
      }
      log.info({ applicationId: id, workflowId, channel: body.channel, flags, screen: blacklisted ? 'blacklisted' : 'clear' }, 'application created');
      const outcome = blacklisted ? { stage: 'rejected' as const, outcomeReason: 'BLACKLISTED' } : { stage: 'intake' as const };
      return { status: 201, headers: { Location: `/applications/${id}` }, body: { id, workflowId, ...outcome, flags } };
    },
  });

  /** The 409 of a person who has an open application, recorded in that application's audit trail. */
  async function duplicateApplication(openApplicationId: string, actor: string, actId: string, requestId: string): Promise<ProblemError> {
    await audit(ctx.db, {
      eventKey: `api:application_refused:${actId}`,
      applicationId: openApplicationId,
      kind: 'application_refused',
      actor,
      data: { code: 'DUPLICATE_APPLICATION', requestId },
    });
    return new ProblemError(
      'duplicate_application',
      `This applicant already has an open application, ${openApplicationId}: act on it, or withdraw it before submitting a new one`,
      { code: 'DUPLICATE_APPLICATION', openApplicationId },
    );
  }

  const list = defineOperation({
    operationId: 'listApplications',
    method: 'get',
    path: '/applications',
    summary: 'Work queues: filter, sort and page the applications',
    description:
      'From PostgreSQL (the workflow mirrors its stage and pending task into the row), so a queue is an index scan, not a visibility query. Filters combine with AND; a repeated or comma-separated filter matches any of its values (`stage=approval&stage=signing`). Each item carries its pending task: the SLA and deadline, whether it escalated or is past its SLA, who claimed it, and for approvals how many are needed, who approved and whether you did. `total` counts every match. No personal data in the list.',
    tags: TAGS,
    auth: { kind: 'staff' },
    query: ListApplicationsQuery,
    responses: { 200: { description: 'One page', schema: ApplicationPage, example: APPLICATION_PAGE_EXAMPLE } },
    async handle({ query, staff }) {
      const page = await queuePage(ctx.db, staff, query, DEFAULT_PAGE);
      return { status: 200, body: { items: page.rows.map((r) => queueItem(r, staff)), total: page.total, nextCursor: page.nextCursor } };
    },
  });

  const get = defineOperation({
    operationId: 'getApplication',
    method: 'get',
    path: '/applications/:id',
    summary: 'The application with its live workflow state',
    description:
      'Personal data is masked unless your role needs the full value (the verifier sees name and phone); every full read is recorded in loan_events. When the workflow cannot answer, `live` is false and the stored stage is shown.',
    tags: TAGS,
    auth: { kind: 'staff' },
    params: ApplicationIdParams,
    responses: {
      200: { description: 'The application', schema: ApplicationDetail, example: APPLICATION_DETAIL_EXAMPLE },
      404: { description: 'No application has this id' },
    },
    async handle({ staff, params, requestId }) {
      // The application, its applicant, vehicle and documents in one round trip; then the live state.
      const [found] = await ctx.db
        .select({
          row: applications,
          applicant: applicants,
          vehicle: vehicles,
          docs: sql<DocumentJson[]>`coalesce((
            select json_agg(json_build_object('id', ${documents.id}, 'type', ${documents.type}, 'uri', ${documents.uri}, 'sha256', ${documents.sha256},
              'ocrStatus', ${documents.ocrStatus}, 'submittedAt', ${documents.submittedAt}) order by ${documents.submittedAt}, ${documents.id})
            from ${documents} where ${documents.applicationId} = ${applications.id}), '[]'::json)`,
        })
        .from(applications)
        .innerJoin(applicants, eq(applicants.id, applications.applicantId))
        .leftJoin(vehicles, eq(vehicles.applicationId, applications.id))
        .where(eq(applications.id, params.id));
      if (!found) throw new ProblemError('not_found', 'No application has this id');
      const { row, applicant, vehicle, docs } = found;
      const state = await ctx.workflows.state(row.workflowId);
      if (!vehicle) throw new ProblemError('internal', 'The application record is incomplete');
      const full = fullFieldsFor(staff);
      const view = applicantView(
        {
          name: ctx.cipher.decrypt(applicant.nameEnc),
          idNumber: ctx.cipher.decrypt(applicant.idNumberEnc),
          phone: ctx.cipher.decrypt(applicant.phoneEnc),
          monthlyIncomeFen: applicant.monthlyIncomeFen,
        },
        full,
      );
      const s = stateView(row, state);
      if (full.size > 0) {
        // Recorded before the answer leaves: no full read of personal data goes unaudited.
        await audit(ctx.db, {
          applicationId: row.id,
          kind: 'pii_read',
          actor: staff.id,
          stage: s.stage,
          data: { fields: [...full].sort(), roles: [...staff.roles].sort(), requestId },
        });
      }
      const body = {
        ...s,
        channel: row.channel,
        branchId: row.branchId,
        dealerId: row.dealerId,
        submittedBy: row.submittedBy,
        createdAt: row.createdAt.toISOString(),
        loan: { amountFen: row.amountFen, termMonths: row.termMonths, repaymentMethod: row.repaymentMethod },
        applicant: view,
        vehicle: {
          vin: vehicle.vin,
          make: vehicle.make,
          model: vehicle.model,
          year: vehicle.year,
          condition: vehicle.condition,
          energy: vehicle.energy,
          usage: vehicle.usage,
          priceFen: vehicle.priceFen,
          mileageKm: vehicle.mileageKm,
          firstRegistrationDate: vehicle.firstRegistrationDate,
        },
        documents: docs.map((d) => ({ id: d.id, type: d.type, uri: d.uri, sha256: d.sha256, ocrStatus: d.ocrStatus, submittedAt: new Date(d.submittedAt).toISOString() })),
      };
      return { status: 200, body };
    },
  });

  return [create, list, get];
}
