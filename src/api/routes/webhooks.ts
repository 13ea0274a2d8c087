import { eq } from 'drizzle-orm';
import { isTerminal, type Stage } from '../../domain';
import { applications } from '../../db/schema';
import { contractSignedUpdate } from '../../workflows/messages';
import { audit } from '../audit';
import type { ApiContext } from '../context';
import { sha256Hex } from '../idempotency';
import { defineOperation, type Operation } from '../operation';
import { ProblemError } from '../problem';
import { EsignAck, EsignEvent, ESIGN_EXAMPLES } from '../schemas/webhooks';
import { runAct } from './actions';
import { ESIGN_PROVIDER_ACTOR } from '../../workflows/actProof';
import { ESIGN_ACK_EXAMPLE } from '../schemas/examples';

/** Stages after which a signature can no longer matter: acknowledge, so the provider stops retrying. */
const PAST_SIGNING: readonly Stage[] = ['disbursement', 'servicing'];

export function webhookOperations(ctx: ApiContext): Operation[] {
  const esign = defineOperation({
    operationId: 'esignWebhook',
    method: 'post',
    path: '/webhooks/esign',
    summary: 'E-signature provider callback (contractSigned)',
    description:
      'Signed by the provider: `X-Esign-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with ESIGN_WEBHOOK_SECRET, at most 5 minutes old. `envelope.signed` becomes contractSigned (deduplicated by event id); other event types are acknowledged and recorded. A 409 while the application is not yet waiting makes the provider retry later.',
    tags: ['webhooks'],
    auth: { kind: 'esign' },
    body: EsignEvent,
    examples: ESIGN_EXAMPLES,
    responses: {
      200: { description: 'Received', schema: EsignAck, example: ESIGN_ACK_EXAMPLE },
      404: { description: 'No application has this id' },
      409: { description: 'The application is not waiting for a signature yet (the provider retries)' },
    },
    async handle({ body }) {
      const [row] = await ctx.db.select().from(applications).where(eq(applications.id, body.data.applicationId));
      if (!row) throw new ProblemError('not_found', 'No application has this id');
      const actId = `esign-${sha256Hex(body.eventId).slice(0, 32)}`;
      if (body.type !== 'envelope.signed') {
        await audit(ctx.db, {
          eventKey: `api:esign_event:${actId}`,
          applicationId: row.id,
          kind: 'esign_event',
          actor: 'esign-provider',
          stage: row.stage,
          data: { eventId: body.eventId, type: body.type, envelopeId: body.data.envelopeId },
        });
        return { status: 200, body: { received: true, eventId: body.eventId, applied: false } };
      }
      const signedAt = new Date(body.data.signedAt ?? body.occurredAt).toISOString();
      try {
        await runAct(ctx, {
          row,
          act: 'contract_signed',
          // The provider's HMAC checked out (operation.ts, auth kind esign): the API signs the act as the provider.
          actor: ESIGN_PROVIDER_ACTOR,
          roles: [ESIGN_PROVIDER_ACTOR],
          actId,
          update: contractSignedUpdate,
          arg: { actor: ESIGN_PROVIDER_ACTOR, actId, source: 'esign_callback', envelopeId: body.data.envelopeId, signedAt },
          data: { source: 'esign_callback', eventId: body.eventId, envelopeId: body.data.envelopeId, signedAt },
        });
      } catch (err) {
        const stage = err instanceof ProblemError ? (err.extensions.stage as Stage | undefined) : undefined;
        if (err instanceof ProblemError && err.kind === 'not_waiting' && stage && (isTerminal(stage) || PAST_SIGNING.includes(stage))) {
          return { status: 200, body: { received: true, eventId: body.eventId, applied: false } };
        }
        throw err;
      }
      return { status: 200, body: { received: true, eventId: body.eventId, applied: true } };
    },
  });
  return [esign];
}
