import { z } from '../zod';
import { Fen, Formatted, Line, PastDateTime, PositiveFen } from './common';

export const LoanIdParams = z.object({ id: Line(128).openapi({ description: 'Loan id', example: 'loan-a1b2c3d4' }) });

export const InstallmentView = z
  .object({
    seq: z.int().min(1),
    dueDate: z.string().openapi({ format: 'date' }),
    principalFen: Fen,
    interestFen: Fen,
    totalFen: Fen,
    status: z.enum(['scheduled', 'due', 'paid', 'overdue']),
    paidFen: Fen,
  })
  .openapi('Installment');

export const LoanSchedule = z
  .object({ loanId: z.string(), applicationId: z.string().nullable(), installments: z.array(InstallmentView) })
  .openapi('LoanSchedule');

export const RepaymentBody = z
  .strictObject({
    amountFen: PositiveFen.openapi({ example: 456_789 }),
    paidAt: PastDateTime.openapi({ description: 'When the money was paid: not in the future (5 minutes of clock skew allowed), not before the loan was paid out' }),
    reference: Formatted(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces, as the bank gives it', 128).openapi({ example: 'bank-txn-1' }),
  })
  .openapi('Repayment');

export const RepaymentResult = z
  .object({
    loanId: z.string(),
    reference: z.string(),
    outcome: z.enum(['applied', 'duplicate']).openapi({ description: '`duplicate`: this reference was recorded before; nothing changed' }),
    kind: z.enum(['regular', 'early_payoff']).optional(),
    allocations: z.array(z.object({ seq: z.int(), amountFen: Fen })).openapi({ description: 'What the money paid, oldest instalment first' }),
    status: z.enum(['active', 'closed']),
    bucket: z.string().nullable(),
    outstandingPrincipalFen: Fen,
    creditFen: Fen,
    nextDue: z.object({ seq: z.int(), dueDate: z.string(), amountFen: Fen }).nullable(),
  })
  .openapi('RepaymentResult');

export const REPAYMENT_EXAMPLES = {
  instalment: { summary: 'One instalment paid by bank transfer', value: { amountFen: 456_789, paidAt: '2026-11-22T10:00:00+08:00', reference: 'bank-txn-1' } },
} as const;
