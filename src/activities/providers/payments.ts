import { ProviderHttpClient, seg, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export interface TransferRequest {
  amountFen: number;
  currency: 'CNY';
  toAccount: { accountNumber: string; accountName: string; bankCode: string };
  /** Shown on the beneficiary's statement; use the loan id. */
  reference: string;
  purpose?: string;
}

export interface Transfer {
  transferId: string;
  amountFen: number;
  currency: 'CNY';
  reference: string;
  status: 'pending' | 'succeeded' | 'reversed';
  toAccount: { bankCode: string; accountLast4: string };
  createdAt: string;
  completedAt: string | null;
  reversal: { reversalId: string; reason: string | null; createdAt: string } | null;
  /** True when the provider answered from its idempotency record (an earlier attempt got through). */
  replayed: boolean;
}

export interface RefundRequest {
  amountFen: number;
  currency: 'CNY';
  toAccount: { accountNumber: string; accountName: string; bankCode: string };
  /** Shown on the customer's statement: the loan and the refund. */
  reference: string;
  reason?: string;
}

export interface Refund {
  refundId: string;
  amountFen: number;
  currency: 'CNY';
  reference: string;
  status: 'succeeded';
  toAccount: { bankCode: string; accountLast4: string };
  createdAt: string;
  replayed: boolean;
}

/** Codes of PaymentRefused failures. */
export type PaymentRefusalCode = 'account_closed' | 'account_name_mismatch' | 'amount_exceeds_limit' | 'unsupported_currency';

export class PaymentsClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('payments', FailureType.PaymentRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.payments,
    });
  }

  /**
   * Pays once per idempotency key, however often it is called: derive the key from the workflow id
   * and the step, never from the attempt. The same key with another body is IdempotencyKeyReused.
   * A `pending` answer settles later: poll getTransfer.
   */
  async createTransfer(req: TransferRequest, idempotencyKey: string): Promise<Transfer> {
    const res = await this.http.request<Omit<Transfer, 'replayed'>>({
      operation: 'createTransfer',
      method: 'POST',
      path: '/v1/transfers',
      body: req,
      idempotencyKey,
    });
    return { ...res.body, replayed: res.replayed };
  }

  async getTransfer(transferId: string): Promise<Transfer> {
    const body = await this.http.json<Omit<Transfer, 'replayed'>>({
      operation: 'getTransfer',
      method: 'GET',
      path: `/v1/transfers/${seg(transferId)}`,
    });
    return { ...body, replayed: false };
  }

  /** Pays money back to a customer, once per idempotency key (like createTransfer). */
  async createRefund(req: RefundRequest, idempotencyKey: string): Promise<Refund> {
    const res = await this.http.request<Omit<Refund, 'replayed'>>({
      operation: 'createRefund',
      method: 'POST',
      path: '/v1/refunds',
      body: req,
      idempotencyKey,
    });
    return { ...res.body, replayed: res.replayed };
  }

  /** Reverses a transfer (a payment sent to the wrong account); reversing twice is one reversal. */
  async reverseTransfer(transferId: string, reason?: string): Promise<Transfer> {
    const res = await this.http.request<Omit<Transfer, 'replayed'>>({
      operation: 'reverseTransfer',
      method: 'POST',
      path: `/v1/transfers/${seg(transferId)}/reversals`,
      body: reason === undefined ? {} : { reason },
    });
    return { ...res.body, replayed: res.replayed };
  }
}
