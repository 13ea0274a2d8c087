import { buildOffer, type Stage } from '../../../src/domain';
import { decideAct, type ActName, type ActPayloads, type ActView } from '../../../src/workflows/loanApplication/decideAct';
import { payeeKind, sandboxAccountNumber } from '../../../src/activities/payments';

// The one judge of every act of the loan-application workflow: update validators and handlers alike.

const offer = buildOffer({ amountFen: 25_000_000, termMonths: 36, repaymentMethod: 'equal_installment', annualRateBps: 650 });
interface ViewOptions {
  stage?: Stage;
  offer?: ActView['state']['offer'];
  envelopeId?: string | null;
  collateralRegistered?: boolean;
  seenActIds?: Set<string>;
  awaitingPhoneOutcome?: boolean;
  awaitingApproval?: boolean;
  approvals?: string[];
  contractSigned?: boolean;
  withdrawRequested?: boolean;
  upcoming?: ActName | null;
}
const view = (o: ViewOptions = {}): ActView => ({
  input: { submittedBy: 'officer-1', amountFen: 25_000_000, termMonths: 36, repaymentMethod: 'equal_installment' },
  state: { stage: o.stage ?? 'approval', offer: o.offer === undefined ? offer : o.offer, riskGrade: 'B', envelopeId: o.envelopeId ?? null, collateralRegistered: o.collateralRegistered ?? false },
  seenActIds: o.seenActIds ?? new Set(),
  awaitingPhoneOutcome: o.awaitingPhoneOutcome ?? false,
  awaitingApproval: o.awaitingApproval ?? true,
  approvals: o.approvals ?? [],
  maxLoanFen: 30_000_000,
  signature: o.contractSigned ? { actor: 'o', source: 'on_site', signedAt: '2026-11-22T10:00:00+08:00' } : null,
  withdrawal: o.withdrawRequested ? { actor: 'o' } : null,
  upcoming: o.upcoming ?? null,
});
/** The refusal decideAct gives, or null when it accepts the act. */
function refuseAct<N extends ActName>(name: N, payload: ActPayloads[N], v: ActView) {
  const d = decideAct(name, payload, v);
  return d.verdict === 'refuse' ? d.refusal : null;
}
const approve = (actor: string, extra = {}) => ({ actor, decision: 'approve' as const, ...extra });

describe('decideAct', () => {
  it('needs an actor and refuses a repeated act id', () => {
    expect(refuseAct('withdraw', { actor: '' }, view())?.code).toBe('INVALID_ACT');
    expect(refuseAct('withdraw', { actor: 'o', actId: 'a1' }, view({ seenActIds: new Set(['a1']) }))?.code).toBe('ALREADY_APPLIED');
  });

  it('four eyes: never the submitter, the same approver once, a second approver completes', () => {
    expect(refuseAct('approvalDecision', approve('officer-1'), view())?.code).toBe('SUBMITTER_CANNOT_APPROVE');
    expect(refuseAct('approvalDecision', { actor: 'officer-1', decision: 'reject', reasonCode: 'OTHER' }, view())?.code).toBe('SUBMITTER_CANNOT_APPROVE');
    expect(refuseAct('approvalDecision', approve('a1'), view())).toBeNull();
    expect(refuseAct('approvalDecision', approve('a1'), view({ approvals: ['a1'] }))?.code).toBe('ALREADY_APPROVED_BY_THIS_APPROVER');
    expect(refuseAct('approvalDecision', approve('a2'), view({ approvals: ['a1'] }))).toBeNull();
    // A changed offer is a new offer: the approver who approved the old one may approve it.
    expect(refuseAct('approvalDecision', approve('a1', { amountFen: 21_000_000 }), view({ approvals: ['a1'] }))).toBeNull();
  });

  it('counts an approval once: the handler applies the count it was judged with', () => {
    const counted = (d: ReturnType<typeof decideAct>) => (d.verdict === 'accept' && d.effect.act === 'approvalDecision' ? d.effect.count : undefined);
    // 250,000 CNY is above the four-eyes threshold: the first of two approvals.
    expect(counted(decideAct('approvalDecision', approve('a1'), view()))).toEqual({ newOffer: null, counted: true, approvals: ['a1'], requiredApprovals: 2, complete: false });
    expect(counted(decideAct('approvalDecision', approve('a2'), view({ approvals: ['a1'] })))).toMatchObject({ approvals: ['a1', 'a2'], complete: true });
    // New terms are a new offer, priced by the domain, whose approvals start afresh (below the threshold: one is enough).
    const changed = counted(decideAct('approvalDecision', approve('a2', { amountFen: 15_000_000 }), view({ approvals: ['a1'] })));
    expect(changed).toMatchObject({ approvals: ['a2'], requiredApprovals: 1, complete: true });
    expect(changed?.newOffer).toEqual(buildOffer({ amountFen: 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment', annualRateBps: 650 }));
    // The same terms restated are no change.
    expect(counted(decideAct('approvalDecision', approve('a2', { amountFen: 25_000_000 }), view({ approvals: ['a1'] })))).toMatchObject({ newOffer: null, complete: true });
    // No offer could be made: the approver's amount becomes one, at the grade's rate.
    const made = counted(decideAct('approvalDecision', approve('a1', { amountFen: 10_000_000 }), view({ offer: null })));
    expect(made?.newOffer).toMatchObject({ amountFen: 10_000_000, termMonths: 36 });
    // Reject and request_info carry no count.
    expect(decideAct('approvalDecision', { actor: 'a1', decision: 'reject', reasonCode: 'OTHER' }, view())).toMatchObject({ verdict: 'accept', effect: { count: null } });
  });

  it('approver changes stay within the limits; reject and request_info need a reason code', () => {
    expect(refuseAct('approvalDecision', approve('a1', { amountFen: 31_000_000 }), view())?.code).toBe('INVALID_ACT');
    expect(refuseAct('approvalDecision', approve('a1', { termMonths: 18 }), view())?.code).toBe('INVALID_ACT');
    expect(refuseAct('approvalDecision', approve('a1', { annualRateBps: 5000 }), view())?.code).toBe('INVALID_ACT');
    expect(refuseAct('approvalDecision', approve('a1'), view({ offer: null }))?.code).toBe('INVALID_ACT');
    expect(refuseAct('approvalDecision', { actor: 'a1', decision: 'reject' }, view())?.code).toBe('INVALID_ACT');
    expect(refuseAct('approvalDecision', { actor: 'a1', decision: 'request_info', reasonCode: 'DOCUMENTS_MISSING' }, view())).toBeNull();
  });

  it('answers NOT_WAITING with the stage for an act out of its stage', () => {
    const r = refuseAct('approvalDecision', approve('a1'), view({ stage: 'phone_verification', awaitingApproval: false }));
    expect(r).toMatchObject({ code: 'NOT_WAITING', stage: 'phone_verification' });
    expect(refuseAct('documentsSubmitted', { actor: 'o', documentIds: ['d'] }, view())?.code).toBe('NOT_WAITING');
    expect(refuseAct('documentsSubmitted', { actor: 'o', documentIds: [] }, view({ stage: 'document_check' }))?.code).toBe('INVALID_ACT');
    expect(refuseAct('phoneVerificationCompleted', { actor: 'v', outcome: 'passed', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } }, view({ stage: 'phone_verification' }))?.code).toBe('NOT_WAITING');
  });

  it('a passed verification must confirm the identity', () => {
    const v = view({ stage: 'phone_verification', awaitingPhoneOutcome: true });
    const checklist = { identityConfirmed: false, incomeConfirmed: true, purposeConfirmed: true };
    expect(refuseAct('phoneVerificationCompleted', { actor: 'v', outcome: 'passed', checklist }, v)?.code).toBe('INVALID_ACT');
    expect(refuseAct('phoneVerificationCompleted', { actor: 'v', outcome: 'unreachable', checklist }, v)).toBeNull();
  });

  it('a signature is for the open envelope, once', () => {
    const v = view({ stage: 'signing', envelopeId: 'env_1' });
    const signed = { actor: 'esign-provider', source: 'esign_callback' as const, signedAt: '2026-11-22T10:00:00+08:00' };
    expect(refuseAct('contractSigned', { ...signed, envelopeId: 'env_1' }, v)).toBeNull();
    expect(refuseAct('contractSigned', { ...signed, envelopeId: 'env_2' }, v)?.code).toBe('INVALID_ACT');
    expect(refuseAct('contractSigned', signed, view({ stage: 'signing', envelopeId: 'env_1', contractSigned: true }))?.code).toBe('NOT_WAITING');
  });

  it('withdrawal before disbursement only, once', () => {
    const stages: Stage[] = ['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing'];
    for (const stage of stages) expect(refuseAct('withdraw', { actor: 'o' }, view({ stage }))).toBeNull();
    for (const stage of ['disbursement', 'servicing', 'rejected', 'closed'] as Stage[]) {
      expect(refuseAct('withdraw', { actor: 'o' }, view({ stage }))).toMatchObject({ code: 'NOT_WAITING', stage });
    }
    expect(refuseAct('withdraw', { actor: 'o' }, view({ withdrawRequested: true }))?.code).toBe('ALREADY_APPLIED');
  });

  it('collateral registration from signing on, once', () => {
    const reg = { actor: 'o', registrationRef: 'DY-1', registeredAt: '2026-11-22' };
    expect(refuseAct('collateralRegistered', reg, view({ stage: 'signing' }))).toBeNull();
    expect(refuseAct('collateralRegistered', reg, view({ stage: 'servicing' }))).toBeNull();
    expect(refuseAct('collateralRegistered', reg, view({ stage: 'signing', collateralRegistered: true }))?.code).toBe('NOT_WAITING');
    expect(refuseAct('collateralRegistered', reg, view({ stage: 'approval' }))?.code).toBe('NOT_WAITING');
  });
});

describe('decideAct: an act for the stage shown, while the step that takes it still runs', () => {
  const passed = { actor: 'v', outcome: 'passed' as const, checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };
  const notWaiting = (stage: Stage) => ({ code: 'NOT_WAITING', stage, message: expect.stringContaining('not waiting') });

  it('an outcome while the call task is being opened waits for it; one that could never count is refused at once', () => {
    const opening = view({ stage: 'phone_verification', awaitingPhoneOutcome: false, upcoming: 'phoneVerificationCompleted' });
    expect(decideAct('phoneVerificationCompleted', passed, opening)).toEqual({ verdict: 'defer', early: notWaiting('phone_verification') });
    const unconfirmed = decideAct('phoneVerificationCompleted', { ...passed, checklist: { ...passed.checklist, identityConfirmed: false } }, opening);
    expect(unconfirmed).toMatchObject({ verdict: 'refuse', refusal: { code: 'INVALID_ACT' }, early: notWaiting('phone_verification') });
    // The task open: taken at once. No call coming (verified already, attempts used up): not waiting.
    expect(decideAct('phoneVerificationCompleted', passed, view({ stage: 'phone_verification', awaitingPhoneOutcome: true }))).toMatchObject({ verdict: 'accept' });
    expect(decideAct('phoneVerificationCompleted', passed, view({ stage: 'phone_verification', awaitingPhoneOutcome: false }))).toEqual({ verdict: 'refuse', refusal: notWaiting('phone_verification') });
  });

  it('a decision while the rules run waits for them; the submitter and a reject without a reason are refused at once', () => {
    const rules = view({ stage: 'approval', awaitingApproval: false, offer: null, upcoming: 'approvalDecision' });
    expect(decideAct('approvalDecision', approve('a1'), rules)).toEqual({ verdict: 'defer', early: notWaiting('approval') });
    expect(decideAct('approvalDecision', approve('officer-1'), rules)).toMatchObject({ verdict: 'refuse', refusal: { code: 'SUBMITTER_CANNOT_APPROVE' } });
    expect(decideAct('approvalDecision', { actor: 'a1', decision: 'reject' }, rules)).toMatchObject({ verdict: 'refuse', refusal: { code: 'INVALID_ACT' } });
    // Decided already (the wait closed): not waiting.
    expect(decideAct('approvalDecision', approve('a1'), view({ stage: 'approval', awaitingApproval: false }))).toMatchObject({ verdict: 'refuse', refusal: { code: 'NOT_WAITING' } });
  });

  it('a signature while the envelope is being opened waits for it; its envelope is checked once open', () => {
    const onSite = { actor: 'o', source: 'on_site' as const, signedAt: '2026-11-22T10:00:00+08:00' };
    const opening = view({ stage: 'signing', envelopeId: null, upcoming: 'contractSigned' });
    expect(decideAct('contractSigned', onSite, opening)).toEqual({ verdict: 'defer', early: notWaiting('signing') });
    expect(decideAct('contractSigned', { ...onSite, source: 'fax' as never }, opening)).toMatchObject({ verdict: 'refuse', refusal: { code: 'INVALID_ACT' } });
    expect(decideAct('contractSigned', { ...onSite, envelopeId: 'env_9' }, opening)).toMatchObject({ verdict: 'defer' });
    expect(decideAct('contractSigned', { ...onSite, envelopeId: 'env_9' }, view({ stage: 'signing', envelopeId: 'env_1' }))).toMatchObject({ verdict: 'refuse', refusal: { code: 'INVALID_ACT' } });
  });

  it('nothing else waits: another stage than the one shown is not waiting', () => {
    expect(decideAct('documentsSubmitted', { actor: 'o', documentIds: ['d'] }, view({ stage: 'intake' }))).toMatchObject({ verdict: 'refuse', refusal: { code: 'NOT_WAITING' } });
    expect(decideAct('contractSigned', { actor: 'o', source: 'on_site', signedAt: 'x' }, view({ stage: 'approval', upcoming: 'approvalDecision' }))).toMatchObject({ verdict: 'refuse', refusal: { code: 'NOT_WAITING' } });
  });
});

describe('payee', () => {
  it('pays the dealer for the dealer channel and for a new car through a dealer, else the customer', () => {
    expect(payeeKind({ channel: 'dealer', dealerId: 'D-1', condition: 'used' })).toBe('dealer');
    expect(payeeKind({ channel: 'branch', dealerId: 'D-1', condition: 'new' })).toBe('dealer');
    expect(payeeKind({ channel: 'branch', dealerId: 'D-1', condition: 'used' })).toBe('customer');
    expect(payeeKind({ channel: 'online', dealerId: null, condition: 'new' })).toBe('customer');
  });

  it('derives a stable, Luhn-valid sandbox account that is none of the adverse test accounts', () => {
    const a = sandboxAccountNumber('customer:app-1');
    expect(a).toBe(sandboxAccountNumber('customer:app-1'));
    expect(a).not.toBe(sandboxAccountNumber('customer:app-2'));
    expect(a).toMatch(/^6222\d{15}$/);
    const digits = [...a].reverse().map(Number);
    const sum = digits.reduce((s, d, i) => s + (i % 2 === 1 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d), 0);
    expect(sum % 10).toBe(0);
  });
});
