import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { bodyHash, MOBILE_RE, newId, parseBody, refuse } from '../http';
import type { SmsMessage } from '../store';
import { SMS_NOT_IN_SERVICE_PHONE } from '../test-values';

/**
 * SMS gateway (in the manner of Aliyun / Tencent SMS): single and batched sends, each message
 * carrying the sender's `messageId`, which the gateway dedupes on — a retried send is not a second
 * text. Every accepted message is recorded for tests to read back.
 */
const messageSchema = z.object({
  messageId: z.string().min(1).max(128),
  to: z.string().min(1).max(32),
  text: z.string().min(1).max(1000),
  template: z.string().max(64).optional(),
  tag: z.string().max(64).optional(),
});
type MessageInput = z.infer<typeof messageSchema>;
/** At most this many messages a batch request (Aliyun's SendBatchSms takes 100 too). */
export const SMS_BATCH_MAX = 100;
const batchSchema = z.object({
  messages: z
    .array(messageSchema)
    .min(1)
    .max(SMS_BATCH_MAX)
    .superRefine((messages, ctx) => {
      // One id twice in one request is a sender's bug, not a retry: refuse the whole batch.
      const first = new Map<string, number>();
      messages.forEach((m, i) => {
        const at = first.get(m.messageId);
        if (at === undefined) first.set(m.messageId, i);
        else ctx.addIssue({ code: 'custom', path: [i, 'messageId'], message: `repeats messages.${at}.messageId; each message of a batch needs its own id` });
      });
    }),
});

export type SmsResult =
  | { messageId: string; status: 'accepted' | 'duplicate'; providerMessageId: string }
  | { messageId: string; status: 'rejected'; code: string; message: string };

function view(m: SmsMessage) {
  const { bodyHash: _hash, ...rest } = m;
  return rest;
}

function send(ctx: SandboxContext, input: MessageInput): SmsResult {
  const hash = bodyHash(input);
  const prior = ctx.store.sms.get(input.messageId);
  if (prior) {
    if (prior.bodyHash !== hash) {
      return { messageId: input.messageId, status: 'rejected', code: 'message_id_reused', message: 'this messageId was used for a different message' };
    }
    return { messageId: input.messageId, status: 'duplicate', providerMessageId: prior.providerMessageId };
  }
  if (!MOBILE_RE.test(input.to)) {
    return { messageId: input.messageId, status: 'rejected', code: 'invalid_phone_number', message: 'not an 11-digit mainland mobile number' };
  }
  if (input.to === SMS_NOT_IN_SERVICE_PHONE) {
    return { messageId: input.messageId, status: 'rejected', code: 'number_not_in_service', message: 'the number is not in service' };
  }
  const msg: SmsMessage = {
    messageId: input.messageId,
    providerMessageId: newId('sms'),
    to: input.to,
    text: input.text,
    template: input.template ?? null,
    tag: input.tag ?? null,
    bodyHash: hash,
    acceptedAt: ctx.now().toISOString(),
  };
  ctx.store.putSms(msg);
  ctx.logger.info({ messageId: msg.messageId, providerMessageId: msg.providerMessageId, template: msg.template }, 'sms: accepted');
  return { messageId: msg.messageId, status: 'accepted', providerMessageId: msg.providerMessageId };
}

export function smsRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/messages', (req, res) => {
    const body = parseBody(messageSchema, req, res);
    if (!body) return;
    const result = send(ctx, body);
    if (result.status === 'rejected') {
      return refuse(res, result.code === 'message_id_reused' ? 409 : 422, result.code, result.message);
    }
    res.status(result.status === 'accepted' ? 202 : 200).json(result);
  });

  // Each message succeeds or fails on its own; the batch answers 200 with one result per message,
  // in the order sent. A malformed batch (empty, over 100, a bad or repeated field) is refused
  // whole with 400 and sends nothing; the fault switch applies to the request as a whole.
  router.post('/v1/messages/batch', (req, res) => {
    const body = parseBody(batchSchema, req, res);
    if (!body) return;
    res.json({ results: body.messages.map((m) => send(ctx, m)) });
  });

  return router;
}

/** Test hook (never faulted): every recorded message, filtered by recipient and time. */
export function smsHooks(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/v1/messages', (req, res) => {
    const to = typeof req.query.to === 'string' ? req.query.to : undefined;
    const since = typeof req.query.since === 'string' ? Date.parse(req.query.since) : NaN;
    const messages = [...ctx.store.sms.values()].filter(
      (m) => (!to || m.to === to) && (Number.isNaN(since) || Date.parse(m.acceptedAt) >= since),
    );
    res.json({ messages: messages.map(view), count: messages.length });
  });
  return router;
}
