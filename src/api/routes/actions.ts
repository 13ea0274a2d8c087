import { randomUUID } from 'node:crypto';
import type { UpdateDefinition } from '@temporalio/common';
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { LoanEventKind } from '../../contracts/loanEvents';
import { writeTogether } from '../../db/client';
import { applications, documents, idempotencyKeys, taskClaims } from '../../db/schema';
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
import { documentRow } from '../applicationRows';
import type { Staff } from '../auth';
import { auditInsert } from '../audit';
import { ACT_TASK, activeClaim, claimedByOther, claimOnTask, dropClaimWrite, overridesClaims, type ClaimRow } from '../workQueue';
import type { ApiContext } from '../context';
import { claimedRows, deterministicUuid, keyIs, ONE_ROW, type IdempotencyStore, type KeyRef } from '../idempotency';
import type { EmergencyReasonCode } from '../../workflows/actProof';
import { defineOperation, type Example, type KeyHandle, type Loaded, type Operation, type OperationResult } from '../operation';
import { ProblemError, type FieldError } from '../problem';
import {
  ACTION_EXAMPLES,
  CollateralRegistrationBody,
  DecisionBody,
  decisionRules,
  EmergencyActBody,
  PhoneVerificationBody,
  SignatureBody,
  SubmitDocumentsBody,
  WithdrawBody,
} from '../schemas/actions';
import { ApplicationState, documentUriErrors } from '../schemas/applications';
import { ApplicationIdParams } from '../schemas/common';
import { auditSnapshot, stateView, type ApplicationRow } from '../views';
import { APPLICATION_STATE_EXAMPLE } from '../schemas/examples';

const TAGS = ['actions'];

export interface ActRequest<A extends { actor: string }> {
  row: ApplicationRow;
  /** The act's kind in the audit trail (`documents_submitted`, `approval_decision`, ...). */
  act: LoanEventKind;
  actor: string;
  /** The roles the actor was authenticated with: signed into the act's proof. */
  roles: Iterable<string>;
  /** The person acting (their roles decide whether someone else's claim on the task stops them). */
  staff?: Staff;
  actId: string;
  /** The emergency path only (an admin with a reason code, POST /applications/:id/emergency-acts). */
  emergency?: { reasonCode: EmergencyReasonCode } | undefined;
  update: UpdateDefinition<LoanState, [A]>;
  arg: A;
  /** What the audit trail keeps beside the act: codes, refs and the free text staff typed. */
  data?: Record<string, unknown>;
  /** The claim on the row's task, read with the row (`loadForAct`); undefined: not read. */
  taskClaim?: ClaimRow | null;
  /** The request's Idempotency-Key: settled in the statement of the act's audit row. */
  key?: KeyHandle | undefined;
}

/** What an act starts from: the application (null: no such id) and the claim on its task. */
export interface ActStart {
  row: ApplicationRow | null;
  taskClaim: ClaimRow | null;
}

/**
 * An act's first read, one statement: the application, the claim on its current task and, with an
 * Idempotency-Key, the key's claim (its insert a CTE of the same statement).
 */
export async function loadForAct(ctx: ApiContext, id: string, key: KeyRef | null, idempotency: IdempotencyStore): Promise<Loaded<ActStart>> {
  const read = { row: applications, taskClaim: taskClaims };
  if (!key) {
    const [found] = await ctx.db.select(read).from(applications).leftJoin(taskClaims, claimOnTask).where(eq(applications.id, id));
    return { loaded: { row: found?.row ?? null, taskClaim: found?.taskClaim ?? null }, claim: null };
  }
  const cte = idempotency.claimCte(key);
  const [found] = await ctx.db
    .with(cte)
    .select({ ...read, inserted: claimedRows(cte), prior: idempotencyKeys })
    .from(ONE_ROW)
    .leftJoin(applications, eq(applications.id, id))
    .leftJoin(taskClaims, claimOnTask)
    .leftJoin(idempotencyKeys, keyIs(key));
  return {
    loaded: { row: found?.row ?? null, taskClaim: found?.taskClaim ?? null },
    claim: await idempotency.settle(key, (found?.inserted ?? 0) > 0, found?.prior ?? null),
  };
}

function foundRow(start: ActStart): ApplicationRow {
  if (!start.row) throw new ProblemError('not_found', 'No application has this id');
  return start.row;
}

/**
 * Signs one act (actor, roles, act, workflow, act id, time, payload digest: the workflow refuses
 * an act without the API's proof), sends it to the workflow and writes the audit entry: accepted
 * (200 with the state, 202 while the handler still runs) or refused (the problem, audited too).
 */
export async function runAct<A extends { actor: string }>(ctx: ApiContext, r: ActRequest<A>): Promise<OperationResult> {
  const before = auditSnapshot(r.row);
  // The update `<act>Update` carries the act `<act>`: the name the workflow checks the proof against.
  const signed = ctx.signer.sign(r.update.name.replace(/Update$/, ''), r.row.workflowId, r.arg, {
    actor: r.actor,
    roles: [...r.roles],
    actId: r.actId,
    emergency: r.emergency,
  });
  const task = ACT_TASK[r.act];
  let outcome;
  try {
    if (task && r.staff && r.row.pendingTask === task) {
      // A claimed task is the claimant's: other staff wait, unless a supervisor steps in. (The
      // customer signing at the e-signature provider is no staff act and is never held up.)
      const claim = r.taskClaim === undefined ? await activeClaim(ctx.db, r.row.id) : r.taskClaim;
      if (claim && claim.claimedBy !== r.actor && !overridesClaims(r.staff)) throw claimedByOther(claim, r.row.stage);
    }
    outcome = await ctx.workflows.act(r.row.workflowId, r.update, signed, r.actId);
  } catch (err) {
    if (err instanceof ProblemError && typeof err.extensions.code === 'string') {
      const refused = auditInsert(ctx.db, {
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
      // The refusal's audit row and the key's release: one statement.
      await (r.key ? r.key.releaseWith([refused]) : refused);
    }
    throw err;
  }
  const view = stateView(r.row, outcome.state);
  const result: OperationResult = { status: outcome.kind === 'accepted' ? 202 : 200, body: view };
  // The act's audit row, the claim it ends and the key's answer: one statement, so none of them is
  // kept without the others. A crash before it leaves the key in progress: the retry (after
  // STALE_MS) sends the act again under the same act id, which the workflow answers as before.
  const writes = [
    ...(task && r.staff ? [dropClaimWrite(ctx.db, r.row.id, r.actor)] : []),
    auditInsert(ctx.db, {
      eventKey: `api:${r.act}:${r.actId}`,
      applicationId: r.row.id,
      kind: r.act,
      actor: r.actor,
      stage: view.stage,
      data: { act: r.act, outcome: outcome.kind, ...r.data },
      before,
      after: outcome.state ? auditSnapshot(outcome.state) : null,
    }),
  ];
  await (r.key ? r.key.completeWith(writes, result) : writeTogether(ctx.db, writes));
  return result;
}

/**
 * One act of staff on an application: its route, who may make it, its body, and how the body
 * becomes the workflow's act and the audit trail's entry. Every act route is this shape; the table
 * below lists them.
 */
interface ActRoute<B extends z.ZodType, A extends { actor: string }> {
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

function actOperation<B extends z.ZodType, A extends { actor: string }>(ctx: ApiContext, spec: ActRoute<B, A>): Operation {
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
      200: { description: 'Applied: the application state', schema: ApplicationState, example: APPLICATION_STATE_EXAMPLE },
      202: { description: 'Accepted and still being applied: the state so far', schema: ApplicationState, example: APPLICATION_STATE_EXAMPLE },
      404: { description: 'No application has this id' },
      409: { description: 'The workflow is not waiting for this act (`stage` says where it is), someone else has claimed the task (`claimedBy`), or the Idempotency-Key is in use' },
    },
    load: ({ params, key, idempotency }) => loadForAct(ctx, params.id, key, idempotency),
    async handle({ staff, body, actId, keyed, loaded, key }) {
      const row = foundRow(loaded);
      const act = await spec.prepare({ body: body as z.output<B>, row, staff, actId, keyed });
      try {
        return await runAct(ctx, { row, act: spec.kind, actor: staff.id, roles: staff.roles, staff, actId, update: spec.update, arg: act.arg, data: act.data, taskClaim: loaded.taskClaim, key });
      } catch (err) {
        // Refused: what preparing the act wrote was never part of the file.
        if (act.undo && err instanceof ProblemError && err.status < 500) await act.undo();
        throw err;
      }
    },
  });
}

export function actionOperations(ctx: ApiContext): Operation[] {
  const acts = [
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
        const wanted = body.documents.map((d, i) => documentRow(row.id, keyed ? deterministicUuid(`document\n${actId}\n${i}`) : randomUUID(), d, staff.id));
        // One statement: the insert (a CTE), and the rows already there as they were before it.
        const fresh = ctx.db
          .$with('fresh')
          .as(ctx.db.insert(documents).values(wanted).onConflictDoNothing().returning({ id: documents.id, type: documents.type, sha256: documents.sha256 }));
        type Doc = { id: string; type: string; sha256: string };
        const docs = (from: SQL) => sql<Doc[]>`(select coalesce(json_agg(json_build_object('id', d.id, 'type', d.type, 'sha256', d.sha256)), '[]'::json) from ${from})`;
        const [found] = await ctx.db
          .with(fresh)
          .select({ inserted: docs(sql`${fresh} d`), existing: docs(sql`${documents} d where d.application_id = ${row.id}`) })
          .from(ONE_ROW);
        const inserted = found?.inserted ?? [];
        const stored = [...(found?.existing ?? []), ...inserted];
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

  const emergencyAct = defineOperation({
    operationId: 'recordEmergencyAct',
    method: 'post',
    path: '/applications/:id/emergency-acts',
    summary: 'An engineer acts on the emergency path (admins only, with a reason code)',
    description:
      'For when the ordinary route cannot be used (an outage, staff unavailable, a correction ordered). The admin acts in their own name: the workflow applies its usual rules (four eyes included), flags the run (`EMERGENCY_ACT`, search attribute `EmergencyAct`) and records the act with its reason code in loan_events; `reason` goes to the audit trail only. Answers as the act would.',
    tags: TAGS,
    auth: { kind: 'staff', roles: ['admin'] },
    params: ApplicationIdParams,
    body: EmergencyActBody,
    examples: ACTION_EXAMPLES.emergency,
    idempotent: true,
    responses: {
      200: { description: 'Applied: the application state', schema: ApplicationState, example: APPLICATION_STATE_EXAMPLE },
      202: { description: 'Accepted and still being applied: the state so far', schema: ApplicationState, example: APPLICATION_STATE_EXAMPLE },
      404: { description: 'No application has this id' },
      409: { description: 'The workflow is not waiting for this act (`stage` says where it is), or the Idempotency-Key is in use' },
    },
    load: ({ params, key, idempotency }) => loadForAct(ctx, params.id, key, idempotency),
    async handle({ staff, body, actId, loaded, key }) {
      const row = foundRow(loaded);
      const base = { actor: staff.id, actId };
      const common = { row, act: 'emergency_act' as const, actor: staff.id, roles: staff.roles, actId, emergency: { reasonCode: body.reasonCode }, key };
      const audit = { act: body.act, reasonCode: body.reasonCode, reason: body.reason };
      switch (body.act) {
        case 'documentsSubmitted':
          return runAct(ctx, { ...common, update: documentsSubmittedUpdate, arg: { ...base, documentIds: body.payload.documentIds }, data: { ...audit, documentIds: body.payload.documentIds } });
        case 'phoneVerificationCompleted': {
          const p = body.payload;
          const checklist = { ...p.checklist };
          return runAct(ctx, { ...common, update: phoneVerificationCompletedUpdate, arg: { ...base, outcome: p.outcome, recordingRef: p.recordingRef, checklist }, data: { ...audit, outcome: p.outcome, notes: p.notes ?? null } });
        }
        case 'approvalDecision': {
          const p = body.payload;
          const arg = { ...base, decision: p.decision, reasonCode: p.reasonCode, amountFen: p.amountFen, termMonths: p.termMonths, annualRateBps: p.annualRateBps };
          return runAct(ctx, { ...common, update: approvalDecisionUpdate, arg, data: { ...audit, decision: p.decision, decisionReasonCode: p.reasonCode ?? null, comment: p.comment ?? null } });
        }
        case 'contractSigned': {
          const signedAt = body.payload.signedAt ? new Date(body.payload.signedAt).toISOString() : new Date().toISOString();
          return runAct(ctx, { ...common, update: contractSignedUpdate, arg: { ...base, source: 'on_site' as const, signedAt }, data: { ...audit, signedAt } });
        }
        case 'collateralRegistered': {
          const registeredAt = new Date(body.payload.registeredAt).toISOString();
          const arg = { ...base, registrationRef: body.payload.registrationRef, registeredAt };
          return runAct(ctx, { ...common, update: collateralRegisteredUpdate, arg, data: { ...audit, registrationRef: arg.registrationRef, registeredAt } });
        }
        case 'withdraw':
          return runAct(ctx, { ...common, update: withdrawUpdate, arg: { ...base, reasonCode: body.payload.reasonCode }, data: { ...audit, withdrawReasonCode: body.payload.reasonCode ?? null, withdrawReason: body.payload.reason ?? null } });
      }
    },
  });

  return [...acts, emergencyAct];
}
