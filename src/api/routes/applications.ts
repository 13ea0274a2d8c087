import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { validateVin } from '../../domain';
import { writeTogether } from '../../db/client';
import { applicants, applications, documents, vehicles } from '../../db/schema';
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
  ListApplicationsQuery,
} from '../schemas/applications';
import { ApplicationIdParams } from '../schemas/common';
import { applicantView, fullFieldsFor, stateView, type ApplicationRow } from '../views';
import { APPLICATION_DETAIL_EXAMPLE, APPLICATION_PAGE_EXAMPLE, CREATED_EXAMPLE } from '../schemas/examples';

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
      'Validates the applicant (GB 11643 ID number, mobile number), the vehicle (VIN format; a wrong check digit is accepted and flagged for manual review) and the loan (term 12/24/36/48/60), stores the personal data encrypted, and starts `loan-application-<id>`. With an Idempotency-Key the same key and body return the same application.',
    tags: TAGS,
    auth: { kind: 'staff', roles: ['officer'] },
    body: CreateApplicationBody,
    bodyRules: createApplicationRules,
    checks: ({ body }) => documentUriErrors(body.documents, ctx.config.DOCUMENT_URI_HOSTS),
    examples: CREATE_APPLICATION_EXAMPLES,
    idempotent: true,
    responses: {
      201: {
        description: 'Created; Location points at the application',
        schema: CreatedApplication,
        example: CREATED_EXAMPLE,
        headers: { Location: { description: '/applications/{id}', schema: { type: 'string' } } },
      },
    },
    async handle({ staff, body, actId, keyed, log }) {
      const id = keyed ? deterministicUuid(`application\n${actId}`) : randomUUID();
      const rows = newApplicationRows(ctx.cipher, { id, body, submittedBy: staff.id, submittedAtMs: Date.now() });
      const { workflowId } = rows.application;
      const { flags, input } = rows;

      // Every row of the application in one statement (atomic, one round trip); each row's key
      // derives from the application id, so a retry with the same Idempotency-Key finds it done.
      const db = ctx.db;
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
          data: { flags, documentTypes: docs.map((d) => d.type) },
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

      await ctx.workflows.start(input);
      log.info({ applicationId: id, workflowId, channel: body.channel, flags }, 'application created');
      return { status: 201, headers: { Location: `/applications/${id}` }, body: { id, workflowId, stage: 'intake', flags } };
    },
  });

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
