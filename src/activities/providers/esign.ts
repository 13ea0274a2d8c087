import { ProviderHttpClient, seg, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export interface CreateEnvelopeRequest {
  applicationId: string;
  /** The same key is the same envelope. */
  idempotencyKey: string;
  /** SHA-256 (hex) of the rendered contract. */
  documentHash: string;
  /** Our reference for the signer (no personal data). */
  signerRef: string;
  /** Real-name details for the provider's identity check (实名认证); the provider does not keep them. */
  signer?: { name: string; idNumber: string; phone?: string };
  /** Overrides the provider-wide webhook URL for this envelope. */
  callbackUrl?: string;
  /** Default 7. */
  expiresInDays?: number;
}

export interface Envelope {
  envelopeId: string;
  applicationId: string;
  documentHash: string;
  signerRef: string;
  callbackUrl: string | null;
  status: 'sent' | 'signed' | 'declined' | 'voided' | 'expired';
  signingUrl: string;
  createdAt: string;
  expiresAt: string;
  signedAt: string | null;
  declinedAt: string | null;
  voidedAt: string | null;
  voidReason: string | null;
  webhooks: Array<{
    eventId: string;
    type: 'envelope.signed' | 'envelope.declined';
    url: string | null;
    state: 'pending' | 'delivered' | 'failed' | 'not_configured';
    attempts: Array<{ at: string; status: number | null; error: string | null }>;
  }>;
}

/** The webhook body, signed in X-Esign-Signature (verify with verifyEsignSignature). */
export interface EsignWebhookEvent {
  eventId: string;
  type: 'envelope.signed' | 'envelope.declined';
  occurredAt: string;
  data: {
    envelopeId: string;
    applicationId: string;
    signerRef: string;
    documentHash: string;
    status: Envelope['status'];
    signedAt: string | null;
    declinedAt: string | null;
  };
}

/** Codes of EsignRefused failures; `envelope_already_signed` answers a void of a signed envelope. */
export type EsignRefusalCode = 'signer_identity_unverified' | 'envelope_already_signed';

export class EsignClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('esign', FailureType.EsignRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.esign,
    });
  }

  createEnvelope(req: CreateEnvelopeRequest): Promise<Envelope> {
    return this.http.json({ operation: 'createEnvelope', method: 'POST', path: '/v1/envelopes', body: req });
  }

  getEnvelope(envelopeId: string): Promise<Envelope> {
    return this.http.json({ operation: 'getEnvelope', method: 'GET', path: `/v1/envelopes/${seg(envelopeId)}` });
  }

  /** Idempotent; a signed envelope is refused (EsignRefused, `envelope_already_signed`). */
  voidEnvelope(envelopeId: string, reason?: string): Promise<Envelope> {
    return this.http.json({
      operation: 'voidEnvelope',
      method: 'POST',
      path: `/v1/envelopes/${seg(envelopeId)}/void`,
      body: reason === undefined ? {} : { reason },
    });
  }
}
