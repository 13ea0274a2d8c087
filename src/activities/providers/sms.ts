import { ProviderHttpClient, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export interface SmsMessageRequest {
  /** Ours, and the gateway dedupes on it: derive it from what the text is about (e.g. instalment and day). */
  messageId: string;
  to: string;
  text: string;
  template?: string;
  tag?: string;
}

export interface SmsAccepted {
  messageId: string;
  status: 'accepted' | 'duplicate';
  providerMessageId: string;
}

export type SmsBatchResult =
  | SmsAccepted
  | { messageId: string; status: 'rejected'; code: SmsRefusalCode | 'message_id_reused' | (string & {}); message: string };

/** Codes of SmsRefused failures (and of rejected batch items). */
export type SmsRefusalCode = 'invalid_phone_number' | 'number_not_in_service';

export class SmsClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('sms', FailureType.SmsRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.sms,
    });
  }

  /** A retried send with the same messageId answers `duplicate`, not a second text. */
  send(msg: SmsMessageRequest): Promise<SmsAccepted> {
    return this.http.json({ operation: 'send', method: 'POST', path: '/v1/messages', body: msg });
  }

  /** Up to 100 messages; each is accepted, a duplicate or rejected on its own (no exception for a rejection). */
  async sendBatch(messages: SmsMessageRequest[]): Promise<SmsBatchResult[]> {
    const body = await this.http.json<{ results: SmsBatchResult[] }>({
      operation: 'sendBatch',
      method: 'POST',
      path: '/v1/messages/batch',
      body: { messages },
    });
    return body.results;
  }
}
