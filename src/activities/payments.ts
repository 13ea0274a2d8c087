import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { dealers, loans } from '../db/schema';
import { disbursementKey, disbursementReference, refundKey } from '../domain/ids';
import { decryptApplicant, loadApplicationRecord, type ApplicationRecord } from './applications';
import { FailureType } from '../contracts/failures';
import { type Disbursement, type DisburseInput, type ReverseTransferInput, type TransferRef } from './contracts';
import type { PaymentsClient, TransferRequest } from './providers';

// The payout's and the refunds' keys are defined with every other id; the tests read the ledger by them.
export { disbursementKey, disbursementReference, refundKey };

export const SANDBOX_BANK_CODE = 'SANDBOX';

/**
 * A 19-digit account (Luhn-valid) derived from `seed`: where no account is on file, development and
 * the sandbox pay this instead, so a run needs no bank data and pays the same account every time.
 * It can never be one of the sandbox's adverse test accounts (those start 6217, these 6222).
 */
export function sandboxAccountNumber(seed: string): string {
  const hex = createHash('sha256').update(`sandbox-payee:${seed}`).digest('hex');
  const body = `6222${(BigInt(`0x${hex.slice(0, 16)}`) % 10n ** 14n).toString().padStart(14, '0')}`;
  return body + luhnCheckDigit(body);
}

function luhnCheckDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** The dealer is paid for the dealer channel and for a new car bought through a dealer; else the customer. */
export function payeeKind(a: { channel: string; dealerId: string | null; condition: string | null }): 'dealer' | 'customer' {
  return a.dealerId && (a.channel === 'dealer' || a.condition === 'new') ? 'dealer' : 'customer';
}

export interface PaymentActivityDeps {
  db: Db;
  cipher: PiiCipher;
  payments: PaymentsClient;
  /** Pay a deterministic sandbox account when none is on file (off in production: the loan fails instead). */
  sandboxPayeeFallback: boolean;
}

export function createPaymentActivities(deps: PaymentActivityDeps) {
  const { db, cipher, payments } = deps;

  async function payee(rec: ApplicationRecord, only?: 'customer'): Promise<{ kind: 'dealer' | 'customer'; account: TransferRequest['toAccount']; fallback: boolean }> {
    const kind = only ?? payeeKind({ channel: rec.application.channel, dealerId: rec.application.dealerId, condition: rec.vehicle?.condition ?? null });
    if (kind === 'dealer') {
      const dealerId = rec.application.dealerId as string;
      const [d] = await db.select().from(dealers).where(eq(dealers.id, dealerId)).limit(1);
      if (d) return { kind, account: { accountNumber: d.accountNumber, accountName: d.accountName, bankCode: d.bankCode }, fallback: false };
      if (!deps.sandboxPayeeFallback) {
        throw ApplicationFailure.nonRetryable(`dealer ${dealerId} has no settlement account on file`, FailureType.PayeeAccountMissing);
      }
      return {
        kind,
        account: { accountNumber: sandboxAccountNumber(`dealer:${dealerId}`), accountName: `经销商 ${dealerId}`, bankCode: SANDBOX_BANK_CODE },
        fallback: true,
      };
    }
    const pii = decryptApplicant(cipher, rec.applicant);
    if (pii.bankAccount) return { kind, account: { accountNumber: pii.bankAccount, accountName: pii.name, bankCode: bankCodeOf(pii.bankAccount) }, fallback: false };
    if (!deps.sandboxPayeeFallback) {
      throw ApplicationFailure.nonRetryable(`application ${rec.application.id}: the customer has no bank account on file`, FailureType.PayeeAccountMissing);
    }
    return {
      kind,
      account: { accountNumber: sandboxAccountNumber(`customer:${rec.application.id}`), accountName: pii.name, bankCode: SANDBOX_BANK_CODE },
      fallback: true,
    };
  }

  return {
    /**
     * Pays the loan out, exactly once: the idempotency key comes from the application id alone, and
     * the request body is rebuilt identically on every attempt, so a retry (or a lost answer) is
     * answered from the provider's record instead of paying again. A refusal (account closed, name
     * mismatch) is a non-retryable PaymentRefused for the workflow to compensate.
     */
    async disburseLoan(input: DisburseInput): Promise<Disbursement> {
      const rec = await loadApplicationRecord(db, input.applicationId);
      const p = await payee(rec);
      const t = await payments.createTransfer(
        {
          amountFen: input.amountFen,
          currency: 'CNY',
          toAccount: p.account,
          reference: disbursementReference(input.applicationId),
          purpose: p.kind === 'dealer' ? 'car_loan_dealer_settlement' : 'car_loan_disbursement',
        },
        disbursementKey(input.applicationId),
      );
      return {
        transferId: t.transferId,
        status: t.status,
        payee: p.kind,
        bankCode: t.toAccount.bankCode,
        accountLast4: t.toAccount.accountLast4,
        sandboxFallbackAccount: p.fallback,
        replayed: t.replayed,
      };
    },

    /** Where a pending transfer stands (runs that started before awaitTransferSettled look every 5 s until it settles). */
    async transferStatus(input: TransferRef): Promise<{ transferId: string; status: Disbursement['status'] }> {
      const t = await payments.getTransfer(input.transferId);
      return { transferId: t.transferId, status: t.status };
    },

    /**
     * Pays a loan's unapplied credit back to the customer's account, once: the idempotency key is
     * the servicing workflow's refund id, so a retry or a second approval attempt pays nothing more.
     * A refusal (account closed) is a non-retryable PaymentRefused for the workflow to record.
     */
    async refundToCustomer(input: { loanId: string; refundId: string; amountFen: number }): Promise<{ providerRefundId: string; accountLast4: string; replayed: boolean }> {
      const [loan] = await db.select({ applicationId: loans.applicationId }).from(loans).where(eq(loans.id, input.loanId));
      if (!loan) throw ApplicationFailure.nonRetryable(`no loan ${input.loanId}`, FailureType.ApplicationNotFound);
      const p = await payee(await loadApplicationRecord(db, loan.applicationId), 'customer');
      const r = await payments.createRefund(
        { amountFen: input.amountFen, currency: 'CNY', toAccount: p.account, reference: `${input.loanId}/refund/${input.refundId}`, reason: 'unapplied_credit' },
        refundKey(input.loanId, input.refundId),
      );
      return { providerRefundId: r.refundId, accountLast4: r.toAccount.accountLast4, replayed: r.replayed };
    },

    /**
     * Waits for a pending transfer to settle: fails with a retryable TransferPending while it is
     * pending, so Temporal retries it at the fixed interval of its options and the workflow's
     * history holds one activity however long the bank takes.
     */
    async awaitTransferSettled(input: TransferRef): Promise<{ transferId: string; status: Disbursement['status'] }> {
      const t = await payments.getTransfer(input.transferId);
      if (t.status === 'pending') throw ApplicationFailure.retryable(`transfer ${t.transferId} is still pending`, FailureType.TransferPending);
      return { transferId: t.transferId, status: t.status };
    },

    /** Compensation: returns a payout that must not stand (reversing twice is one reversal). */
    async reverseDisbursement(input: ReverseTransferInput): Promise<{ transferId: string; status: Disbursement['status'] }> {
      const t = await payments.reverseTransfer(input.transferId, input.reasonCode);
      return { transferId: t.transferId, status: t.status };
    },
  };
}

/** The bank of a card number by its issuer prefix; the sandbox does not check it. */
function bankCodeOf(accountNumber: string): string {
  if (accountNumber.startsWith('6222')) return 'ICBC';
  if (accountNumber.startsWith('6217')) return 'CCB';
  if (accountNumber.startsWith('6228')) return 'ABC';
  return 'UNKNOWN';
}
