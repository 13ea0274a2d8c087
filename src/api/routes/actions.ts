import { randomUUID } from 'node:crypto';
import type { UpdateDefinition } from '@temporalio/common';
import { and, eq, inArray } from 'drizzle-orm';
import type { z } from 'zod';
import type { LoanEventKind } from '../../contracts/loanEvents';
import { documents } from '../../db/schema';
import {
  approvalDecisionUpdate,
  collateralRegisteredUpdate,
  contractSignedUpdate,
  documentsSubmittedUpdate,
  phoneVerificationCompletedUpdate,
  withdrawUpdate,
  type LoanState,
  type StaffRole,
} from '../../workflows/messages';
import type { Staff } from '../auth';
import { audit } from '../audit';
import type { ApiContext } from '../context';
import { deterministicUuid } from '../idempotency';
import { defineOperation, type Example, type Operation, type OperationResult } from '../operation';
import { ProblemError, type FieldError } from '../problem';
import {
  ACTION_EXAMPLES,
  CollateralRegistrationBody,
  DecisionBody,
  decisionRules,
  PhoneVerificationBody,
  SignatureBody,
  SubmitDocumentsBody,
  WithdrawBody,
} from '../schemas/actions';
import { ApplicationState, documentUriErrors } from '../schemas/applications';
import { ApplicationIdParams } from '../schemas/common';
import { auditSnapshot, stateView, type ApplicationRow } from '../views';
import { loadApplication } from './applications';

const TAGS = ['actions'];

export interface ActRequest<A> {
  row: ApplicationRow;
  /** The act's kind in the audit trail (`documents_submitted`, `approval_decision`, ...). */
  act: LoanEventKind;
  actor: string;
  actId: string;
  update: UpdateDefinition<LoanState, [A]>;
  arg: A;
  /** What the audit trail keeps beside the act: codes, refs and the free text staff typed. */
  data?: Record<string, unknown>;
}

/**
 * Sends one act to the workflow and writes the audit entry: accepted (200 with the state, 202
 * while the handler still runs) or refused (the problem of the refusal, audited too).
 */
export async function runAct<A>(ctx: ApiContext, r: ActRequest<A>): Promise<OperationResult> {
  const before = auditSnapshot(r.row);
  let outcome;
  try {
    outcome = await ctx.workflows.act(r.row.workflowId, r.update, r.arg, r.actId);
  } catch (err) {
    if (err instanceof ProblemError && typeof err.extensions.code === 'string') {
      await audit(ctx.db, {
        // One row per act and refusal: a retry refused the same way adds nothing, a changed answer (the
        // key is not kept for refusals, so a retry is judged afresh) is recorded beside the first.
        eventKey: `api:${r.act}:refused:${err.extensions.code}:${r.actId}`,
        applicationId: r.row.id,
        kind: 'act_refused',
        actor: r.actor,
        stage: (err.extensions.stage as string | undefined) ?? r.row.stage,
        data: { act: r.act, code: err.extensions.code, ...r.data },
        before,
      });
    }
    throw err;
  }
  const view = stateView(r.row, outcome.state);
  await audit(ctx.db, {
    eventKey: `api:${r.act}:${r.actId}`,
    applicationId: r.row.id,
    kind: r.act,
    actor: r.actor,
    stage: view.stage,
    data: { act: r.act, outcome: outcome.kind, ...r.data },
    before,
    after: outcome.state ? auditSnapshot(outcome.state) : null,
  });
  return { status: outcome.kind === 'accepted' ? 202 : 200, body: view };
}

/**
 * One act of staff on an application: its route, who may make it, its body, and how the body
 * becomes the workflow's act and the audit trail's entry. Every act route is this shape; the table
 * below lists them.
 */
interface ActRoute<B extends z.ZodType, A> {
  operationId: string;
  /** `/applications/:id/<suffix>`. */
  suffix: string;
  summary: string;
  description: string;
  role: StaffRole;
  body: B;
  bodyRequired?: boolean;
  bodyRules?: (raw: unknown) => { path: (string | number)[]; message: string }[];
  checks?: (input: { body: z.output<B> }) => FieldError[];
  examples: Record<string, Example>;
  /** The act's entry in the audit trail. */
  kind: LoanEventKind;
  update: UpdateDefinition<LoanState, [A]>;
  /**
   * The workflow's payload and what the audit trail keeps beside it (codes, refs, the free text
   * staff typed); `undo` takes back what preparing it wrote when the workflow refuses the act.
   */
  prepare(input: { body: z.output<B>; row: ApplicationRow; staff: Staff; actId: string; keyed: boolean }): Promise<PreparedAct<A>> | PreparedAct<A>;
}

interface PreparedAct<A> {
  arg: A;
  data: Record<string, unknown>;
  undo?: () => Promise<void>;
}

function actOperation<B extends z.ZodType, A>(ctx: ApiContext, spec: ActRoute<B, A>): Operation {
  return defineOperation({
    operationId: spec.operationId,
    method: 'post' as const,
    path: `/applications/:id/${spec.suffix}`,
    summary: spec.summary,
    description: `${spec.description} Answers 200 with the state once applied, 202 while the workflow is still applying it, 409 with the current stage when the workflow is not waiting for it.`,
    tags: TAGS,
    auth: { kind: 'staff' as const, roles: [spec.role] },
    params: ApplicationIdParams,
    body: spec.body,
    ...(spec.bodyRequired === undefined ? {} : { bodyRequired: spec.bodyRequired }),
    ...(spec.bodyRules ? { bodyRules: spec.bodyRules } : {}),
    ...(spec.checks ? { checks: spec.checks as (input: { body: unknown }) => FieldError[] } : {}),
    examples: spec.examples,
    idempotent: true,
    responses: {
      200: { description: 'Applied: the application state', schema: ApplicationState },
      202: { description: 'Accepted and still being applied: the state so far', schema: ApplicationState },
      404: { description: 'No application has this id' },
      409: { description: 'The workflow is not waiting for this act (`stage` says where it is), or the Idempotency-Key is in use' },
    },
    async handle({ staff, params, body, actId, keyed }) {
      const row = await loadApplication(ctx, params.id);
      const act = await spec.prepare({ body: body as z.output<B>, row, staff, actId, keyed });
      try {
        return await runAct(ctx, { row, act: spec.kind, actor: staff.id, actId, update: spec.update, arg: act.arg, data: act.data });
      } catch (err) {
        // Refused: what preparing the act wrote was never part of the file.
        if (act.undo && err instanceof ProblemError && err.status < 500) await act.undo();
        throw err;
      }
    },
  });
}

export function actionOperations(ctx: ApiContext): Operation[] {
  const routes = [
    actOperation(ctx, {
      operationId: 'submitDocuments',
      suffix: 'documents',
      summary: 'Add documents (documentsSubmitted)',
      description: 'Stores the documents, then tells the workflow their ids.',
      role: 'officer',
      body: SubmitDocumentsBody,
      checks: ({ body }) => documentUriErrors(body.documents, ctx.config.DOCUMENT_URI_HOSTS),
      examples: ACTION_EXAMPLES.documents,
      kind: 'documents_submitted',
      update: documentsSubmittedUpdate,
      async prepare({ body, row, staff, actId, keyed }) {
        // Rows first (the workflow's activities read them), ids stable for a retried request.
        const wanted = body.documents.map((d, i) => ({
          id: keyed ? deterministicUuid(`document\n${actId}\n${i}`) : randomUUID(),
          applicationId: row.id,
          type: d.type,
          uri: d.uri,
          sha256: d.sha256.toLowerCase(),
          submittedBy: staff.id,
        }));
        const inserted = await ctx.db.insert(documents).values(wanted).onConflictDoNothing().returning({ id: documents.id });
        const stored = await ctx.db
          .select({ id: documents.id, type: documents.type, sha256: documents.sha256 })
          .from(documents)
          .where(eq(documents.applicationId, row.id));
        const documentIds = [
          ...new Set(wanted.map((w) => stored.find((s) => s.type === w.type && s.sha256 === w.sha256)?.id).filter((x): x is string => Boolean(x))),
        ];
        return {
          arg: { actor: staff.id, actId, documentIds },
          data: { documentIds, documentTypes: body.documents.map((d) => d.type) },
          ...(inserted.length > 0
            ? { undo: async () => void (await ctx.db.delete(documents).where(and(eq(documents.applicationId, row.id), inArray(documents.id, inserted.map((d) => d.id))))) }
            : {}),
        };
      },
    }),
    actOperation(ctx, {
      operationId: 'recordPhoneVerification',
      suffix: 'phone-verification',
      summary: 'Record the outcome of the verification call (phoneVerificationCompleted)',
      description: '`notes` go to the audit trail only.',
      role: 'verifier',
      body: PhoneVerificationBody,
      examples: ACTION_EXAMPLES.phoneVerification,
      kind: 'phone_verification_completed',
      update: phoneVerificationCompletedUpdate,
      prepare({ body, staff, actId }) {
        const checklist = {
          identityConfirmed: body.checklist.identityConfirmed,
          incomeConfirmed: body.checklist.incomeConfirmed,
          purposeConfirmed: body.checklist.purposeConfirmed,
          ...(body.checklist.anomalies ? { anomalies: body.checklist.anomalies } : {}),
        };
        return {
          arg: { actor: staff.id, actId, outcome: body.outcome, recordingRef: body.recordingRef, checklist },
          data: { outcome: body.outcome, recordingRef: body.recordingRef ?? null, checklist, notes: body.notes ?? null },
        };
      },
    }),
    actOperation(ctx, {
      operationId: 'recordDecision',
      suffix: 'decision',
      summary: 'Approve, reject or ask for information (approvalDecision)',
      description:
        'Four eyes are enforced by the workflow: at or above the threshold two different approvers must approve, and nobody approves an application they submitted (403); a second approval by the same approver is 409. `comment` goes to the audit trail only.',
      role: 'approver',
      body: DecisionBody,
      bodyRules: decisionRules,
      examples: ACTION_EXAMPLES.decision,
      kind: 'approval_decision',
      update: approvalDecisionUpdate,
      prepare({ body, staff, actId }) {
        return {
          arg: {
            actor: staff.id,
            actId,
            decision: body.decision,
            reasonCode: body.reasonCode,
            amountFen: body.amountFen,
            termMonths: body.termMonths,
            annualRateBps: body.annualRateBps,
          },
          data: {
            decision: body.decision,
            reasonCode: body.reasonCode ?? null,
            offerChange: body.amountFen ?? body.termMonths ?? body.annualRateBps ? { amountFen: body.amountFen, termMonths: body.termMonths, annualRateBps: body.annualRateBps } : null,
            comment: body.comment ?? null,
          },
        };
      },
    }),
    actOperation(ctx, {
      operationId: 'recordOnSiteSignature',
      suffix: 'signature',
      summary: 'The customer signed the contract on site (contractSigned)',
      description: 'The body is optional; signedAt defaults to now.',
      role: 'officer',
      body: SignatureBody,
      bodyRequired: false,
      examples: ACTION_EXAMPLES.signature,
      kind: 'contract_signed',
      update: contractSignedUpdate,
      prepare({ body, staff, actId }) {
        const signedAt = body.signedAt ? new Date(body.signedAt).toISOString() : new Date().toISOString();
        return { arg: { actor: staff.id, actId, source: 'on_site' as const, signedAt }, data: { source: 'on_site', signedAt } };
      },
    }),
    actOperation(ctx, {
      operationId: 'recordCollateralRegistration',
      suffix: 'collateral-registration',
      summary: 'The vehicle mortgage registration (抵押登记) is done (collateralRegistered)',
      description: 'Where the product requires it before disbursement.',
      role: 'officer',
      body: CollateralRegistrationBody,
      examples: ACTION_EXAMPLES.collateralRegistration,
      kind: 'collateral_registered',
      update: collateralRegisteredUpdate,
      prepare({ body, staff, actId }) {
        const registeredAt = new Date(body.registeredAt).toISOString();
        return {
          arg: { actor: staff.id, actId, registrationRef: body.registrationRef, registeredAt },
          data: { registrationRef: body.registrationRef, registeredAt },
        };
      },
    }),
    actOperation(ctx, {
      operationId: 'withdrawApplication',
      suffix: 'withdraw',
      summary: 'The applicant withdraws (withdraw)',
      description: 'Possible at any stage before disbursement. `reason` goes to the audit trail only.',
      role: 'officer',
      body: WithdrawBody,
      bodyRequired: false,
      examples: ACTION_EXAMPLES.withdraw,
      kind: 'withdrawal',
      update: withdrawUpdate,
      prepare({ body, staff, actId }) {
        return { arg: { actor: staff.id, actId, reasonCode: body.reasonCode }, data: { reasonCode: body.reasonCode ?? null, reason: body.reason ?? null } };
      },
    }),
  ];
  return routes;
}
