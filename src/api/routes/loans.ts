import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { and, asc, eq } from 'drizzle-orm';
import { installments, loans, repayments } from '../../db/schema';
import { loanServicingWorkflowId } from '../../domain/ids';
import { FailureType, refusalDetails } from '../../contracts/failures';
import { repaymentRecordedUpdate, type ServicingRefusalCode, type ServicingState } from '../../workflows/servicingMessages';
import { audit } from '../audit';
import type { ApiContext } from '../context';
import { sha256Hex } from '../idempotency';
import { defineOperation, type Operation } from '../operation';
import { asUnavailable } from '../loanWorkflows';
import { describeError, ProblemError, validationProblem } from '../problem';
import { LoanIdParams, LoanSchedule, REPAYMENT_EXAMPLES, RepaymentBody, RepaymentResult } from '../schemas/loans';
import { LOAN_SCHEDULE_EXAMPLE, REPAYMENT_RESULT_EXAMPLE } from '../schemas/examples';

const TAGS = ['loans'];
const ACCEPT_TIMEOUT_MS = 20_000;
/** How long a repayment for an open loan waits for its servicing workflow to start. */
const HANDOVER_WAIT_MS = 5_000;
const HANDOVER_POLL_MS = 250;

async function loadLoan(ctx: ApiContext, id: string) {
  const [loan] = await ctx.db.select().from(loans).where(eq(loans.id, id));
  if (!loan) throw new ProblemError('not_found', 'No loan has this id');
  return loan;
}

function repaymentView(loanId: string, reference: string, s: ServicingState) {
  const last = s.lastRepayment?.reference === reference ? s.lastRepayment : undefined;
  return {
    loanId,
    reference,
    outcome: last?.outcome === 'applied' ? 'applied' : 'duplicate',
    ...(last ? { kind: last.kind } : {}),
    allocations: last?.allocations ?? [],
    status: s.status,
    bucket: s.bucket,
    outstandingPrincipalFen: s.outstandingPrincipalFen,
    creditFen: s.creditFen,
    nextDue: s.nextDue ? { seq: s.nextDue.seq, dueDate: s.nextDue.dueDate, amountFen: s.nextDue.amountFen } : null,
  };
}

export function loanOperations(ctx: ApiContext): Operation[] {
  const schedule = defineOperation({
    operationId: 'getLoanSchedule',
    method: 'get',
    path: '/loans/:id/schedule',
    summary: 'The repayment schedule with the status of each instalment',
    tags: TAGS,
    auth: { kind: 'staff' },
    params: LoanIdParams,
    responses: {
      200: { description: 'The instalments, in order', schema: LoanSchedule, example: LOAN_SCHEDULE_EXAMPLE },
      404: { description: 'No loan has this id' },
    },
    async handle({ params }) {
      const loan = await loadLoan(ctx, params.id);
      const rows = await ctx.db.select().from(installments).where(eq(installments.loanId, loan.id)).orderBy(asc(installments.seq));
      return {
        status: 200,
        body: {
          loanId: loan.id,
          applicationId: loan.applicationId,
          installments: rows.map((i) => ({
            seq: i.seq,
            dueDate: i.dueDate,
            principalFen: i.principalFen,
            interestFen: i.interestFen,
            totalFen: i.totalFen,
            status: i.status,
            paidFen: i.paidFen,
          })),
        },
      };
    },
  });

  const repayment = defineOperation({
    operationId: 'recordRepayment',
    method: 'post',
    path: '/loans/:id/repayments',
    summary: 'Record a repayment (repaymentRecorded)',
    description:
      'Idempotent by the bank reference: the same reference and amount again changes nothing and answers the current state; the same reference with another amount is 409. `paidAt` may be at most 5 minutes ahead of the server clock and not before the loan was paid out (400). Applied by the loan-servicing-<loanId> workflow.',
    tags: TAGS,
    auth: { kind: 'staff', roles: ['finance'] },
    params: LoanIdParams,
    body: RepaymentBody,
    examples: REPAYMENT_EXAMPLES,
    idempotent: true,
    responses: {
      200: { description: 'Recorded (or recorded before with this reference)', schema: RepaymentResult, example: REPAYMENT_RESULT_EXAMPLE },
      404: { description: 'No loan has this id' },
      409: { description: 'The reference was recorded with another amount, the loan is closed or not yet handed over to servicing, or the Idempotency-Key is in use' },
      422: { description: 'The servicing workflow refused the repayment, or the Idempotency-Key was used with another body' },
      503: { description: 'Temporal did not answer in time: retry with the same reference' },
    },
    async handle({ staff, params, body }) {
      const loan = await loadLoan(ctx, params.id);
      // Money cannot come back before it went out (the schema already refuses a paidAt in the future).
      if (Date.parse(body.paidAt) < loan.disbursedAt.getTime()) {
        throw validationProblem([{ pointer: '#/paidAt', in: 'body', code: 'before_disbursement', message: `is before the loan was paid out (${loan.disbursedAt.toISOString()})` }]);
      }
      const [known] = await ctx.db
        .select()
        .from(repayments)
        .where(and(eq(repayments.loanId, loan.id), eq(repayments.reference, body.reference)));
      if (known && known.amountFen !== body.amountFen) {
        throw new ProblemError('reference_conflict', 'This payment reference was recorded with another amount', { reference: body.reference });
      }
      const paidAt = new Date(body.paidAt).toISOString();
      const workflowId = loanServicingWorkflowId(loan.id);
      const handle = ctx.temporal.workflow.getHandle(workflowId);
      let state: ServicingState;
      // The reference is the repayment's identity: Temporal itself folds a repeat into the first.
      const updateId = `repayment-${sha256Hex(body.reference).slice(0, 32)}`;
      const send = () =>
        ctx.temporal.connection.withDeadline(Date.now() + ACCEPT_TIMEOUT_MS, () =>
          handle.startUpdate(repaymentRecordedUpdate, {
            // Signed at each attempt: the servicing workflow refuses an act without the API's proof.
            args: [
              ctx.signer.sign('repaymentRecorded', workflowId, { actor: staff.id, amountFen: body.amountFen, paidAt, reference: body.reference }, {
                actor: staff.id,
                roles: [...staff.roles],
                actId: updateId,
              }),
            ],
            updateId,
            waitForStage: WorkflowUpdateStage.ACCEPTED,
          }),
        );
      try {
        let update;
        // The loan row exists a moment before its servicing workflow does (the application run
        // stores the loan, then starts the child): an open loan waits out that hand-over.
        for (let waited = 0; ; waited += HANDOVER_POLL_MS) {
          try {
            update = await send();
            break;
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError) || loan.status === 'closed' || waited >= HANDOVER_WAIT_MS) throw err;
            await new Promise((resolve) => setTimeout(resolve, HANDOVER_POLL_MS));
          }
        }
        state = await update.result();
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          const code = refusalDetails<{ code: ServicingRefusalCode }>(err, FailureType.ServicingRequestRefused)?.code;
          if (code === 'LOAN_CLOSED') throw new ProblemError('loan_closed', 'The loan is closed', { code });
          if (code === 'NOT_AUTHENTICATED') {
            throw new ProblemError('unavailable', "The servicing workflow did not accept the API's signature on this repayment; retry with the same reference", { code }, { 'Retry-After': '5' });
          }
          throw new ProblemError('invalid_act', code ? `The servicing workflow refused the repayment (${code})` : 'The servicing workflow refused the repayment', { code: code ?? 'REFUSED' });
        }
        if (err instanceof WorkflowNotFoundError) {
          if (loan.status === 'closed') throw new ProblemError('loan_closed', 'The loan is closed', { loanStatus: loan.status });
          throw new ProblemError('loan_closed', 'The loan is not being serviced yet (the hand-over from the application has not finished); retry with the same reference', { loanStatus: loan.status }, { 'Retry-After': '5' });
        }
        if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
          throw new ProblemError('unavailable', 'The servicing workflow did not answer in time; retry with the same reference', {}, { 'Retry-After': '5' });
        }
        ctx.log.warn({ loanId: loan.id, err: describeError(err) }, 'repayment could not reach the servicing workflow');
        throw asUnavailable(err);
      }
      if (state.lastRepayment?.reference === body.reference && state.lastRepayment.outcome === 'rejected') {
        throw new ProblemError('invalid_act', `The servicing workflow rejected the repayment${state.lastRepayment.reason ? ` (${state.lastRepayment.reason})` : ''}`, {
          code: 'REPAYMENT_REJECTED',
        });
      }
      await audit(ctx.db, {
        eventKey: `api:repayment_recorded:${loan.id}:${sha256Hex(body.reference).slice(0, 32)}`,
        applicationId: loan.applicationId,
        kind: 'repayment_recorded',
        actor: staff.id,
        stage: 'servicing',
        data: { loanId: loan.id, reference: body.reference, amountFen: body.amountFen, paidAt, outcome: state.lastRepayment?.outcome ?? null },
        after: { status: state.status, bucket: state.bucket, outstandingPrincipalFen: state.outstandingPrincipalFen },
      });
      return { status: 200, body: repaymentView(loan.id, body.reference, state) };
    },
  });

  return [schedule, repayment];
}
