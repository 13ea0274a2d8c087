import { parse } from 'csv-parse/sync';
import { ProviderHttpClient, seg, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import type { DebitAnswer } from '../../domain/autoDebit';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

/** What the bank needs to register a withholding mandate (代扣授权) for a card. Personal data: never log it. */
export interface MandateRequest {
  /** The loan id. */
  reference: string;
  bankCode: string;
  cardNumber: string;
  holderName: string;
  idNumber: string;
}

export interface Mandate {
  mandateId: string;
  reference: string;
  bankCode: string;
  cardLast4: string;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
  replayed: boolean;
}

export interface DebitRequest {
  mandateId: string;
  amountFen: number;
  currency: 'CNY';
  /** The loan id. */
  reference: string;
}

export interface Debit {
  debitId: string;
  mandateId: string;
  reference: string;
  amountFen: number;
  currency: 'CNY';
  status: 'succeeded' | 'pending' | 'failed';
  /** The bank's answer when `failed`. */
  failureCode: Exclude<DebitAnswer, 'succeeded' | 'pending'> | null;
  createdAt: string;
  settledAt: string | null;
  replayed: boolean;
}

/** One line of the channel's daily settlement file (对账单). */
export interface SettlementLine {
  debitId: string;
  /** The idempotency key the lender sent with the debit. */
  merchantReference: string;
  reference: string;
  mandateId: string;
  amountFen: number;
  currency: string;
  settledAt: string;
}

/** Codes of WithholdingRefused failures (a mandate the bank will not register). */
export type MandateRefusalCode = 'card_cancelled' | 'holder_mismatch' | 'bank_not_supported' | 'unsupported_currency';

const SETTLEMENT_HEADER = 'debit_id,merchant_reference,reference,mandate_id,amount_fen,currency,settled_at';

export class WithholdingClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('withholding', FailureType.WithholdingRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.withholding,
    });
  }

  /** Registers once per idempotency key; a refusal by the bank is WithholdingRefused with its code. */
  async registerMandate(req: MandateRequest, idempotencyKey: string): Promise<Mandate> {
    const res = await this.http.request<Omit<Mandate, 'replayed'>>({ operation: 'registerMandate', method: 'POST', path: '/v1/mandates', body: req, idempotencyKey });
    return { ...res.body, replayed: res.replayed };
  }

  async getMandate(mandateId: string): Promise<Mandate> {
    const body = await this.http.json<Omit<Mandate, 'replayed'>>({ operation: 'getMandate', method: 'GET', path: `/v1/mandates/${seg(mandateId)}` });
    return { ...body, replayed: false };
  }

  /** Revoking twice is one revocation. */
  async revokeMandate(mandateId: string): Promise<Mandate> {
    const res = await this.http.request<Omit<Mandate, 'replayed'>>({ operation: 'revokeMandate', method: 'POST', path: `/v1/mandates/${seg(mandateId)}/revocation`, body: {} });
    return { ...res.body, replayed: res.replayed };
  }

  /**
   * One debit per idempotency key however often it is called (a lost answer is learnt by asking
   * again with the same key). The bank's answer is in `status` / `failureCode`, not an exception:
   * a failed debit is an answer the policy acts on (src/domain/autoDebit.ts).
   */
  async requestDebit(req: DebitRequest, idempotencyKey: string): Promise<Debit> {
    const res = await this.http.request<Omit<Debit, 'replayed'>>({ operation: 'requestDebit', method: 'POST', path: '/v1/debits', body: req, idempotencyKey });
    return { ...res.body, replayed: res.replayed };
  }

  async getDebit(debitId: string): Promise<Debit> {
    const body = await this.http.json<Omit<Debit, 'replayed'>>({ operation: 'getDebit', method: 'GET', path: `/v1/debits/${seg(debitId)}` });
    return { ...body, replayed: false };
  }

  /**
   * The settlement file of an Asia/Shanghai day, parsed. Before the channel publishes it the
   * answer is WithholdingRefused `settlement_not_ready` (try again later); a file whose header or
   * lines are not as documented is a ProviderTransientError (a torn download is retried).
   */
  async settlementFile(date: string): Promise<SettlementLine[]> {
    const res = await this.http.request<string>({ operation: 'settlementFile', method: 'GET', path: `/v1/settlements/${seg(date)}`, accept: 'text/csv' });
    return parseSettlementFile(res.body, (what) => this.http.malformed('settlementFile', res.status, what));
  }
}

/** Parses the channel's CSV (csv-parse); `fail` builds the error for a file that is not as documented. */
export function parseSettlementFile(text: string, fail: (what: string) => Error): SettlementLine[] {
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch {
    throw fail('answered a settlement file that is not CSV');
  }
  if (rows[0]?.join(',') !== SETTLEMENT_HEADER) throw fail('answered a settlement file without the documented header');
  return rows.slice(1).map((f, i) => {
    const amountFen = Number(f[4]);
    if (f.length !== 7 || !Number.isSafeInteger(amountFen) || amountFen <= 0 || Number.isNaN(Date.parse(f[6] ?? ''))) {
      throw fail(`answered a settlement file whose line ${i + 2} is not as documented`);
    }
    return { debitId: f[0]!, merchantReference: f[1]!, reference: f[2]!, mandateId: f[3]!, amountFen, currency: f[5]!, settledAt: f[6]! };
  });
}
