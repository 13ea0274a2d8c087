import { loadConfig } from '../../../src/config';
import { actKeyRingFromConfig, actSignerFromConfig } from '../../../src/temporal/actKeys';
import { refuseServicingAct, samePerson, SERVICING_ACT_PROOFS, type ServicingActName, type ServicingActView } from '../../../src/workflows/servicingActs';
import type { PendingApproval } from '../../../src/workflows/servicingMessages';

// The one validator behind every update and signal of the loan-servicing workflow. The rules of
// each act are tested without proofs (\`proofs: null\`, as for an act taken from the queue); the
// proof every act must carry first is tested at the end with the API's own signer.

const NOW = Date.parse('2026-03-01T04:00:00Z'); // 12:00 in Shanghai on 1 March
const pendingRefund: PendingApproval = { requestId: 'rf-1', kind: 'refund', requestedBy: 'finance-1', requestedAt: '2026-03-01T03:00:00Z', reasonCode: 'OVERPAYMENT', amountFen: 500 };
const view = (over: Partial<ServicingActView> = {}): ServicingActView => ({
  nowMs: NOW,
  disbursementDate: '2026-01-15',
  closed: false,
  creditFen: 1_000,
  pending: [],
  decided: [],
  proofs: null,
  ...over,
});
const pay = (over: Record<string, unknown> = {}) => ({ actor: 'finance-1', amountFen: 100_000, paidAt: '2026-03-01T10:00:00+08:00', reference: 'bank-1', ...over });
const code = (r: ReturnType<typeof refuseServicingAct>) => r?.code ?? null;

describe('money received', () => {
  test('a valid repayment is accepted', () => {
    expect(refuseServicingAct('repayment', pay(), view())).toBeNull();
  });

  test.each([
    [{ actor: '' }, 'INVALID_ACT'],
    [{ amountFen: 0 }, 'INVALID_AMOUNT'],
    [{ amountFen: -5 }, 'INVALID_AMOUNT'],
    [{ amountFen: 12.5 }, 'INVALID_AMOUNT'],
    [{ amountFen: 1_000_000_000_001 }, 'INVALID_AMOUNT'],
    [{ reference: 'has space' }, 'INVALID_REFERENCE'],
    [{ reference: 'x'.repeat(129) }, 'INVALID_REFERENCE'],
    [{ paidAt: 'yesterday' }, 'INVALID_PAID_AT'],
    // More than the 5-minute skew ahead of the workflow's clock.
    [{ paidAt: new Date(NOW + 6 * 60_000).toISOString() }, 'INVALID_PAID_AT'],
    [{ paidAt: '2026-01-14T12:00:00+08:00' }, 'INVALID_PAID_AT'],
  ])('%j is refused as %s', (over, expected) => {
    expect(code(refuseServicingAct('repayment', pay(over) as never, view()))).toBe(expected);
  });

  test('a few minutes ahead is within the skew; after closure a repayment is still taken (held as credit), a prepayment is not', () => {
    expect(refuseServicingAct('repayment', pay({ paidAt: new Date(NOW + 4 * 60_000).toISOString() }), view())).toBeNull();
    expect(refuseServicingAct('repayment', pay(), view({ closed: true }))).toBeNull();
    expect(code(refuseServicingAct('prepayment', { ...pay(), mode: 'reduce_term' }, view({ closed: true })))).toBe('LOAN_CLOSED');
    expect(code(refuseServicingAct('prepayment', { ...pay(), mode: 'shorter' as never }, view()))).toBe('INVALID_ACT');
  });
});

describe('four-eyes requests and approvals', () => {
  const waiver = { actor: 'finance-1', requestId: 'wv-1', component: 'penalty' as const, amountFen: 300, reasonCode: 'GOODWILL' };

  test('requests need an id, a reason code, and what they are about', () => {
    expect(refuseServicingAct('waiver', waiver, view())).toBeNull();
    expect(code(refuseServicingAct('waiver', { ...waiver, requestId: 'has space' }, view()))).toBe('INVALID_ACT');
    expect(code(refuseServicingAct('waiver', { ...waiver, reasonCode: 'goodwill' }, view()))).toBe('INVALID_ACT');
    expect(code(refuseServicingAct('waiver', { ...waiver, component: 'principal' as never }, view()))).toBe('INVALID_ACT');
    expect(code(refuseServicingAct('waiver', { ...waiver, amountFen: 0 }, view()))).toBe('INVALID_AMOUNT');
    expect(code(refuseServicingAct('reversal', { actor: 'finance-1', requestId: 'rv-1', reference: '', reasonCode: 'BOOKED_IN_ERROR' }, view()))).toBe('INVALID_REFERENCE');
    expect(code(refuseServicingAct('refund', { actor: 'finance-1', requestId: 'rf-2', amountFen: 1_001, reasonCode: 'OVERPAYMENT' }, view()))).toBe('LEDGER_REFUSED');
  });

  test('the same request again is pending or decided; a closed loan takes refunds only; requests waiting are bounded', () => {
    expect(code(refuseServicingAct('refund', { actor: 'finance-1', requestId: 'rf-1', amountFen: 500, reasonCode: 'OVERPAYMENT' }, view({ pending: [pendingRefund] })))).toBe('ALREADY_PENDING');
    expect(code(refuseServicingAct('waiver', waiver, view({ decided: ['wv-1'] })))).toBe('ALREADY_DECIDED');
    expect(code(refuseServicingAct('waiver', waiver, view({ closed: true })))).toBe('LOAN_CLOSED');
    expect(refuseServicingAct('refund', { actor: 'finance-1', requestId: 'rf-9', amountFen: 500, reasonCode: 'OVERPAYMENT' }, view({ closed: true }))).toBeNull();
    const many = Array.from({ length: 20 }, (_, i) => ({ ...pendingRefund, requestId: `rf-x${i}` }));
    expect(code(refuseServicingAct('waiver', waiver, view({ pending: many })))).toBe('TOO_MANY_PENDING');
  });

  test('only a second, different finance user approves; the one who asked may reject', () => {
    const v = view({ pending: [pendingRefund] });
    expect(code(refuseServicingAct('approval', { actor: 'finance-1', requestId: 'rf-1', decision: 'approve' }, v))).toBe('SAME_FINANCE_USER');
    // Identities compare trimmed and without case.
    expect(code(refuseServicingAct('approval', { actor: ' FINANCE-1 ', requestId: 'rf-1', decision: 'approve' }, v))).toBe('SAME_FINANCE_USER');
    expect(samePerson('Fin-1', 'fin-1 ')).toBe(true);
    expect(refuseServicingAct('approval', { actor: 'finance-2', requestId: 'rf-1', decision: 'approve' }, v)).toBeNull();
    expect(refuseServicingAct('approval', { actor: 'finance-1', requestId: 'rf-1', decision: 'reject' }, v)).toBeNull();
    expect(code(refuseServicingAct('approval', { actor: 'finance-2', requestId: 'rf-1', decision: 'maybe' as never }, v))).toBe('INVALID_ACT');
    expect(code(refuseServicingAct('approval', { actor: 'finance-2', requestId: 'rf-7', decision: 'approve' }, v))).toBe('UNKNOWN_REQUEST');
    expect(code(refuseServicingAct('approval', { actor: 'finance-2', requestId: 'rf-7', decision: 'approve' }, view({ decided: ['rf-7'] })))).toBe('ALREADY_DECIDED');
    // The route's kind must match the request's.
    expect(code(refuseServicingAct('approval', { actor: 'finance-2', requestId: 'rf-1', decision: 'approve', kind: 'waiver' }, v))).toBe('UNKNOWN_REQUEST');
    // A refund larger than the credit now held is refused at approval too.
    expect(code(refuseServicingAct('approval', { actor: 'finance-2', requestId: 'rf-1', decision: 'approve' }, view({ pending: [pendingRefund], creditFen: 499 })))).toBe('LEDGER_REFUSED');
  });
});

describe('payoff quotes', () => {
  test('today up to 30 days ahead, of an open loan', () => {
    const q = (asOfDate: string, v = view()) => code(refuseServicingAct('payoffQuote', { actor: 'finance-1', asOfDate }, v));
    expect(q('2026-03-01')).toBeNull();
    expect(q('2026-03-31')).toBeNull();
    expect(q('2026-04-01')).toBe('INVALID_PAYOFF_DATE');
    expect(q('2026-02-28')).toBe('INVALID_PAYOFF_DATE');
    expect(q('2026-02-30')).toBe('INVALID_PAYOFF_DATE');
    expect(q('2026-03-05', view({ closed: true }))).toBe('LOAN_CLOSED');
  });

  test('an unknown act is refused', () => {
    expect(code(refuseServicingAct('teleport' as never, { actor: 'x' } as never, view()))).toBe('INVALID_ACT');
  });
});

describe('the API\'s proof, checked before anything else', () => {
  const dev = loadConfig({});
  const signer = actSignerFromConfig(dev);
  const WF = 'loan-servicing-L-1';
  const APP_WF = 'loan-application-app-1';
  const proofs = { workflowId: WF, applicationWorkflowId: APP_WF, ring: actKeyRingFromConfig(dev) };
  const signedView = (over: Partial<ServicingActView> = {}) => view({ proofs, ...over });
  const sign = <P extends { actor: string }>(name: ServicingActName, payload: P, o: { roles?: string[]; nowMs?: number; workflowId?: string } = {}) =>
    signer.sign(SERVICING_ACT_PROOFS[name].act, o.workflowId ?? (name === 'collateral' ? APP_WF : WF), payload, {
      actor: payload.actor,
      roles: o.roles ?? [...SERVICING_ACT_PROOFS[name].roles],
      actId: 'act-1',
      nowMs: o.nowMs ?? NOW,
    });
  const every: [ServicingActName, { actor: string } & Record<string, unknown>][] = [
    ['repayment', pay()],
    ['prepayment', { ...pay(), mode: 'reduce_term' }],
    ['reversal', { actor: 'finance-1', requestId: 'rv-1', reference: 'bank-1', reasonCode: 'BOOKED_IN_ERROR' }],
    ['waiver', { actor: 'finance-1', requestId: 'wv-1', component: 'penalty', amountFen: 300, reasonCode: 'GOODWILL' }],
    ['refund', { actor: 'finance-1', requestId: 'rf-2', amountFen: 500, reasonCode: 'OVERPAYMENT' }],
    ['approval', { actor: 'finance-2', requestId: 'rf-1', decision: 'approve' }],
    ['payoffQuote', { actor: 'finance-1', asOfDate: '2026-03-05' }],
    ['collateral', { actor: 'officer-1', registrationRef: 'GA-1', registeredAt: '2026-03-01T10:00:00+08:00' }],
  ];
  const v = signedView({ pending: [pendingRefund] });
  const refusedFor = (name: ServicingActName, payload: unknown, at = v) => {
    const r = refuseServicingAct(name, payload as never, at);
    return r ? [r.code, r.problem, r.late] : null;
  };

  test.each(every)('%s: accepted signed, refused NOT_AUTHENTICATED unsigned, tampered, for another act, run or role', (name, payload) => {
    expect(refusedFor(name, sign(name, payload))).toBeNull();
    expect(refusedFor(name, payload)).toEqual(['NOT_AUTHENTICATED', 'missing', false]);
    expect(refusedFor(name, { ...sign(name, payload), actor: 'someone-else' })).toEqual(['NOT_AUTHENTICATED', 'tampered', false]);
    const other: ServicingActName = name === 'repayment' ? 'prepayment' : 'repayment';
    expect(refusedFor(name, { ...payload, proof: sign(other, payload, { workflowId: name === 'collateral' ? APP_WF : WF }).proof })).toEqual(['NOT_AUTHENTICATED', 'wrong_act', false]);
    expect(refusedFor(name, sign(name, payload, { workflowId: name === 'collateral' ? WF : 'loan-servicing-L-2' }))).toEqual(['NOT_AUTHENTICATED', 'wrong_workflow', false]);
    expect(refusedFor(name, sign(name, payload, { roles: ['collections'] }))).toEqual(['NOT_AUTHENTICATED', 'role_missing', false]);
  });

  test('a proof the API signed that came too late is refused as late (its sender signs anew); a forgery is refused whatever else is wrong with it', () => {
    expect(refusedFor('repayment', sign('repayment', pay(), { nowMs: NOW - 11 * 60_000 }))).toEqual(['NOT_AUTHENTICATED', 'expired', true]);
    expect(refusedFor('repayment', pay({ amountFen: -5 }))).toEqual(['NOT_AUTHENTICATED', 'missing', false]);
    expect(refusedFor('repayment', sign('repayment', pay({ amountFen: -5 })))).toEqual(['INVALID_AMOUNT', undefined, undefined]);
  });
});
