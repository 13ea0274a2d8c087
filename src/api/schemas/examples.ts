/**
 * What the answers look like, for /docs and /openapi.json. The OpenAPI test validates every one
 * against its schema, so an example cannot drift from what the API sends. Ids, times and figures
 * are made up but consistent: one 150,000 CNY application at branch BJ-001 waiting for approval.
 */
const APP = 'a1b2c3d4-0000-4000-8000-000000000001';
const WF = `loan-application-${APP}`;

const OFFER = { amountFen: 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment', annualRateBps: 650, aprBps: 672, monthlyPaymentFen: 459_737, upfrontFeeFen: 0 };

export const CREATED_EXAMPLE = { id: APP, workflowId: WF, stage: 'intake', flags: [] };

/** The 409 of a create whose applicant has an open application (nothing was stored). */
export const DUPLICATE_APPLICATION_EXAMPLE = {
  type: 'https://car-loans.example/problems/duplicate-application',
  title: 'The applicant already has an open application',
  status: 409,
  detail: `This applicant already has an open application, ${APP}: act on it, or withdraw it before submitting a new one`,
  code: 'DUPLICATE_APPLICATION',
  openApplicationId: APP,
  instance: '/applications',
  requestId: '5f0c2a9e-8d7b-4c1a-9e3f-2b6d4a8c1e07',
};

export const APPLICATION_STATE_EXAMPLE = {
  id: APP,
  workflowId: WF,
  stage: 'approval',
  pendingTask: {
    kind: 'approval',
    role: 'approver',
    since: '2026-11-22T02:05:10.000Z',
    deadline: '2026-11-29T02:05:10.000Z',
    slaAt: '2026-11-23T02:05:10.000Z',
    escalated: false,
    approvalsNeeded: 1,
    approvedBy: [],
  },
  offer: OFFER,
  loanId: null,
  riskGrade: 'B',
  requiresFourEyes: false,
  decisions: [],
  flags: [],
  stageHistory: [
    { stage: 'intake', at: '2026-11-22T02:00:00.000Z' },
    { stage: 'document_check', at: '2026-11-22T02:00:01.000Z' },
    { stage: 'phone_verification', at: '2026-11-22T02:00:03.000Z' },
    { stage: 'valuation', at: '2026-11-22T02:05:08.000Z' },
    { stage: 'approval', at: '2026-11-22T02:05:09.000Z' },
  ],
  outcomeReason: null,
  missingDocuments: [],
  envelopeId: null,
  live: true,
};

export const APPLICATION_DETAIL_EXAMPLE = {
  ...APPLICATION_STATE_EXAMPLE,
  channel: 'branch',
  branchId: 'BJ-001',
  dealerId: null,
  submittedBy: 'officer-1',
  createdAt: '2026-11-22T02:00:00.000Z',
  loan: { amountFen: 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment' },
  applicant: { name: '张*', idNumber: '110105********002X', phone: '138****8000', monthlyIncomeFen: 2_000_000, masked: ['name', 'idNumber', 'phone'] },
  vehicle: {
    vin: 'LFV2A21K2A3010006',
    make: 'BYD',
    model: 'Han',
    year: 2025,
    condition: 'new',
    energy: 'new_energy',
    usage: 'personal',
    priceFen: 25_000_000,
    mileageKm: 0,
    firstRegistrationDate: null,
  },
  documents: [
    { id: 'd0c5e7a1-0000-4000-8000-000000000001', type: 'id_card', uri: 's3://bucket/id-card.jpg', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', ocrStatus: 'read', submittedAt: '2026-11-22T02:00:00.000Z' },
  ],
};

const QUEUE_ITEM = {
  id: APP,
  workflowId: WF,
  stage: 'approval',
  pendingTask: 'approval',
  task: {
    kind: 'approval',
    role: 'approver',
    since: '2026-11-22T02:05:10.000Z',
    slaAt: '2026-11-23T02:05:10.000Z',
    deadline: '2026-11-29T02:05:10.000Z',
    escalated: true,
    slaBreached: true,
    claim: { claimedBy: 'approver-2', claimedAt: '2026-11-23T03:00:00.000Z', expiresAt: '2026-11-23T03:30:00.000Z' },
    approvals: { needed: 2, given: 1, approvedBy: ['approver-1'], approvedByMe: false },
  },
  channel: 'branch',
  branchId: 'BJ-001',
  dealerId: null,
  amountFen: 22_000_000,
  termMonths: 36,
  riskGrade: 'B',
  loanId: null,
  submittedBy: 'officer-1',
  createdAt: '2026-11-22T02:00:00.000Z',
};

export const APPLICATION_PAGE_EXAMPLE = { items: [QUEUE_ITEM], total: 1, nextCursor: null };

export const CLAIM_EXAMPLE = {
  applicationId: APP,
  task: 'approval',
  claim: { claimedBy: 'approver-2', claimedAt: '2026-11-23T03:00:00.000Z', expiresAt: '2026-11-23T03:30:00.000Z' },
};

export const RELEASE_EXAMPLE = CLAIM_EXAMPLE;

export const EVENTS_EXAMPLE = {
  applicationId: APP,
  items: [
    {
      seq: 41,
      at: '2026-11-22T02:05:01.000Z',
      kind: 'phone_verification_completed',
      actor: 'verifier-1',
      stage: 'phone_verification',
      data: {
        act: 'phone_verification_completed',
        outcome: 'applied',
        recordingRef: 'rec-123',
        checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true },
        notes: '客户确认购车用途为自用',
      },
      before: { stage: 'phone_verification', pendingTask: 'phone_verification' },
      after: { stage: 'phone_verification', pendingTask: null },
      withheld: [],
    },
    {
      seq: 57,
      at: '2026-11-22T03:10:00.000Z',
      kind: 'approval_decision',
      actor: 'approver-1',
      stage: 'approval',
      data: { act: 'approval_decision', outcome: 'applied', decision: 'approve', reasonCode: null, offerChange: null, comment: '收入稳定，同意' },
      before: { stage: 'approval', pendingTask: 'approval' },
      after: { stage: 'signing', pendingTask: null },
      withheld: [],
    },
  ],
  nextCursor: '57',
};

export const LOAN_SCHEDULE_EXAMPLE = {
  loanId: `L-${APP}`,
  applicationId: APP,
  installments: [
    { seq: 1, dueDate: '2026-12-22', principalFen: 378_487, interestFen: 81_250, totalFen: 459_737, status: 'paid', paidFen: 459_737 },
    { seq: 2, dueDate: '2027-01-22', principalFen: 380_537, interestFen: 79_200, totalFen: 459_737, status: 'scheduled', paidFen: 0 },
  ],
};

export const REPAYMENT_RESULT_EXAMPLE = {
  loanId: `L-${APP}`,
  reference: 'bank-txn-1',
  outcome: 'applied',
  kind: 'regular',
  allocations: [{ seq: 1, amountFen: 459_737 }],
  status: 'active',
  bucket: null,
  outstandingPrincipalFen: 14_621_513,
  creditFen: 0,
  nextDue: { seq: 2, dueDate: '2027-01-22', amountFen: 459_737 },
};

export const ESIGN_ACK_EXAMPLE = { received: true, eventId: 'evt_example', applied: true };
