import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage } from '@temporalio/client';
import { WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
import { and, asc, eq, gt, inArray, isNull, type SQL } from 'drizzle-orm';
import { contractOf, ledgerIds, moneyByReference, readLedger, transactionOf, valueDateOf, type LoanRow, type StoredLedger } from '../../db/ledger';
import { installments, loans, loanTransactions } from '../../db/schema';
import { addDays, computeLedger, DEFAULT_POLICY, type LedgerPosition, payoffQuote, shanghaiDate } from '../../domain';
import { loanServicingWorkflowId } from '../../domain/ids';
import { FailureType, refusalDetails } from '../../contracts/failures';
import {
  type ServicingRefusalCode,
  type ServicingRequestKind,
  type ServicingState,
  prepaymentRequestedUpdate,
  refundRequestedUpdate,
  repaymentRecordedUpdate,
  reversalRequestedUpdate,
  servicingApprovalUpdate,
  waiverRequestedUpdate,
} from '../../workflows/servicingMessages';
import type { Staff } from '../auth';
import type { LoanEventKind } from '../../contracts/loanEvents';
import { audit } from '../audit';
import type { ApiContext } from '../context';
import { sha256Hex } from '../idempotency';
import { asUnavailable } from '../loanWorkflows';
import { defineOperation, type Operation } from '../operation';
import { describeError, ProblemError, validationProblem } from '../problem';
import {
  APPROVAL_EXAMPLES,
  ApprovalBody,
  ListLoansQuery,
  LoanIdParams,
  LoanPage,
  LoanReferenceParams,
  LoanRequestParams,
  LoanSchedule,
  PayoffQuoteQuery,
  PayoffQuoteView,
  PREPAYMENT_EXAMPLES,
  PrepaymentBody,
  REFUND_EXAMPLES,
  RefundBody,
  REPAYMENT_EXAMPLES,
  RepaymentBody,
  RepaymentResult,
  REVERSAL_EXAMPLES,
  ReversalBody,
  ServicingRequestResult,
  StatementQuery,
  StatementView,
  WAIVER_EXAMPLES,
  WaiverBody,
} from '../schemas/loans';
import {
  LOAN_PAGE_EXAMPLE,
  LOAN_SCHEDULE_EXAMPLE,
  PAYOFF_QUOTE_EXAMPLE,
  PREPAYMENT_RESULT_EXAMPLE,
  REPAYMENT_RESULT_EXAMPLE,
  SERVICING_APPROVED_EXAMPLE,
  SERVICING_REQUEST_EXAMPLE,
  STATEMENT_EXAMPLE,
} from '../schemas/examples';

const TAGS = ['loans'];
const ACCEPT_TIMEOUT_MS = 20_000;
/** How long an act on an open loan waits for its servicing workflow to start. */
const HANDOVER_WAIT_MS = 5_000;
const HANDOVER_POLL_MS = 250;
const DEFAULT_PAGE = 20;
const POLICY = DEFAULT_POLICY.servicing;
const FINANCE = ['finance'] as const;
/** Reading the loan book, statements and payoff quotes. */
const READERS = ['finance', 'collections'] as const;

const today = () => shanghaiDate(Date.now());

async function loadLoan(ctx: ApiContext, id: string): Promise<LoanRow> {
  const [loan] = await ctx.db.select().from(loans).where(eq(loans.id, id));
  if (!loan) throw new ProblemError('not_found', 'No loan has this id');
  return loan;
}

async function loadLedger(ctx: ApiContext, id: string): Promise<StoredLedger> {
  const stored = await readLedger(ctx.db, id);
  if (!stored) throw new ProblemError('not_found', 'No loan has this id');
  return stored;
}

/** The problem a servicing refusal is answered with. */
function refusalProblem(code: ServicingRefusalCode | undefined, message: string): ProblemError {
  const ledgerCode = code === 'LEDGER_REFUSED' ? message.split(':')[0] : undefined;
  const ext = { code: code ?? 'REFUSED', ...(ledgerCode ? { ledgerCode } : {}) };
  switch (code) {
    case 'LOAN_CLOSED':
      return new ProblemError('loan_closed', 'The loan is closed', ext);
    case 'NOT_AUTHENTICATED':
      // The API signed it: a proof refused is one that came too late (a worker outage) or a key mismatch.
      return new ProblemError('unavailable', "The servicing workflow did not accept the API's signature on this act; retry with the same Idempotency-Key", ext, { 'Retry-After': '5' });
    case 'REFERENCE_CONFLICT':
      return new ProblemError('reference_conflict', 'This payment reference was recorded with another amount', ext);
    case 'SAME_FINANCE_USER':
      return new ProblemError('four_eyes', 'A second, different finance user must approve this', ext);
    case 'ALREADY_DECIDED':
      return new ProblemError('already_decided', message, ext);
    case 'UNKNOWN_REQUEST':
      return new ProblemError('not_found', 'No request with this id is waiting for approval', ext);
    case 'TOO_MANY_PENDING':
      return new ProblemError('too_many_pending', message, ext);
    case 'LEDGER_REFUSED':
      if (ledgerCode === 'UNKNOWN_REFERENCE') return new ProblemError('not_found', 'No repayment has this reference', ext);
      return new ProblemError('invalid_act', `The servicing ledger refused this (${ledgerCode})`, ext);
    default:
      return new ProblemError('invalid_act', `The servicing workflow refused this (${code ?? 'REFUSED'}): ${message}`, ext);
  }
}

/**
 * Sends one act to the loan's servicing workflow through its update and waits for its answer.
 * The update id comes from the request (its Idempotency-Key, or a new one), so a retried request
 * reaches the same update and two requests are two updates, each told what became of it.
 * ALREADY_PENDING is answered with null (the caller reads the pending request from the state).
 */
async function sendAct<A extends { actor: string }>(ctx: ApiContext, loan: LoanRow, staff: Staff, update: UpdateDefinition<ServicingState, [A]>, arg: A, updateId: string): Promise<ServicingState | null> {
  const workflowId = loanServicingWorkflowId(loan.id);
  const handle = ctx.temporal.workflow.getHandle(workflowId);
  // Signed at each attempt (the workflow refuses an act without the API's proof); the update
  // `<act>Update` carries the act `<act>`, the name the workflow checks the proof against.
  const signed = () => ctx.signer.sign(update.name.replace(/Update$/, ''), workflowId, arg, { actor: staff.id, roles: [...staff.roles], actId: updateId });
  const send = () =>
    ctx.temporal.connection.withDeadline(Date.now() + ACCEPT_TIMEOUT_MS, () => handle.startUpdate(update, { args: [signed()], updateId, waitForStage: WorkflowUpdateStage.ACCEPTED }));
  try {
    let started;
    // The loan row exists a moment before its servicing workflow does (the application run stores
    // the loan, then starts the child): an open loan waits out that hand-over.
    for (let waited = 0; ; waited += HANDOVER_POLL_MS) {
      try {
        started = await send();
        break;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError) || loan.status === 'closed' || waited >= HANDOVER_WAIT_MS) throw err;
        await new Promise((resolve) => setTimeout(resolve, HANDOVER_POLL_MS));
      }
    }
    return await started.result();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const code = refusalDetails<{ code: ServicingRefusalCode }>(err, FailureType.ServicingRequestRefused)?.code;
      if (code === 'ALREADY_PENDING') return null;
      throw refusalProblem(code, err.cause instanceof Error ? err.cause.message : '');
    }
    if (err instanceof WorkflowNotFoundError) {
      if (loan.status === 'closed') throw new ProblemError('loan_closed', 'The loan is closed', { loanStatus: loan.status });
      throw new ProblemError('loan_closed', 'The loan is not being serviced yet (the hand-over from the application has not finished); retry', { loanStatus: loan.status }, { 'Retry-After': '5' });
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new ProblemError('unavailable', 'The servicing workflow did not answer in time; retry with the same Idempotency-Key', {}, { 'Retry-After': '5' });
    }
    ctx.log.warn({ loanId: loan.id, err: describeError(err) }, 'an act could not reach the servicing workflow');
    throw asUnavailable(err);
  }
}

/** Money cannot come back before it went out (the schema already refuses a paidAt in the future). */
function checkPaidAt(loan: LoanRow, paidAt: string): void {
  if (Date.parse(paidAt) < loan.disbursedAt.getTime() || valueDateOf(paidAt) < loan.disbursementDate) {
    throw validationProblem([{ pointer: '#/paidAt', in: 'body', code: 'before_disbursement', message: `is before the loan was paid out (${loan.disbursedAt.toISOString()})` }]);
  }
}

function stateFigures(s: ServicingState) {
  return {
    status: s.status,
    bucket: s.bucket,
    outstandingPrincipalFen: s.outstandingPrincipalFen,
    creditFen: s.creditFen,
    penaltyFen: s.penaltyFen ?? 0,
    overdueFen: s.overdueFen ?? 0,
    nextDue: s.nextDue ? { seq: s.nextDue.seq, dueDate: s.nextDue.dueDate, amountFen: s.nextDue.amountFen } : null,
  };
}

/** The answer to money booked before with this reference and amount: the original booking. */
function duplicateAnswer(stored: StoredLedger, reference: string) {
  const p = computeLedger(stored.contract, stored.transactions, today());
  const id = ledgerIds.money(reference);
  const e = p.transactions.find((t) => t.id === id);
  return {
    loanId: stored.loan.id,
    reference,
    outcome: 'duplicate' as const,
    kind: (stored.rows.find((r) => r.txnId === id)?.kind === 'prepayment' ? 'prepayment' : (e?.prepaidPrincipalFen ?? 0) > 0 ? 'early_payoff' : 'regular') as 'regular' | 'early_payoff' | 'prepayment',
    allocations: p.allocations.filter((a) => a.txnId === id).map((a) => ({ seq: a.seq, component: a.component, amountFen: a.amountFen })),
    status: stored.loan.status === 'closed' ? ('closed' as const) : ('active' as const),
    bucket: stored.loan.bucket,
    outstandingPrincipalFen: p.totals.principalOutstandingFen,
    creditFen: p.totals.creditFen,
    penaltyFen: p.totals.due.penaltyFen,
    overdueFen: p.totals.overdueFen,
    nextDue: p.nextDue,
  };
}

function statementOf(stored: StoredLedger, p: LedgerPosition) {
  const refs = new Map(stored.rows.map((r) => [r.txnId, r.reference]));
  const { principalFen, annualRateBps, termMonths, method, disbursementDate } = stored.contract;
  return {
    loanId: stored.loan.id,
    applicationId: stored.loan.applicationId,
    asOfDate: p.asOfDate,
    status: stored.loan.status === 'closed' ? ('closed' as const) : ('active' as const),
    contract: { principalFen, annualRateBps, termMonths, repaymentMethod: method, disbursementDate },
    instalments: p.lines.map((l) => ({
      seq: l.seq,
      version: l.version,
      dueDate: l.dueDate,
      status: l.status,
      due: l.due,
      paid: l.paid,
      waived: l.waived,
      outstanding: l.outstanding,
      creditEarmarkedFen: l.creditEarmarkedFen,
      daysPastDue: l.daysPastDue,
      penaltyRanges: l.penaltyRanges,
    })),
    transactions: p.transactions.map((t) => ({
      id: t.id,
      kind: t.kind,
      reference: refs.get(t.id) ?? null,
      valueDate: t.valueDate,
      amountFen: t.amountFen,
      status: t.status,
      allocatedFen: t.allocatedFen,
      creditFen: t.creditFen,
      refundedFen: t.refundedFen,
      waivedFen: t.waivedFen,
      prepaidPrincipalFen: t.prepaidPrincipalFen,
      feeFen: t.feeFen,
    })),
    scheduleVersions: p.versions.map(({ version, reason, effectiveDate, fromSeq, mode, principalFen: v }) => ({ version, reason, effectiveDate, fromSeq, mode, principalFen: v })),
    totals: { ...p.totals, unappliedFen: p.totals.creditFen },
    settled: p.settled,
  };
}

export function loanOperations(ctx: ApiContext): Operation[] {
  const schedule = defineOperation({
    operationId: 'getLoanSchedule',
    method: 'get',
    path: '/loans/:id/schedule',
    summary: 'The repayment schedule (its current version) with the status of each instalment',
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
          scheduleVersion: loan.scheduleVersion,
          installments: rows.map((i) => ({
            seq: i.seq,
            dueDate: i.dueDate,
            principalFen: i.principalFen,
            interestFen: i.interestFen,
            totalFen: i.totalFen,
            status: i.status as 'scheduled' | 'due' | 'paid' | 'overdue',
            paidFen: i.paidFen,
            penaltyFen: i.penaltyFen,
            version: i.version,
          })),
        },
      };
    },
  });

  const list = defineOperation({
    operationId: 'listLoans',
    method: 'get',
    path: '/loans',
    summary: 'The loan book: loans by status, overdue bucket and branch, in id order',
    description:
      'Cursor-paginated. The figures of each loan (outstanding principal, overdue, penalty, credit, next due) are the servicing ledger on today, computed for the page; the filters use the status and bucket the servicing workflow last mirrored. No personal data.',
    tags: TAGS,
    auth: { kind: 'staff', roles: READERS },
    query: ListLoansQuery,
    responses: { 200: { description: 'One page', schema: LoanPage, example: LOAN_PAGE_EXAMPLE } },
    async handle({ query }) {
      const limit = query.limit ?? DEFAULT_PAGE;
      const where: SQL[] = [];
      if (query.status) where.push(eq(loans.status, query.status));
      if (query.bucket === 'none') where.push(isNull(loans.bucket));
      else if (query.bucket) where.push(eq(loans.bucket, query.bucket));
      if (query.branchId) where.push(eq(loans.branchId, query.branchId));
      if (query.cursor) {
        const after = Buffer.from(query.cursor, 'base64url').toString('utf8');
        if (after.length === 0 || after.length > 128 || /[\p{Cc}\p{Cs}]/u.test(after)) {
          throw validationProblem([{ pointer: '#/cursor', in: 'query', code: 'invalid_cursor', message: 'is not a cursor this API gave out' }]);
        }
        where.push(gt(loans.id, after));
      }
      const rows = await ctx.db
        .select()
        .from(loans)
        .where(where.length > 0 ? and(...where) : undefined)
        .orderBy(asc(loans.id))
        .limit(limit + 1);
      const page = rows.slice(0, limit);
      const txns = page.length
        ? await ctx.db
            .select()
            .from(loanTransactions)
            .where(inArray(loanTransactions.loanId, page.map((l) => l.id)))
            .orderBy(asc(loanTransactions.seq))
        : [];
      const day = today();
      const items = page.map((loan) => {
        const p = computeLedger(contractOf(loan), txns.filter((t) => t.loanId === loan.id).map(transactionOf), day);
        return {
          loanId: loan.id,
          applicationId: loan.applicationId,
          branchId: loan.branchId,
          status: loan.status === 'closed' ? ('closed' as const) : ('active' as const),
          bucket: loan.bucket,
          principalFen: loan.principalFen,
          termMonths: loan.termMonths,
          disbursementDate: loan.disbursementDate,
          asOfDate: p.asOfDate,
          outstandingPrincipalFen: p.totals.principalOutstandingFen,
          overdueFen: p.totals.overdueFen,
          penaltyFen: p.totals.due.penaltyFen,
          creditFen: p.totals.creditFen,
          daysPastDue: p.delinquency?.daysPastDue ?? 0,
          nextDue: loan.status === 'closed' ? null : p.nextDue,
        };
      });
      const last = page[page.length - 1];
      return { status: 200, body: { items, nextCursor: rows.length > limit && last ? Buffer.from(last.id, 'utf8').toString('base64url') : null } };
    },
  });

  const statement = defineOperation({
    operationId: 'getLoanStatement',
    method: 'get',
    path: '/loans/:id/statement',
    summary: 'The statement on a date: per instalment what was due, paid, waived and is outstanding by component, penalties by day range, transactions, credit and the balance',
    description: 'Computed by the servicing ledger from the loan\'s contract and every transaction dated up to `asOf`, as known now (a reversal booked later takes its payment out of earlier dates too).',
    tags: TAGS,
    auth: { kind: 'staff', roles: READERS },
    params: LoanIdParams,
    query: StatementQuery,
    responses: {
      200: { description: 'The statement', schema: StatementView, example: STATEMENT_EXAMPLE },
      404: { description: 'No loan has this id' },
    },
    async handle({ params, query }) {
      const stored = await loadLedger(ctx, params.id);
      const asOf = query.asOf ?? today();
      if (asOf > today()) throw validationProblem([{ pointer: '#/asOf', in: 'query', code: 'in_future', message: 'must not be in the future' }]);
      if (asOf < stored.loan.disbursementDate) throw validationProblem([{ pointer: '#/asOf', in: 'query', code: 'before_disbursement', message: 'must not be before the loan was paid out' }]);
      return { status: 200, body: statementOf(stored, computeLedger(stored.contract, stored.transactions, asOf)) };
    },
  });

  const quote = defineOperation({
    operationId: 'getPayoffQuote',
    method: 'get',
    path: '/loans/:id/payoff-quote',
    summary: 'What closes the loan on a day (today up to 30 days ahead): principal, interest to the day, penalties, the early-repayment fee',
    description: 'A repayment of at least `totalFen` paid on or before `validUntil` closes the loan (as an early payoff, the fee included); the ledger decides it from the money, so the quote needs no booking.',
    tags: TAGS,
    auth: { kind: 'staff', roles: READERS },
    params: LoanIdParams,
    query: PayoffQuoteQuery,
    responses: {
      200: { description: 'The quote', schema: PayoffQuoteView, example: PAYOFF_QUOTE_EXAMPLE },
      404: { description: 'No loan has this id' },
      409: { description: 'The loan is closed' },
    },
    async handle({ params, query }) {
      const stored = await loadLedger(ctx, params.id);
      const day = query.date ?? today();
      if (day < today() || day > addDays(today(), POLICY.payoffQuoteMaxDaysAhead)) {
        throw validationProblem([{ pointer: '#/date', in: 'query', code: 'out_of_range', message: `must be today or up to ${POLICY.payoffQuoteMaxDaysAhead} days ahead` }]);
      }
      if (stored.loan.status === 'closed') throw new ProblemError('loan_closed', 'The loan is closed');
      return { status: 200, body: { loanId: stored.loan.id, ...payoffQuote(stored.contract, stored.transactions, day) } };
    },
  });

  const repayment = defineOperation({
    operationId: 'recordRepayment',
    method: 'post',
    path: '/loans/:id/repayments',
    summary: 'Record a repayment of any amount (repaymentRecorded)',
    description:
      'Paid to what is due in the allocation order (penalty, interest, principal, oldest instalment first); beyond it held as credit for the next instalments (or to refund). Money that covers the payoff amount of its day closes the loan. Idempotent by the bank reference: the same reference and amount again answers `duplicate` with the original booking; the same reference with another amount is 409, also when both arrive at once.',
    tags: TAGS,
    auth: { kind: 'staff', roles: FINANCE },
    params: LoanIdParams,
    body: RepaymentBody,
    examples: REPAYMENT_EXAMPLES,
    idempotent: true,
    responses: {
      200: { description: 'Recorded (or recorded before with this reference and amount)', schema: RepaymentResult, example: REPAYMENT_RESULT_EXAMPLE },
      404: { description: 'No loan has this id' },
      409: { description: 'The reference was recorded with another amount, the loan is not yet handed over to servicing, or the Idempotency-Key is in use' },
      422: { description: 'The servicing workflow refused the repayment, or the Idempotency-Key was used with another body' },
      503: { description: 'Temporal did not answer in time: retry with the same reference' },
    },
    async handle({ staff, params, body, actId }) {
      const loan = await loadLoan(ctx, params.id);
      checkPaidAt(loan, body.paidAt);
      const known = await moneyByReference(ctx.db, loan.id, body.reference);
      if (known && (known.amountFen !== body.amountFen || known.kind !== 'repayment')) {
        throw new ProblemError('reference_conflict', 'This payment reference was recorded with another amount', { reference: body.reference, code: 'REFERENCE_CONFLICT' });
      }
      const paidAt = new Date(body.paidAt).toISOString();
      let answer;
      if (known) {
        answer = duplicateAnswer((await readLedger(ctx.db, loan.id)) as StoredLedger, body.reference);
      } else {
        const state = (await sendAct(ctx, loan, staff, repaymentRecordedUpdate, { actor: staff.id, amountFen: body.amountFen, paidAt, reference: body.reference }, `repayment-${actId}`)) as ServicingState;
        const last = state.lastRepayment;
        if (last?.outcome === 'conflict') throw new ProblemError('reference_conflict', 'This payment reference was recorded with another amount', { reference: body.reference, code: 'REFERENCE_CONFLICT' });
        if (!last || last.outcome === 'rejected') throw new ProblemError('invalid_act', `The servicing workflow rejected the repayment (${last?.reason ?? 'REFUSED'})`, { code: 'REPAYMENT_REJECTED' });
        answer = { loanId: loan.id, reference: body.reference, outcome: last.outcome, kind: last.kind, allocations: last.allocations, ...stateFigures(state) };
      }
      await audit(ctx.db, {
        eventKey: `api:repayment_recorded:${loan.id}:${actId}`,
        applicationId: loan.applicationId,
        kind: 'repayment_recorded',
        actor: staff.id,
        stage: 'servicing',
        data: { loanId: loan.id, reference: body.reference, amountFen: body.amountFen, paidAt, outcome: answer.outcome },
        after: { status: answer.status, bucket: answer.bucket, outstandingPrincipalFen: answer.outstandingPrincipalFen },
      });
      return { status: 200, body: answer };
    },
  });

  const prepayment = defineOperation({
    operationId: 'recordPrepayment',
    method: 'post',
    path: '/loans/:id/prepayments',
    summary: 'Record a partial prepayment: the rest of the principal is re-amortised from the next due date',
    description:
      'What is due is paid first; the rest repays principal ahead of schedule, with the current period\'s interest on it to the day and the early-repayment fee of the product (3% in the first year, 1% in the second, none after). The schedule gets a new version (the old one is kept), the customer is texted the new instalment. Idempotent by the bank reference like a repayment.',
    tags: TAGS,
    auth: { kind: 'staff', roles: FINANCE },
    params: LoanIdParams,
    body: PrepaymentBody,
    examples: PREPAYMENT_EXAMPLES,
    idempotent: true,
    responses: {
      200: { description: 'Recorded (or recorded before with this reference and amount)', schema: RepaymentResult, example: PREPAYMENT_RESULT_EXAMPLE },
      404: { description: 'No loan has this id' },
      409: { description: 'The reference was recorded with another amount, the loan is closed, or the Idempotency-Key is in use' },
      422: { description: 'The servicing workflow refused it, or the Idempotency-Key was used with another body' },
      503: { description: 'Temporal did not answer in time: retry with the same reference' },
    },
    async handle({ staff, params, body, actId }) {
      const loan = await loadLoan(ctx, params.id);
      const paidAt = new Date(body.paidAt ?? Date.now()).toISOString();
      checkPaidAt(loan, paidAt);
      const known = await moneyByReference(ctx.db, loan.id, body.reference);
      if (known && (known.amountFen !== body.amountFen || known.kind !== 'prepayment')) {
        throw new ProblemError('reference_conflict', 'This payment reference was recorded with another amount', { reference: body.reference, code: 'REFERENCE_CONFLICT' });
      }
      let answer;
      if (known) answer = duplicateAnswer((await readLedger(ctx.db, loan.id)) as StoredLedger, body.reference);
      else {
        const state = (await sendAct(ctx, loan, staff, prepaymentRequestedUpdate, { actor: staff.id, amountFen: body.amountFen, paidAt, reference: body.reference, mode: body.mode }, `prepayment-${actId}`)) as ServicingState;
        const last = state.lastRepayment;
        if (last?.outcome === 'conflict') throw new ProblemError('reference_conflict', 'This payment reference was recorded with another amount', { reference: body.reference, code: 'REFERENCE_CONFLICT' });
        if (!last || last.outcome === 'rejected') throw new ProblemError('invalid_act', `The servicing workflow rejected the prepayment (${last?.reason ?? 'REFUSED'})`, { code: 'PREPAYMENT_REJECTED' });
        answer = { loanId: loan.id, reference: body.reference, outcome: last.outcome, kind: last.kind, allocations: last.allocations, newSchedule: last.newSchedule ?? null, ...stateFigures(state) };
      }
      await audit(ctx.db, {
        eventKey: `api:prepayment_recorded:${loan.id}:${actId}`,
        applicationId: loan.applicationId,
        kind: 'prepayment_recorded',
        actor: staff.id,
        stage: 'servicing',
        data: { loanId: loan.id, reference: body.reference, amountFen: body.amountFen, mode: body.mode, paidAt, outcome: answer.outcome },
        after: { status: answer.status, outstandingPrincipalFen: answer.outstandingPrincipalFen },
      });
      return { status: 200, body: answer };
    },
  });

  /** The answer to a request or an approval, with the loan's figures and what still waits. */
  const requestAnswer = async (loan: LoanRow, kind: ServicingRequestKind, requestId: string, state: ServicingState | null) => {
    let s = state;
    if (!s) {
      // Already pending: the same request, answered as it stands.
      const handle = ctx.temporal.workflow.getHandle(loanServicingWorkflowId(loan.id));
      s = await ctx.temporal.connection.withDeadline(Date.now() + ACCEPT_TIMEOUT_MS, () => handle.query('servicingState')) as ServicingState;
    }
    const status = s.lastRequest?.requestId === requestId ? (s.lastRequest.status === 'pending' ? 'pending_approval' : s.lastRequest.status) : 'pending_approval';
    return {
      httpStatus: status === 'pending_approval' ? 202 : 200,
      body: {
        loanId: loan.id,
        requestId,
        kind,
        status: status as 'pending_approval' | 'applied' | 'rejected',
        ...(s.lastRequest?.requestId === requestId && s.lastRequest.waivedFen !== undefined ? { waivedFen: s.lastRequest.waivedFen } : {}),
        ...(s.lastRequest?.requestId === requestId && s.lastRequest.refundedFen !== undefined ? { refundedFen: s.lastRequest.refundedFen } : {}),
        loanStatus: s.status,
        outstandingPrincipalFen: s.outstandingPrincipalFen,
        overdueFen: s.overdueFen ?? 0,
        penaltyFen: s.penaltyFen ?? 0,
        creditFen: s.creditFen,
        pendingApprovals: s.pendingApprovals ?? [],
      },
    };
  };

  const requestResponses = {
    202: { description: 'Recorded; it takes effect when a second, different finance user approves it', schema: ServicingRequestResult, example: SERVICING_REQUEST_EXAMPLE },
    404: { description: 'No loan (or no repayment) has this id' },
    409: { description: 'The loan is closed, too many requests wait for approval, or the Idempotency-Key is in use' },
    422: { description: 'The ledger refuses it (more than is owed, more than the credit held, a refund depends on the payment), or the Idempotency-Key was used with another body' },
    503: { description: 'Temporal did not answer in time: retry with the same Idempotency-Key' },
  };
  const approvalResponses = {
    200: { description: 'Approved (and applied) or rejected', schema: ServicingRequestResult, example: SERVICING_APPROVED_EXAMPLE },
    403: { description: 'The finance user who asked cannot approve it' },
    404: { description: 'No loan has this id, or no request with this id waits for approval' },
    409: { description: 'Already approved or rejected, or the Idempotency-Key is in use' },
    422: { description: 'The ledger (or the payment provider, for a refund) refuses it now, or the Idempotency-Key was used with another body' },
    503: { description: 'Temporal did not answer in time: retry with the same Idempotency-Key' },
  };

  const auditAct = (loan: LoanRow, kind: LoanEventKind, actor: string, actId: string, data: Record<string, unknown>, result: { body: { status: string; creditFen: number; outstandingPrincipalFen: number } }) =>
    audit(ctx.db, {
      eventKey: `api:${kind}:${loan.id}:${actId}`,
      applicationId: loan.applicationId,
      kind,
      actor,
      stage: 'servicing',
      data: { loanId: loan.id, status: result.body.status, ...data },
      after: { creditFen: result.body.creditFen, outstandingPrincipalFen: result.body.outstandingPrincipalFen },
    });

  const reversalRequestId = (reference: string) => `rv-${sha256Hex(reference).slice(0, 24)}`;

  const reversal = defineOperation({
    operationId: 'requestReversal',
    method: 'post',
    path: '/loans/:id/repayments/:reference/reversal',
    summary: 'Ask to reverse a repayment booked in error (takes effect on a second finance user\'s approval)',
    description: 'Once approved, the ledger is recomputed as if the payment had never been received, from its value date: penalties accrue again. One reversal per reference.',
    tags: TAGS,
    auth: { kind: 'staff', roles: FINANCE },
    params: LoanReferenceParams,
    body: ReversalBody,
    examples: REVERSAL_EXAMPLES,
    idempotent: true,
    responses: requestResponses,
    async handle({ staff, params, body, actId }) {
      const loan = await loadLoan(ctx, params.id);
      if (!(await moneyByReference(ctx.db, loan.id, params.reference))) throw new ProblemError('not_found', 'No repayment has this reference');
      const requestId = reversalRequestId(params.reference);
      const state = await sendAct(ctx, loan, staff, reversalRequestedUpdate, { actor: staff.id, requestId, reference: params.reference, reasonCode: body.reasonCode }, `reversal-${actId}`);
      const r = await requestAnswer(loan, 'reversal', requestId, state);
      await auditAct(loan, 'reversal_requested', staff.id, actId, { requestId, reference: params.reference, reasonCode: body.reasonCode, reason: body.reason ?? null }, r);
      return { status: r.httpStatus, body: r.body };
    },
  });

  const approve = (kind: ServicingRequestKind, path: string, summary: string, requestIdOf: (p: Record<string, string>) => string, params: typeof LoanReferenceParams | typeof LoanRequestParams) =>
    defineOperation({
      operationId: `approve${kind[0]!.toUpperCase()}${kind.slice(1)}`,
      method: 'post',
      path,
      summary,
      description: 'Four eyes: a finance user other than the one who asked. `decision: reject` drops the request (the one who asked may reject it too).',
      tags: TAGS,
      auth: { kind: 'staff', roles: FINANCE },
      params,
      body: ApprovalBody,
      bodyRequired: false,
      examples: APPROVAL_EXAMPLES,
      idempotent: true,
      responses: approvalResponses,
      async handle({ staff, params: p, body, actId }) {
        const loan = await loadLoan(ctx, (p as { id: string }).id);
        const requestId = requestIdOf(p as Record<string, string>);
        const decision = body?.decision ?? 'approve';
        const state = await sendAct(ctx, loan, staff, servicingApprovalUpdate, { actor: staff.id, requestId, decision, kind }, `approval-${actId}`);
        const r = await requestAnswer(loan, kind, requestId, state);
        await auditAct(loan, `${kind}_${decision === 'approve' ? 'approved' : 'rejected'}`, staff.id, actId, { requestId, comment: body?.comment ?? null }, r);
        return { status: 200, body: r.body };
      },
    });

  const reversalApproval = approve('reversal', '/loans/:id/repayments/:reference/reversal/approve', 'Approve (or reject) the reversal of a repayment', (p) => reversalRequestId(p.reference as string), LoanReferenceParams);

  const waiver = defineOperation({
    operationId: 'requestWaiver',
    method: 'post',
    path: '/loans/:id/waivers',
    summary: 'Ask to waive penalty, interest or early-repayment fee (takes effect on a second finance user\'s approval)',
    description: 'Penalty and interest: at most what is owed now, oldest instalment first. Fee: taken off the early-repayment fee of the next prepayment or payoff.',
    tags: TAGS,
    auth: { kind: 'staff', roles: FINANCE },
    params: LoanIdParams,
    body: WaiverBody,
    examples: WAIVER_EXAMPLES,
    idempotent: true,
    responses: requestResponses,
    async handle({ staff, params, body, actId }) {
      const loan = await loadLoan(ctx, params.id);
      const requestId = `wv-${actId.replace(/-/g, '').slice(0, 24)}`;
      const state = await sendAct(ctx, loan, staff, waiverRequestedUpdate, { actor: staff.id, requestId, component: body.component, amountFen: body.amountFen, reasonCode: body.reasonCode }, `waiver-${actId}`);
      const r = await requestAnswer(loan, 'waiver', requestId, state);
      await auditAct(loan, 'waiver_requested', staff.id, actId, { requestId, component: body.component, amountFen: body.amountFen, reasonCode: body.reasonCode, reason: body.reason ?? null }, r);
      return { status: r.httpStatus, body: r.body };
    },
  });
  const waiverApproval = approve('waiver', '/loans/:id/waivers/:requestId/approve', 'Approve (or reject) a waiver', (p) => p.requestId as string, LoanRequestParams);

  const refund = defineOperation({
    operationId: 'requestRefund',
    method: 'post',
    path: '/loans/:id/refunds',
    summary: 'Ask to refund unapplied credit to the customer (paid by the payment provider on a second finance user\'s approval)',
    description: 'At most the credit held. Also after the loan closed with money left over.',
    tags: TAGS,
    auth: { kind: 'staff', roles: FINANCE },
    params: LoanIdParams,
    body: RefundBody,
    examples: REFUND_EXAMPLES,
    idempotent: true,
    responses: requestResponses,
    async handle({ staff, params, body, actId }) {
      const loan = await loadLoan(ctx, params.id);
      const requestId = `rf-${actId.replace(/-/g, '').slice(0, 24)}`;
      const state = await sendAct(ctx, loan, staff, refundRequestedUpdate, { actor: staff.id, requestId, amountFen: body.amountFen, reasonCode: body.reasonCode }, `refund-${actId}`);
      const r = await requestAnswer(loan, 'refund', requestId, state);
      await auditAct(loan, 'refund_requested', staff.id, actId, { requestId, amountFen: body.amountFen, reasonCode: body.reasonCode, reason: body.reason ?? null }, r);
      return { status: r.httpStatus, body: r.body };
    },
  });
  const refundApproval = approve('refund', '/loans/:id/refunds/:requestId/approve', 'Approve (or reject) a refund: the provider pays it once', (p) => p.requestId as string, LoanRequestParams);

  return [list, schedule, statement, quote, repayment, prepayment, reversal, reversalApproval, waiver, waiverApproval, refund, refundApproval];
}
