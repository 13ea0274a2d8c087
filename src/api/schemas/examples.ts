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

// The loan of that application, as the servicing ledger computes it: 150,000 CNY over 36 months at
// 6.50% (equal instalments), paid out on 2026-11-22; instalment 1 paid on its day, instalment 2
// paid ten days late with 470,000 fen (its penalty for the days after the grace, the rest held as
// credit), then a prepayment of 50,000 CNY that shortened the loan. Figures from the ledger itself.
const LOAN = `L-${APP}`;
const NO_PARTS = { principalFen: 0, interestFen: 0, penaltyFen: 0 };
const NEXT_DUE = { seq: 3, dueDate: '2027-02-22', amountFen: 450_501 };

export const LOAN_SCHEDULE_EXAMPLE = {
  loanId: LOAN,
  applicationId: APP,
  scheduleVersion: 1,
  installments: [
    { seq: 1, dueDate: '2026-12-22', principalFen: 378_485, interestFen: 81_250, totalFen: 459_735, status: 'paid', paidFen: 459_735, penaltyFen: 0, version: 1 },
    { seq: 2, dueDate: '2027-01-22', principalFen: 380_535, interestFen: 79_200, totalFen: 459_735, status: 'paid', paidFen: 459_735, penaltyFen: 1_031, version: 1 },
    { seq: 3, dueDate: '2027-02-22', principalFen: 382_596, interestFen: 77_139, totalFen: 459_735, status: 'scheduled', paidFen: 9_234, penaltyFen: 0, version: 1 },
  ],
};

/** Instalment 2 paid ten days late: its penalty first, then interest and principal; 9,234 fen left as credit. */
export const REPAYMENT_RESULT_EXAMPLE = {
  loanId: LOAN,
  reference: 'bank-txn-2',
  outcome: 'applied',
  kind: 'regular',
  allocations: [
    { seq: 2, component: 'penalty', amountFen: 1_031 },
    { seq: 2, component: 'interest', amountFen: 79_200 },
    { seq: 2, component: 'principal', amountFen: 380_535 },
  ],
  status: 'active',
  bucket: null,
  outstandingPrincipalFen: 14_240_980,
  creditFen: 9_234,
  penaltyFen: 0,
  overdueFen: 0,
  nextDue: NEXT_DUE,
};

/** 50,000 CNY prepaid on 2027-02-05 to shorten the loan: principal, its interest to the day, the 3% fee of the first year. */
export const PREPAYMENT_RESULT_EXAMPLE = {
  loanId: LOAN,
  reference: 'bank-pre-1',
  outcome: 'applied',
  kind: 'prepayment',
  allocations: [
    { seq: null, component: 'principal', amountFen: 4_842_867 },
    { seq: null, component: 'interest', amountFen: 11_847 },
    { seq: null, component: 'fee', amountFen: 145_286 },
  ],
  newSchedule: { version: 2, instalmentFen: 454_300, instalments: 22, firstDueDate: '2027-02-22' },
  status: 'active',
  bucket: null,
  outstandingPrincipalFen: 9_398_113,
  creditFen: 9_234,
  penaltyFen: 0,
  overdueFen: 0,
  nextDue: { seq: 3, dueDate: '2027-02-22', amountFen: 445_066 },
};

export const LOAN_PAGE_EXAMPLE = {
  items: [
    {
      loanId: LOAN,
      applicationId: APP,
      branchId: 'BJ-001',
      status: 'active',
      bucket: null,
      principalFen: 15_000_000,
      termMonths: 36,
      disbursementDate: '2026-11-22',
      asOfDate: '2027-02-05',
      outstandingPrincipalFen: 14_240_980,
      overdueFen: 0,
      penaltyFen: 0,
      creditFen: 9_234,
      daysPastDue: 0,
      nextDue: NEXT_DUE,
    },
  ],
  nextCursor: null,
};

/** The statement on 2027-02-05, before the prepayment (the first three of 36 instalments shown). */
export const STATEMENT_EXAMPLE = {
  loanId: LOAN,
  applicationId: APP,
  asOfDate: '2027-02-05',
  status: 'active',
  contract: { principalFen: 15_000_000, annualRateBps: 650, termMonths: 36, repaymentMethod: 'equal_installment', disbursementDate: '2026-11-22' },
  instalments: [
    {
      seq: 1,
      version: 1,
      dueDate: '2026-12-22',
      status: 'paid',
      due: { principalFen: 378_485, interestFen: 81_250, penaltyFen: 0 },
      paid: { principalFen: 378_485, interestFen: 81_250, penaltyFen: 0 },
      waived: NO_PARTS,
      outstanding: NO_PARTS,
      creditEarmarkedFen: 0,
      daysPastDue: 0,
      penaltyRanges: [],
    },
    {
      seq: 2,
      version: 1,
      dueDate: '2027-01-22',
      status: 'paid',
      due: { principalFen: 380_535, interestFen: 79_200, penaltyFen: 1_031 },
      paid: { principalFen: 380_535, interestFen: 79_200, penaltyFen: 1_031 },
      waived: NO_PARTS,
      outstanding: NO_PARTS,
      creditEarmarkedFen: 0,
      daysPastDue: 0,
      penaltyRanges: [{ from: '2027-01-23', to: '2027-02-01', days: 10, baseFen: 380_535, annualRateBps: 975, penaltyFen: 1_031, capped: false, forgiven: false }],
    },
    {
      seq: 3,
      version: 1,
      dueDate: '2027-02-22',
      status: 'scheduled',
      due: { principalFen: 382_596, interestFen: 77_139, penaltyFen: 0 },
      paid: NO_PARTS,
      waived: NO_PARTS,
      outstanding: { principalFen: 382_596, interestFen: 77_139, penaltyFen: 0 },
      creditEarmarkedFen: 9_234,
      daysPastDue: 0,
      penaltyRanges: [],
    },
  ],
  transactions: [
    { id: 'ref:bank-txn-1', kind: 'repayment', reference: 'bank-txn-1', valueDate: '2026-12-22', amountFen: 459_735, status: 'applied', allocatedFen: 459_735, creditFen: 0, refundedFen: 0, waivedFen: 0, prepaidPrincipalFen: 0, feeFen: 0 },
    { id: 'ref:bank-txn-2', kind: 'repayment', reference: 'bank-txn-2', valueDate: '2027-02-01', amountFen: 470_000, status: 'applied', allocatedFen: 460_766, creditFen: 9_234, refundedFen: 0, waivedFen: 0, prepaidPrincipalFen: 0, feeFen: 0 },
  ],
  scheduleVersions: [{ version: 1, reason: 'origination', effectiveDate: '2026-11-22', fromSeq: 1, mode: null, principalFen: 15_000_000 }],
  totals: {
    principalOutstandingFen: 14_240_980,
    principalNotYetDueFen: 14_240_980,
    due: NO_PARTS,
    overdueFen: 0,
    balanceFen: 14_240_980,
    creditFen: 9_234,
    unappliedFen: 9_234,
    feeAllowanceFen: 0,
    paidFen: { principalFen: 759_020, interestFen: 160_450, penaltyFen: 1_031, feeFen: 0 },
    waivedFen: NO_PARTS,
    refundedFen: 0,
    receivedFen: 929_735,
  },
  settled: null,
};

/** What closes the loan on 2027-02-05 (before the prepayment): the credit held is taken off. */
export const PAYOFF_QUOTE_EXAMPLE = {
  loanId: LOAN,
  asOfDate: '2027-02-05',
  validUntil: '2027-02-05',
  principalFen: 14_240_980,
  interestDueFen: 0,
  accruedInterestFen: 34_837,
  penaltyFen: 0,
  feeFen: 427_229,
  feeBps: 300,
  creditFen: 9_234,
  totalFen: 14_693_812,
};

const PENDING_REFUND = { requestId: 'rf-3f0c6a522b434f0e9d553c1c', kind: 'refund', requestedBy: 'finance-1', requestedAt: '2027-02-05T02:00:00.000Z', reasonCode: 'OVERPAYMENT', amountFen: 9_234 };
const LOAN_FIGURES = { loanStatus: 'active', outstandingPrincipalFen: 14_240_980, overdueFen: 0, penaltyFen: 0 };

/** A refund of the credit asked for by one finance user: it waits for a second one. */
export const SERVICING_REQUEST_EXAMPLE = {
  loanId: LOAN,
  requestId: PENDING_REFUND.requestId,
  kind: 'refund',
  status: 'pending_approval',
  ...LOAN_FIGURES,
  creditFen: 9_234,
  pendingApprovals: [PENDING_REFUND],
};

/** The second finance user approved it: the provider paid it and the credit is gone. */
export const SERVICING_APPROVED_EXAMPLE = {
  loanId: LOAN,
  requestId: PENDING_REFUND.requestId,
  kind: 'refund',
  status: 'applied',
  refundedFen: 9_234,
  ...LOAN_FIGURES,
  creditFen: 0,
  pendingApprovals: [],
};

export const ESIGN_ACK_EXAMPLE = { received: true, eventId: 'evt_example', applied: true };
