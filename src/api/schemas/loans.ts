import { OVERDUE_BUCKETS, PREPAYMENT_MODES, WAIVER_COMPONENTS } from '../../domain';
import { z } from '../zod';
import { Fen, FreeText, Formatted, IsoDate, Line, orNull, PastDateTime, PositiveFen } from './common';

export const LoanIdParams = z.object({ id: Line(128).openapi({ description: 'Loan id', example: 'loan-a1b2c3d4' }) });

/** A bank payment reference: 1–128 printable ASCII characters without spaces. */
export const Reference = Formatted(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces, as the bank gives it', 128).openapi({ example: 'bank-txn-1' });

export const LoanReferenceParams = LoanIdParams.extend({ reference: Reference.openapi({ description: 'The bank reference of the repayment' }) });
export const LoanRequestParams = LoanIdParams.extend({
  requestId: Formatted(/^[A-Za-z0-9._:-]+$/, 'must be a request id this API gave out', 128).openapi({ description: 'The request id the request answered', example: 'wv-3f0c6a522b434f0e9d55' }),
});

/** A reason code: upper-case letters, digits and underscores. */
export const ReasonCode = Formatted(/^[A-Z][A-Z0-9_]{1,63}$/, 'must be an upper-case reason code, e.g. BOOKED_IN_ERROR', 64).openapi({ example: 'BOOKED_IN_ERROR' });
/** Free text staff type; it goes to the audit trail only, never into a workflow. */
const Reason = () => FreeText(500).openapi({ description: 'Free text for the audit trail (at most 500 characters)' });

export const InstallmentView = z
  .object({
    seq: z.int().min(1),
    dueDate: z.string().openapi({ format: 'date' }),
    principalFen: Fen,
    interestFen: Fen,
    totalFen: Fen,
    status: z.enum(['scheduled', 'due', 'paid', 'overdue']),
    paidFen: Fen.openapi({ description: 'Paid towards the instalment, or held for it (paid ahead)' }),
    penaltyFen: Fen.openapi({ description: 'Penalty interest owed on it, as of the last position' }),
    version: z.int().min(1).openapi({ description: 'The schedule version its amounts come from' }),
  })
  .openapi('Installment');

export const LoanSchedule = z
  .object({ loanId: z.string(), applicationId: z.string().nullable(), scheduleVersion: z.int(), installments: z.array(InstallmentView) })
  .openapi('LoanSchedule');

/** When the money arrived: not in the future (5 minutes of clock skew), and (the route checks) not before the loan was paid out. */
const PaidAt = () => PastDateTime.openapi({ description: 'When the money was paid: not in the future (5 minutes of clock skew allowed), not before the loan was paid out' });

export const RepaymentBody = z
  .strictObject({
    amountFen: PositiveFen.openapi({ example: 456_789 }),
    paidAt: PaidAt(),
    reference: Reference,
  })
  .openapi('Repayment');

export const Allocation = z
  .object({
    seq: orNull(z.int()).openapi({ description: 'The instalment; null for what a prepayment pays outside them' }),
    component: z.enum(['penalty', 'interest', 'principal', 'fee']).optional(),
    amountFen: Fen,
  })
  .openapi('Allocation');

export const RepaymentResult = z
  .object({
    loanId: z.string(),
    reference: z.string(),
    outcome: z.enum(['applied', 'duplicate']).openapi({ description: '`duplicate`: this reference was recorded before with this amount; nothing changed, and `allocations` is the original booking' }),
    kind: z.enum(['regular', 'early_payoff', 'prepayment']).optional(),
    allocations: z.array(Allocation).openapi({ description: 'What the money paid, in the allocation order' }),
    status: z.enum(['active', 'closed']),
    bucket: z.string().nullable(),
    outstandingPrincipalFen: Fen,
    creditFen: Fen,
    penaltyFen: Fen.optional(),
    overdueFen: Fen.optional(),
    nextDue: z.object({ seq: z.int(), dueDate: z.string(), amountFen: Fen }).nullable(),
    newSchedule: orNull(z.object({ version: z.int(), instalmentFen: Fen, instalments: z.int(), firstDueDate: z.string() })).optional(),
  })
  .openapi('RepaymentResult');

export const REPAYMENT_EXAMPLES = {
  instalment: { summary: 'One instalment paid by bank transfer', value: { amountFen: 456_789, paidAt: '2026-11-22T10:00:00+08:00', reference: 'bank-txn-1' } },
} as const;

export const PrepaymentBody = z
  .strictObject({
    amountFen: PositiveFen.openapi({ example: 5_000_000 }),
    mode: z.enum(PREPAYMENT_MODES).openapi({ description: '`reduce_installment`: the same number of instalments, smaller; `reduce_term`: about the same instalment, fewer of them' }),
    reference: Reference,
    paidAt: PaidAt().optional().openapi({ description: 'When the money arrived (default: now): not in the future (5 minutes of clock skew allowed), not before the loan was paid out' }),
  })
  .openapi('Prepayment');

export const PREPAYMENT_EXAMPLES = {
  shorter: { summary: '50,000 CNY prepaid to shorten the loan', value: { amountFen: 5_000_000, mode: 'reduce_term', reference: 'bank-pre-1' } },
} as const;

export const ReversalBody = z.strictObject({ reasonCode: ReasonCode, reason: Reason().optional() }).openapi('ReversalRequest');
export const WaiverBody = z
  .strictObject({ component: z.enum(WAIVER_COMPONENTS), amountFen: PositiveFen.openapi({ example: 1_200 }), reasonCode: ReasonCode, reason: Reason().optional() })
  .openapi('WaiverRequest');
export const RefundBody = z.strictObject({ amountFen: PositiveFen.openapi({ example: 50_000 }), reasonCode: ReasonCode, reason: Reason().optional() }).openapi('RefundRequest');
export const ApprovalBody = z
  .strictObject({
    decision: z.enum(['approve', 'reject']).optional().openapi({ description: 'Default approve; the requester may reject (withdraw) their own request' }),
    comment: Reason().optional().openapi({ description: 'Free text for the audit trail (at most 500 characters)' }),
  })
  .openapi('ServicingApproval');

export const REVERSAL_EXAMPLES = { error: { summary: 'Booked in error', value: { reasonCode: 'BOOKED_IN_ERROR', reason: 'the bank credited another loan' } } } as const;
export const WAIVER_EXAMPLES = { penalty: { summary: 'Waive the penalty of a late payment', value: { component: 'penalty', amountFen: 1_200, reasonCode: 'GOODWILL' } } } as const;
export const REFUND_EXAMPLES = { overpayment: { summary: 'Refund an overpayment', value: { amountFen: 50_000, reasonCode: 'OVERPAYMENT' } } } as const;
export const APPROVAL_EXAMPLES = { approve: { summary: 'The second finance user approves', value: { decision: 'approve' } } } as const;

export const PendingApprovalView = z
  .object({
    requestId: z.string(),
    kind: z.enum(['reversal', 'waiver', 'refund']),
    requestedBy: z.string(),
    requestedAt: z.string(),
    reasonCode: z.string(),
    reference: z.string().optional(),
    component: z.enum(WAIVER_COMPONENTS).optional(),
    amountFen: Fen.optional(),
  })
  .openapi('PendingApproval');

export const ServicingRequestResult = z
  .object({
    loanId: z.string(),
    requestId: z.string(),
    kind: z.enum(['reversal', 'waiver', 'refund']),
    status: z.enum(['pending_approval', 'applied', 'rejected']).openapi({ description: '`pending_approval`: waiting for a second, different finance user (POST …/approve)' }),
    waivedFen: Fen.optional(),
    refundedFen: Fen.optional(),
    loanStatus: z.enum(['active', 'closed']),
    outstandingPrincipalFen: Fen,
    overdueFen: Fen,
    penaltyFen: Fen,
    creditFen: Fen,
    pendingApprovals: z.array(PendingApprovalView),
  })
  .openapi('ServicingRequestResult');

export const PayoffQuoteQuery = z.strictObject({ date: IsoDate.optional().openapi({ description: 'The day of payment: today (default) up to 30 days ahead' }) });
export const PayoffQuoteView = z
  .object({
    loanId: z.string(),
    asOfDate: z.string().openapi({ format: 'date' }),
    validUntil: z.string().openapi({ format: 'date', description: 'Paid on or before this day the amount closes the loan' }),
    principalFen: Fen,
    interestDueFen: Fen,
    accruedInterestFen: Fen,
    penaltyFen: Fen,
    feeFen: Fen,
    feeBps: z.int(),
    creditFen: Fen,
    totalFen: Fen,
  })
  .openapi('PayoffQuote');

export const StatementQuery = z.strictObject({ asOf: IsoDate.optional().openapi({ description: 'Default today; not in the future' }) });

const Components = z.object({ principalFen: Fen, interestFen: Fen, penaltyFen: Fen });
export const StatementView = z
  .object({
    loanId: z.string(),
    applicationId: z.string(),
    asOfDate: z.string().openapi({ format: 'date' }),
    status: z.enum(['active', 'closed']),
    contract: z.object({ principalFen: Fen, annualRateBps: z.int(), termMonths: z.int(), repaymentMethod: z.string(), disbursementDate: z.string() }),
    instalments: z.array(
      z.object({
        seq: z.int(),
        version: z.int(),
        dueDate: z.string(),
        status: z.enum(['scheduled', 'due', 'paid', 'overdue']),
        due: Components,
        paid: Components,
        waived: Components,
        outstanding: Components,
        creditEarmarkedFen: Fen,
        daysPastDue: z.int(),
        penaltyRanges: z.array(
          z.object({ from: z.string(), to: z.string(), days: z.int(), baseFen: Fen, annualRateBps: z.number(), penaltyFen: Fen, capped: z.boolean(), forgiven: z.boolean() }),
        ),
      }),
    ),
    transactions: z.array(
      z.object({
        id: z.string(),
        kind: z.enum(['repayment', 'prepayment', 'reversal', 'waiver', 'refund']),
        reference: z.string().nullable(),
        valueDate: z.string(),
        amountFen: Fen,
        status: z.enum(['applied', 'reversed', 'after_as_of', 'ignored']),
        allocatedFen: Fen,
        creditFen: Fen,
        refundedFen: Fen,
        waivedFen: Fen,
        prepaidPrincipalFen: Fen,
        feeFen: Fen,
      }),
    ),
    scheduleVersions: z.array(z.object({ version: z.int(), reason: z.string(), effectiveDate: z.string(), fromSeq: z.int(), mode: z.string().nullable(), principalFen: Fen })),
    totals: z.object({
      principalOutstandingFen: Fen,
      principalNotYetDueFen: Fen,
      due: Components,
      overdueFen: Fen,
      balanceFen: Fen,
      unappliedFen: Fen.openapi({ description: 'Credit held: paid beyond what is due, for the next instalments or to refund' }),
      feeAllowanceFen: Fen,
      paidFen: z.object({ principalFen: Fen, interestFen: Fen, penaltyFen: Fen, feeFen: Fen }),
      waivedFen: Components,
      refundedFen: Fen,
      receivedFen: Fen,
    }),
    settled: orNull(z.object({ on: z.string(), how: z.enum(['repaid', 'early_payoff']) })),
  })
  .openapi('Statement');

export const ListLoansQuery = z.strictObject({
  status: z.enum(['active', 'closed']).optional(),
  bucket: z.enum([...OVERDUE_BUCKETS, 'none']).optional().openapi({ description: '`none`: loans not overdue' }),
  branchId: Formatted(/^[A-Za-z0-9_-]+$/, 'must be a branch id such as BJ-001', 64).optional(),
  cursor: Formatted(/^[A-Za-z0-9_-]+$/, 'must be the nextCursor of the previous page', 512).optional().openapi({ description: 'nextCursor of the previous page' }),
  limit: z.coerce.number().int().min(1).max(100).optional().openapi({ type: 'integer', description: 'Page size, default 20, at most 100', example: 20 }),
});

export const LoanSummary = z
  .object({
    loanId: z.string(),
    applicationId: z.string(),
    branchId: z.string().nullable(),
    status: z.enum(['active', 'closed']),
    bucket: z.string().nullable(),
    principalFen: Fen,
    termMonths: z.int(),
    disbursementDate: z.string(),
    asOfDate: z.string(),
    outstandingPrincipalFen: Fen,
    overdueFen: Fen,
    penaltyFen: Fen,
    creditFen: Fen,
    daysPastDue: z.int(),
    nextDue: orNull(z.object({ seq: z.int(), dueDate: z.string(), amountFen: Fen })),
  })
  .openapi('LoanSummary');

export const LoanPage = z.object({ items: z.array(LoanSummary), nextCursor: z.string().nullable() }).openapi('LoanPage');
