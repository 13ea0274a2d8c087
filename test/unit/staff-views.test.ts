import fc from 'fast-check';
import { signCodecSession, verifyCodecSession } from '../../src/api/codecServer';
import { eventView, maskText, stateView, type ApplicationRow } from '../../src/api/views';
import type { LoanState, StaffRole } from '../../src/workflows/messages';

// Pure parts of what staff see: free text in the audit trail masked like the applicant view, free
// text withheld by role, and the codec's signed browser session.

const personal = { name: '欧阳青云', idNumber: '11010519491231002X', phone: '13912345678' };
const staff = (...roles: StaffRole[]) => ({ id: 'someone', roles: new Set(roles) });

describe('maskText', () => {
  it("masks the applicant's own name, ID number and phone unless the role sees them in full", () => {
    const text = '欧阳青云本人接听，手机13912345678，身份证11010519491231002X';
    expect(maskText(text, personal, new Set())).toBe('欧**云本人接听，手机139****5678，身份证110105********002X');
    expect(maskText(text, personal, new Set(['name', 'phone']))).toBe('欧阳青云本人接听，手机13912345678，身份证110105********002X');
  });

  it('masks anything shaped like an ID or mobile number, whoever it belongs to', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^1[3-9]\d{9}$/), fc.string({ maxLength: 20 }).filter((s) => !/\d/.test(s)), (phone, words) => {
        const out = maskText(`${words}${phone}${words}`, null, new Set());
        expect(out).not.toContain(phone);
        expect(out).toContain(`${phone.slice(0, 3)}****${phone.slice(-4)}`);
      }),
    );
    expect(maskText('订单 20261122000000001234 金额 15000000', null, new Set())).toBe('订单 20261122000000001234 金额 15000000');
  });
});

describe('eventView', () => {
  const row = {
    seq: 7,
    eventKey: 'k',
    applicationId: 'app-1',
    kind: 'phone_verification_completed',
    actor: 'verifier-1',
    stage: 'phone_verification',
    data: { outcome: 'passed', notes: '客户欧阳青云确认自用' },
    before: { stage: 'phone_verification' },
    after: null,
    occurredAt: new Date('2026-11-22T02:00:00Z'),
  };

  it('gives the notes to the roles that need them, withholds them from the others and says so', () => {
    expect(eventView(row, staff('approver'), personal, new Set()).data.notes).toBe('客户欧**云确认自用');
    const finance = eventView(row, staff('finance'), personal, new Set());
    expect(finance.data.notes).toBeNull();
    expect(finance.withheld).toEqual(['notes']);
    expect(finance.data.outcome).toBe('passed');
    expect(eventView(row, staff('finance', 'verifier'), personal, new Set(['name'])).data.notes).toBe('客户欧阳青云确认自用');
    expect(eventView(row, staff('officer'), personal, new Set())).toMatchObject({ seq: 7, at: '2026-11-22T02:00:00.000Z', before: { stage: 'phone_verification' }, after: null });
  });
});

describe('the codec browser session', () => {
  const key = Buffer.alloc(32, 5);
  const now = 1_800_000_000;

  it('verifies what it signed until it expires, and nothing else', () => {
    const s = signCodecSession(key, { sub: 'eng-1', exp: now + 60 });
    expect(verifyCodecSession(key, s, now)).toEqual({ sub: 'eng-1', exp: now + 60 });
    expect(verifyCodecSession(key, s, now + 60)).toBeNull();
    expect(verifyCodecSession(Buffer.alloc(32, 6), s, now)).toBeNull();
    const [body, mac] = s.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ v: 1, sub: 'admin', exp: now + 60 })).toString('base64url');
    expect(verifyCodecSession(key, `${forgedBody}.${mac}`, now)).toBeNull();
    expect(verifyCodecSession(key, `${body}.${mac}.x`, now)).toBeNull();
    expect(verifyCodecSession(key, 'not a session', now)).toBeNull();
  });
});

describe('stateView', () => {
  // An application run since `hand-over-to-servicing` ends in servicing; its loan's servicing run
  // records the closure in the row. The application's stage follows the loan.
  const handedOver: LoanState = {
    applicationId: 'app-1',
    stage: 'servicing',
    stageHistory: [{ stage: 'intake', at: '2026-12-01T01:00:00.000Z' }, { stage: 'servicing', at: '2026-12-01T02:00:00.000Z' }],
    pendingTask: null,
    offer: null,
    decisions: [],
    flags: [],
    riskGrade: 'B',
    requiresFourEyes: false,
    documents: { required: [], missing: [], problems: [] },
    phoneAttempts: 1,
    envelopeId: null,
    collateralRegistered: false,
    transferId: 'T-1',
    loanId: 'L-app-1',
    outcomeReason: 'HANDED_TO_SERVICING',
    refusedActs: [],
  };
  const row = (stage: string) => ({ id: 'app-1', workflowId: 'loan-application-app-1', stage, loanId: 'L-app-1', riskGrade: 'B', updatedAt: new Date('2027-03-01T04:00:00.000Z') }) as ApplicationRow;

  it('reads servicing while the loan is serviced, closed once servicing has closed it', () => {
    expect(stateView(row('servicing'), handedOver)).toMatchObject({ stage: 'servicing', live: true });
    expect(stateView(row('servicing'), handedOver).stageHistory.map((v) => v.stage)).toEqual(['intake', 'servicing']);
    const closed = stateView(row('closed'), handedOver);
    expect(closed.stage).toBe('closed');
    expect(closed.stageHistory).toEqual([...handedOver.stageHistory, { stage: 'closed', at: '2027-03-01T04:00:00.000Z' }]);
  });

  it('otherwise shows the run as it is', () => {
    const rejected: LoanState = { ...handedOver, stage: 'rejected', outcomeReason: 'CREDIT_SCORE_BELOW_FLOOR' };
    expect(stateView(row('rejected'), rejected).stage).toBe('rejected');
    expect(stateView(row('closed'), { ...handedOver, stage: 'closed' }).stageHistory).toHaveLength(2);
  });
});
