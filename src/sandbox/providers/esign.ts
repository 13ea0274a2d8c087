import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { bodyHash, newId, parseBody, refuse, replayIdempotent } from '../http';
import type { Envelope, WebhookDelivery } from '../store';
import { ESIGN_IDENTITY_UNVERIFIED_ID } from '../test-values';
import { deliverWebhook } from '../webhooks';

/**
 * E-signature (in the manner of e签宝 / 法大大 / DocuSign): the lender creates an envelope for one
 * document (identified by its hash) and one signer; the signer opens the signing link; the provider
 * calls the lender's webhook, HMAC-signed, when the envelope is signed or declined. An unsigned
 * envelope can be voided. The same idempotency key is the same envelope.
 */
const createSchema = z.object({
  applicationId: z.string().min(1).max(128),
  idempotencyKey: z.string().min(1).max(255),
  documentHash: z.string().regex(/^[0-9a-fA-F]{64}$/, 'documentHash is a SHA-256 in hex'),
  signerRef: z.string().min(1).max(128),
  /** Real-name details for the provider's identity check (实名认证); not stored. */
  signer: z
    .object({
      name: z.string().min(1).max(64),
      idNumber: z.string().min(1).max(32),
      phone: z.string().max(32).optional(),
    })
    .optional(),
  /** Per-envelope callback, overriding the sandbox-wide webhook URL. */
  callbackUrl: z.url().optional(),
  expiresInDays: z.number().int().min(1).max(30).default(7),
});
const voidSchema = z.object({ reason: z.string().max(200).optional() });
const signSchema = z.object({ signedAt: z.iso.datetime({ offset: true }).optional() });
const declineSchema = z.object({ reason: z.string().max(200).optional() });

export function viewEnvelope(e: Envelope) {
  const { idempotencyKey: _key, webhooks, ...rest } = e;
  return {
    ...rest,
    webhooks: webhooks.map(({ payload: _payload, ...w }) => w),
  };
}

/** An unsigned envelope past its expiry is expired (applied when read). */
function refresh(ctx: SandboxContext, e: Envelope): Envelope {
  if (e.status === 'sent' && Date.parse(e.expiresAt) <= ctx.now().getTime()) {
    e.status = 'expired';
    ctx.store.putEnvelope(e);
  }
  return e;
}

function find(ctx: SandboxContext, id: string | string[] | undefined): Envelope | undefined {
  const e = typeof id === 'string' ? ctx.store.envelopes.get(id) : undefined;
  return e && refresh(ctx, e);
}

function emit(ctx: SandboxContext, e: Envelope, type: WebhookDelivery['type'], at: string): void {
  const url = e.callbackUrl ?? ctx.esign.webhookUrl;
  const eventId = newId('evt');
  const payload = JSON.stringify({
    eventId,
    type,
    occurredAt: at,
    data: {
      envelopeId: e.envelopeId,
      applicationId: e.applicationId,
      signerRef: e.signerRef,
      documentHash: e.documentHash,
      status: e.status,
      signedAt: e.signedAt,
      declinedAt: e.declinedAt,
    },
  });
  const delivery: WebhookDelivery = { eventId, type, url, state: url ? 'pending' : 'not_configured', payload, attempts: [] };
  e.webhooks.push(delivery);
  ctx.store.putEnvelope(e);
  if (url) void deliverWebhook(ctx, e, delivery);
}

export function esignRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/envelopes', (req, res) => {
    const body = parseBody(createSchema, req, res);
    if (!body) return;
    const hash = bodyHash(body);
    const render = (id: string) => viewEnvelope(refresh(ctx, ctx.store.envelopes.get(id)!));
    if (replayIdempotent(ctx.store, 'esign', body.idempotencyKey, hash, res, render)) return;
    if (body.signer?.idNumber === ESIGN_IDENTITY_UNVERIFIED_ID) {
      return refuse(res, 422, 'signer_identity_unverified', 'the signer failed real-name identity verification');
    }
    const now = ctx.now();
    const envelopeId = newId('env');
    const envelope: Envelope = {
      envelopeId,
      applicationId: body.applicationId,
      idempotencyKey: body.idempotencyKey,
      documentHash: body.documentHash.toLowerCase(),
      signerRef: body.signerRef,
      callbackUrl: body.callbackUrl ?? null,
      status: 'sent',
      signingUrl: `${ctx.baseUrl}/esign/v1/signing/${envelopeId}`,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + body.expiresInDays * 86_400_000).toISOString(),
      signedAt: null,
      declinedAt: null,
      voidedAt: null,
      voidReason: null,
      webhooks: [],
    };
    ctx.store.putEnvelope(envelope);
    ctx.store.putIdempotency({
      scope: 'esign',
      key: body.idempotencyKey,
      bodyHash: hash,
      status: 201,
      entityId: envelopeId,
      body: null,
      createdAt: envelope.createdAt,
    });
    ctx.logger.info({ envelopeId, applicationId: body.applicationId }, 'esign: envelope sent');
    res.status(201).json(viewEnvelope(envelope));
  });

  router.get('/v1/envelopes/:envelopeId', (req, res) => {
    const e = find(ctx, req.params.envelopeId);
    if (!e) return refuse(res, 404, 'envelope_not_found', 'no envelope with this id');
    res.json(viewEnvelope(e));
  });

  router.post('/v1/envelopes/:envelopeId/void', (req, res) => {
    const body = parseBody(voidSchema, req, res);
    if (!body) return;
    const e = find(ctx, req.params.envelopeId);
    if (!e) return refuse(res, 404, 'envelope_not_found', 'no envelope with this id');
    if (e.status === 'signed') return refuse(res, 409, 'envelope_already_signed', 'a signed envelope cannot be voided');
    if (e.status === 'sent' || e.status === 'expired') {
      e.status = 'voided';
      e.voidedAt = ctx.now().toISOString();
      e.voidReason = body.reason ?? null;
      ctx.store.putEnvelope(e);
      ctx.logger.info({ envelopeId: e.envelopeId }, 'esign: envelope voided');
    }
    res.json(viewEnvelope(e));
  });

  return router;
}

/** Test hooks standing in for the customer (never faulted): the signing page, sign, decline. */
export function esignHooks(ctx: SandboxContext): Router {
  const router = Router();

  router.get('/v1/signing/:envelopeId', (req, res) => {
    const e = find(ctx, req.params.envelopeId);
    if (!e) return refuse(res, 404, 'envelope_not_found', 'no envelope with this id');
    const action = e.status === 'sent' ? `<form method="post" action="/esign/v1/envelopes/${e.envelopeId}/sign"><button>签署 Sign</button></form>` : '';
    res
      .type('html')
      .send(
        `<!doctype html><meta charset="utf-8"><title>Sandbox e-signature</title>` +
          `<h1>Sandbox e-signature</h1><p>Envelope ${e.envelopeId}: <b>${e.status}</b></p>` +
          `<p>Document SHA-256 <code>${e.documentHash}</code></p>${action}`,
      );
  });

  router.post('/v1/envelopes/:envelopeId/sign', (req, res) => {
    const body = parseBody(signSchema, req, res);
    if (!body) return;
    const e = find(ctx, req.params.envelopeId);
    if (!e) return refuse(res, 404, 'envelope_not_found', 'no envelope with this id');
    if (e.status === 'voided') return refuse(res, 409, 'envelope_voided', 'the envelope was voided');
    if (e.status === 'expired') return refuse(res, 409, 'envelope_expired', 'the envelope expired unsigned');
    if (e.status === 'declined') return refuse(res, 409, 'envelope_declined', 'the signer declined');
    if (e.status === 'sent') {
      e.status = 'signed';
      e.signedAt = body.signedAt ? new Date(body.signedAt).toISOString() : ctx.now().toISOString();
      ctx.store.putEnvelope(e);
      ctx.logger.info({ envelopeId: e.envelopeId }, 'esign: envelope signed');
      emit(ctx, e, 'envelope.signed', e.signedAt);
    }
    res.json(viewEnvelope(e));
  });

  router.post('/v1/envelopes/:envelopeId/decline', (req, res) => {
    const body = parseBody(declineSchema, req, res);
    if (!body) return;
    const e = find(ctx, req.params.envelopeId);
    if (!e) return refuse(res, 404, 'envelope_not_found', 'no envelope with this id');
    if (e.status === 'signed') return refuse(res, 409, 'envelope_already_signed', 'the envelope is already signed');
    if (e.status === 'voided' || e.status === 'expired') {
      return refuse(res, 409, `envelope_${e.status}`, `the envelope is ${e.status}`);
    }
    if (e.status === 'sent') {
      e.status = 'declined';
      e.declinedAt = ctx.now().toISOString();
      ctx.store.putEnvelope(e);
      ctx.logger.info({ envelopeId: e.envelopeId }, 'esign: envelope declined');
      emit(ctx, e, 'envelope.declined', e.declinedAt);
    }
    res.json(viewEnvelope(e));
  });

  return router;
}
