/**
 * Reversals, waivers and refunds under four eyes: a request waits in the run (carried across
 * continue-as-new) until a second, different finance user approves or rejects it; only then is it
 * booked (a refund after the payment provider paid it).
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { ServicingRequest } from '../../activities/loans';
import { FailureType } from '../../contracts/failures';
import type { ServicingRefusal } from '../servicingActs';
import type { PendingApproval, ServicingRequestKind } from '../servicingMessages';
import { call, db, payments } from './activities';
import { reassess } from './calendar';
import { DECIDED_KEPT, type Queued, type RequestPayload } from './carried';
import type { Answer, ServicingRun } from './run';

type RequestFields = RequestPayload & { reference?: string; component?: 'penalty' | 'interest' | 'fee'; amountFen?: number };

const refusal = (code: ServicingRefusal['code'], message: string): Answer => ({ refusal: { code, message } });

function toRequest(kind: ServicingRequestKind, p: RequestPayload, approvedBy?: string): ServicingRequest {
  const a = p as RequestFields;
  if (kind === 'reversal') return { kind, requestId: a.requestId, reference: a.reference as string, reasonCode: a.reasonCode, actor: a.actor, approvedBy };
  if (kind === 'waiver') return { kind, requestId: a.requestId, component: a.component as 'penalty', amountFen: a.amountFen as number, reasonCode: a.reasonCode, actor: a.actor, approvedBy };
  return { kind, requestId: a.requestId, amountFen: a.amountFen as number, reasonCode: a.reasonCode, actor: a.actor, approvedBy };
}

/** A request checked against the ledger, then left pending for its approval. */
export async function requestAct(run: ServicingRun, m: Extract<Queued, { kind: 'request' }>): Promise<void> {
  const again = run.refuse(m.request, m.payload as never);
  if (again) {
    if (again.code === 'ALREADY_PENDING') run.answer(m.ticket, { state: run.state({ lastRequest: { requestId: m.payload.requestId, kind: m.request, status: 'pending' } }) });
    else run.answer(m.ticket, { refusal: again });
    return;
  }
  const { refusal: code } = await call(db.checkServicingRequest, `check the ${m.request} against the ledger`, { loanId: run.loanId, asOfDate: run.today(), request: toRequest(m.request, m.payload) });
  if (code) {
    await run.event(`${m.request}_refused:${m.payload.requestId}`, `${m.request}_refused`, { requestId: m.payload.requestId, code }, m.payload.actor);
    run.answer(m.ticket, refusal('LEDGER_REFUSED', `${code}: the ledger refuses this ${m.request}`));
    return;
  }
  const a = m.payload as RequestFields;
  run.carried.pending.push({
    requestId: a.requestId,
    kind: m.request,
    requestedBy: a.actor,
    requestedAt: new Date().toISOString(),
    reasonCode: a.reasonCode,
    ...(a.reference !== undefined ? { reference: a.reference } : {}),
    ...(a.component !== undefined ? { component: a.component } : {}),
    ...(a.amountFen !== undefined ? { amountFen: a.amountFen } : {}),
  });
  await run.event(`${m.request}_requested:${a.requestId}`, `${m.request}_requested`, { requestId: a.requestId, reasonCode: a.reasonCode, reference: a.reference ?? null, component: a.component ?? null, amountFen: a.amountFen ?? null }, a.actor);
  run.answer(m.ticket, { state: run.state({ lastRequest: { requestId: a.requestId, kind: m.request, status: 'pending' } }) });
}

/** One approval being applied: its request, and what ending it (decided, recorded, answered) does. */
interface Deciding {
  run: ServicingRun;
  m: Extract<Queued, { kind: 'approval' }>;
  request: PendingApproval;
  /** What every loan_events row of the decision carries. */
  data: Record<string, unknown>;
}

/** The request is decided: no longer pending, remembered as decided. */
function decided({ run, request }: Deciding): void {
  run.carried.pending = run.carried.pending.filter((r) => r.requestId !== request.requestId);
  run.carried.decided = [...run.carried.decided, request.requestId].slice(-DECIDED_KEPT);
}

function done({ run, m, request }: Deciding, status: 'applied' | 'rejected', extra: { waivedFen?: number; refundedFen?: number } = {}): void {
  run.answer(m.ticket, { state: run.state({ lastRequest: { requestId: request.requestId, kind: request.kind, status, ...extra } }) });
}

/**
 * A refund is paid before it is booked: checked against the ledger, then paid by the provider.
 * Answers the provider's reference, or null when the refund ended here (refused, recorded, answered).
 */
async function payRefund(d: Deciding, booking: ServicingRequest): Promise<string | null> {
  const { run, m, request, data } = d;
  const actor = m.payload.actor;
  const check = await call(db.checkServicingRequest, `check the approved ${request.kind} against the ledger`, { loanId: run.loanId, asOfDate: run.today(), request: booking });
  if (check.refusal) {
    decided(d);
    await run.event(`refund_refused:${request.requestId}`, 'refund_refused', { ...data, code: check.refusal }, actor);
    run.answer(m.ticket, refusal('LEDGER_REFUSED', `${check.refusal}: the ledger refuses this refund`));
    return null;
  }
  try {
    return (await call(payments.refundToCustomer, 'pay the refund to the customer', { loanId: run.loanId, refundId: request.requestId, amountFen: request.amountFen as number })).providerRefundId;
  } catch (err) {
    const refusedByProvider = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === FailureType.PaymentRefused;
    if (!refusedByProvider) throw err;
    decided(d);
    await run.event(`refund_failed:${request.requestId}`, 'refund_failed', data, actor);
    run.answer(m.ticket, refusal('REFUND_REFUSED', 'the payment provider refused the refund'));
    return null;
  }
}

/** The second finance user's decision on a pending request: rejected, or booked (a refund paid first). */
export async function approvalAct(run: ServicingRun, m: Extract<Queued, { kind: 'approval' }>): Promise<void> {
  const a = m.payload;
  run.deciding.delete(a.requestId);
  const again = run.refuse('approval', a);
  if (again) return run.answer(m.ticket, { refusal: again });
  const request = run.carried.pending.find((r) => r.requestId === a.requestId) as PendingApproval;
  const data = { requestId: request.requestId, requestedBy: request.requestedBy, reasonCode: request.reasonCode, reference: request.reference ?? null, component: request.component ?? null, amountFen: request.amountFen ?? null };
  const d: Deciding = { run, m, request, data };
  if (a.decision === 'reject') {
    decided(d);
    await run.event(`${request.kind}_rejected:${request.requestId}`, `${request.kind}_rejected`, data, a.actor);
    return done(d, 'rejected');
  }
  const booking = toRequest(request.kind, { ...request, actor: request.requestedBy } as never, a.actor);
  let providerRef: string | undefined;
  if (request.kind === 'refund') {
    const paid = await payRefund(d, booking);
    if (paid === null) return;
    providerRef = paid;
  }
  const r = await run.book(request.kind === 'refund' ? ({ ...booking, providerRef } as ServicingRequest) : booking, request.kind === 'refund');
  decided(d);
  if (r.outcome === 'refused' || r.outcome === 'conflict') {
    await run.event(`${request.kind}_refused:${request.requestId}`, `${request.kind}_refused`, { ...data, code: r.code }, a.actor);
    return run.answer(m.ticket, refusal('LEDGER_REFUSED', `${r.code}: the ledger refuses this ${request.kind}`));
  }
  await run.event(`${request.kind}_approved:${request.requestId}`, `${request.kind}_approved`, { ...data, approvedBy: a.actor, waivedFen: r.waivedFen, providerRef: providerRef ?? null }, a.actor);
  await reassess(run, run.today());
  done(d, 'applied', request.kind === 'waiver' ? { waivedFen: r.waivedFen } : request.kind === 'refund' ? { refundedFen: request.amountFen ?? 0 } : {});
}
