import type { SandboxContext } from './context';
import { signEsignPayload } from './esign-signature';
import type { Envelope, WebhookDelivery } from './store';

/**
 * How long one delivery waits for the receiver. Above the API's own longest answer to a callback
 * (it applies the signature first: API_ACT_ACCEPT_TIMEOUT_MS + API_ACT_RESULT_WAIT_MS, 30 s by
 * default), so a busy receiver is not taken for a dead one.
 */
const ATTEMPT_TIMEOUT_MS = 60_000;

/**
 * Delivers one e-signature event: POST of the JSON payload, signed with HMAC-SHA256 afresh on each
 * attempt, retried after each configured delay until a 2xx arrives. Every attempt is recorded on
 * the envelope (and so persisted); an event id lets the receiver drop duplicates.
 */
export async function deliverWebhook(ctx: SandboxContext, envelope: Envelope, delivery: WebhookDelivery): Promise<void> {
  if (!delivery.url) return;
  const delays = [0, ...ctx.esign.retryDelaysMs];
  for (let i = delivery.attempts.length; i < delays.length; i++) {
    const delay = delays[i] ?? 0;
    if (delay > 0) await ctx.timers.sleep(delay);
    if (ctx.timers.isClosed) return;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-esign-signature': signEsignPayload(ctx.esign.webhookSecret, delivery.payload),
          'x-esign-event-id': delivery.eventId,
          'x-esign-delivery-attempt': String(i + 1),
        },
        body: delivery.payload,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : 'request failed';
    }
    if (ctx.timers.isClosed) return;
    delivery.attempts.push({ at: ctx.now().toISOString(), status, error });
    const ok = status !== null && status >= 200 && status < 300;
    const last = i === delays.length - 1;
    if (ok || last) delivery.state = ok ? 'delivered' : 'failed';
    ctx.store.putEnvelope(envelope);
    ctx.logger[ok ? 'info' : 'warn'](
      { envelopeId: envelope.envelopeId, eventId: delivery.eventId, attempt: i + 1, status, state: delivery.state },
      'esign: webhook attempt',
    );
    if (ok || last) return;
  }
}

/** After a restart: finish the deliveries that were still being retried. */
export function resumePendingWebhooks(ctx: SandboxContext): void {
  for (const envelope of ctx.store.envelopes.values()) {
    for (const delivery of envelope.webhooks) {
      if (delivery.state === 'pending') void deliverWebhook(ctx, envelope, delivery);
    }
  }
}
