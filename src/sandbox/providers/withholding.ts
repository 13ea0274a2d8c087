import { Router } from 'express';
import { z } from 'zod';
import { shanghaiDate } from '../../domain/dates';
import type { SandboxContext } from '../context';
import { bodyHash, refuseRemembered, requireIdempotencyKey, isValidResidentId, newId, parseBody, refuse, replayIdempotent } from '../http';
import type { Debit, Mandate } from '../store';
import {
  WITHHOLDING_CANCELLED_CARD,
  WITHHOLDING_CANCELLED_LATER_CARD,
  WITHHOLDING_DAILY_LIMIT_FEN,
  WITHHOLDING_FROZEN_CARD,
  WITHHOLDING_HOLDER_MISMATCH_CARD,
  WITHHOLDING_INSUFFICIENT_FUNDS_CARD,
  WITHHOLDING_OVER_LIMIT_CARD,
  WITHHOLDING_PENDING_CARD,
  WITHHOLDING_UNSUPPORTED_BANK_CODE,
} from '../test-values';

/**
 * Withholding (代扣), in the manner of a Chinese payment channel's entrusted-debit API (UnionPay,
 * Alipay, the banks' own): the lender registers a mandate for the customer's card (the bank checks
 * card, holder name and ID number), then asks for debits under it. Both requests need an
 * `Idempotency-Key` (the channel's merchant order number): the same key and body is the same
 * mandate or debit, answered again with `Idempotent-Replayed: true`; the same key with another body
 * is 409. A debit is answered at once with the bank's answer (`succeeded`, `pending`, or `failed`
 * with a code); a failed debit is remembered under its key too, so a retry of one attempt never
 * becomes a second one. Every debit that succeeds writes one entry to the withholding ledger, which
 * proves at-most-once per key, and the day's settlement file lists them for reconciliation.
 * Personal data never leaves in an answer: a mandate shows the card's last four digits only.
 */
const mandateSchema = z.object({
  reference: z.string().min(1).max(140),
  bankCode: z.string().min(1).max(20),
  cardNumber: z.string().regex(/^\d{12,19}$/, 'cardNumber is 12–19 digits'),
  holderName: z.string().min(1).max(100),
  idNumber: z.string().refine(isValidResidentId, 'idNumber is not a valid resident ID number'),
});
const debitSchema = z.object({
  mandateId: z.string().min(1).max(64),
  amountFen: z.number().int().positive(),
  currency: z.string().length(3),
  reference: z.string().min(1).max(140),
});
const balanceSchema = z.object({ balanceFen: z.number().int().min(0).nullable() });
const dateParam = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

/** The bank's answer to a debit from the card's test value (docs/sandbox.md), or null: it succeeds. */
const CARD_DEBIT_ANSWERS: Record<string, string> = {
  [WITHHOLDING_FROZEN_CARD]: 'account_frozen',
  [WITHHOLDING_CANCELLED_LATER_CARD]: 'card_cancelled',
  [WITHHOLDING_OVER_LIMIT_CARD]: 'over_daily_limit',
};

export function viewMandate(m: Mandate) {
  return {
    mandateId: m.mandateId,
    reference: m.reference,
    bankCode: m.bankCode,
    cardLast4: m.cardNumber.slice(-4),
    status: m.status,
    createdAt: m.createdAt,
    revokedAt: m.revokedAt,
  };
}

export function viewDebit(d: Debit) {
  const { idempotencyKey: _key, settlesAt: _settles, ...rest } = d;
  return rest;
}

/** A pending debit whose settlement time has come succeeds and enters the ledger (applied when read). */
function refresh(ctx: SandboxContext, d: Debit): Debit {
  if (d.status === 'pending' && d.settlesAt && Date.parse(d.settlesAt) <= ctx.now().getTime()) {
    d.status = 'succeeded';
    d.settledAt = d.settlesAt;
    ctx.store.putDebit(d);
    book(ctx, d);
  }
  return d;
}

function refreshAll(ctx: SandboxContext): void {
  for (const d of ctx.store.debits.values()) refresh(ctx, d);
}

function book(ctx: SandboxContext, d: Debit): void {
  const m = ctx.store.mandates.get(d.mandateId)!;
  ctx.store.addWithholdingEntry({
    entryId: newId('we'),
    debitId: d.debitId,
    mandateId: d.mandateId,
    idempotencyKey: d.idempotencyKey,
    reference: d.reference,
    amountFen: d.amountFen,
    currency: 'CNY',
    bankCode: m.bankCode,
    cardLast4: m.cardNumber.slice(-4),
    settledAt: d.settledAt!,
  });
}

/** What one card has been debited (or has pending) on an Asia/Shanghai day, for the daily limit. */
function debitedOnDay(ctx: SandboxContext, mandate: Mandate, day: string): number {
  let sum = 0;
  for (const d of ctx.store.debits.values()) {
    if (d.status === 'failed') continue;
    const m = ctx.store.mandates.get(d.mandateId);
    if (m?.cardNumber === mandate.cardNumber && shanghaiDate(Date.parse(d.createdAt)) === day) sum += d.amountFen;
  }
  return sum;
}

export function withholdingRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/mandates', (req, res) => {
    const key = requireIdempotencyKey(req, res);
    if (!key) return;
    const body = parseBody(mandateSchema, req, res);
    if (!body) return;
    const hash = bodyHash(body);
    if (replayIdempotent(ctx.store, 'mandates', key, hash, res, (id) => viewMandate(ctx.store.mandates.get(id)!))) return;
    const now = ctx.now().toISOString();
    const refusal = (code: string, message: string) => {
      ctx.logger.info({ code }, 'withholding: mandate refused');
      refuseRemembered(ctx.store, { scope: 'mandates', key, hash, createdAt: now }, res, 422, code, message);
    };
    if (body.bankCode === WITHHOLDING_UNSUPPORTED_BANK_CODE) return refusal('bank_not_supported', 'the channel does not withhold from this bank');
    if (body.cardNumber === WITHHOLDING_CANCELLED_CARD) return refusal('card_cancelled', 'the card is cancelled');
    if (body.cardNumber === WITHHOLDING_HOLDER_MISMATCH_CARD) {
      return refusal('holder_mismatch', "the holder's name or ID number does not match the bank's records");
    }
    const mandate: Mandate = {
      mandateId: newId('md'),
      idempotencyKey: key,
      reference: body.reference,
      bankCode: body.bankCode,
      cardNumber: body.cardNumber,
      holderName: body.holderName,
      idNumber: body.idNumber,
      status: 'active',
      balanceFen: body.cardNumber === WITHHOLDING_INSUFFICIENT_FUNDS_CARD ? 0 : null,
      createdAt: now,
      revokedAt: null,
    };
    ctx.store.putMandate(mandate);
    ctx.store.putIdempotency({ scope: 'mandates', key, bodyHash: hash, status: 201, entityId: mandate.mandateId, body: null, createdAt: now });
    ctx.logger.info({ mandateId: mandate.mandateId }, 'withholding: mandate registered');
    res.status(201).json(viewMandate(mandate));
  });

  router.get('/v1/mandates/:mandateId', (req, res) => {
    const m = ctx.store.mandates.get(req.params.mandateId);
    if (!m) return refuse(res, 404, 'mandate_not_found', 'no mandate with this id');
    res.json(viewMandate(m));
  });

  // A mandate is revoked once: revoking it again answers the same revocation.
  router.post('/v1/mandates/:mandateId/revocation', (req, res) => {
    const m = ctx.store.mandates.get(req.params.mandateId);
    if (!m) return refuse(res, 404, 'mandate_not_found', 'no mandate with this id');
    if (m.status === 'revoked') {
      res.setHeader('Idempotent-Replayed', 'true');
      return void res.json(viewMandate(m));
    }
    m.status = 'revoked';
    m.revokedAt = ctx.now().toISOString();
    ctx.store.putMandate(m);
    ctx.logger.info({ mandateId: m.mandateId }, 'withholding: mandate revoked');
    res.json(viewMandate(m));
  });

  router.post('/v1/debits', (req, res) => {
    const key = requireIdempotencyKey(req, res);
    if (!key) return;
    const body = parseBody(debitSchema, req, res);
    if (!body) return;
    const hash = bodyHash(body);
    const render = (id: string) => viewDebit(refresh(ctx, ctx.store.debits.get(id)!));
    if (replayIdempotent(ctx.store, 'debits', key, hash, res, render)) return;
    const now = ctx.now();
    if (body.currency !== 'CNY') {
      const remembered = { scope: 'debits', key, hash, createdAt: now.toISOString() };
      return refuseRemembered(ctx.store, remembered, res, 422, 'unsupported_currency', 'only CNY debits are supported');
    }
    // An unknown mandate is the caller's error, not a bank answer: nothing is remembered under the key.
    const mandate = ctx.store.mandates.get(body.mandateId);
    if (!mandate) return refuse(res, 404, 'mandate_not_found', 'no mandate with this id');

    let failureCode: string | null = null;
    if (mandate.status === 'revoked') failureCode = 'mandate_revoked';
    else if (CARD_DEBIT_ANSWERS[mandate.cardNumber]) failureCode = CARD_DEBIT_ANSWERS[mandate.cardNumber]!;
    else if (mandate.balanceFen !== null && mandate.balanceFen < body.amountFen) failureCode = 'insufficient_funds';
    else if (debitedOnDay(ctx, mandate, shanghaiDate(now.getTime())) + body.amountFen > WITHHOLDING_DAILY_LIMIT_FEN) {
      failureCode = 'over_daily_limit';
    }
    const pending = failureCode === null && mandate.cardNumber === WITHHOLDING_PENDING_CARD;
    const debit: Debit = {
      debitId: newId('db'),
      idempotencyKey: key,
      mandateId: mandate.mandateId,
      reference: body.reference,
      amountFen: body.amountFen,
      currency: 'CNY',
      status: failureCode ? 'failed' : pending ? 'pending' : 'succeeded',
      failureCode,
      createdAt: now.toISOString(),
      settlesAt: pending ? new Date(now.getTime() + ctx.paymentPendingMs).toISOString() : null,
      settledAt: failureCode || pending ? null : now.toISOString(),
    };
    if (debit.status !== 'failed' && mandate.balanceFen !== null) {
      mandate.balanceFen -= debit.amountFen;
      ctx.store.putMandate(mandate);
    }
    ctx.store.putDebit(debit);
    if (debit.status === 'succeeded') book(ctx, debit);
    ctx.store.putIdempotency({ scope: 'debits', key, bodyHash: hash, status: 201, entityId: debit.debitId, body: null, createdAt: debit.createdAt });
    ctx.logger.info({ debitId: debit.debitId, amountFen: debit.amountFen, status: debit.status, failureCode }, 'withholding: debit answered');
    res.status(201).json(viewDebit(debit));
  });

  router.get('/v1/debits/:debitId', (req, res) => {
    const d = ctx.store.debits.get(req.params.debitId);
    if (!d) return refuse(res, 404, 'debit_not_found', 'no debit with this id');
    res.json(viewDebit(refresh(ctx, d)));
  });

  // The day's settlement file (对账单), published once the Asia/Shanghai day is over: one CSV line per
  // debit settled that day, with the merchant reference (the idempotency key the lender sent).
  router.get('/v1/settlements/:date', (req, res) => {
    const date = dateParam.safeParse(req.params.date);
    if (!date.success) return refuse(res, 400, 'invalid_date', 'the settlement date is YYYY-MM-DD');
    const today = shanghaiDate(ctx.now().getTime());
    if (date.data >= today) return refuse(res, 409, 'settlement_not_ready', 'the settlement file of a day is published once the day is over');
    refreshAll(ctx);
    const lines = ctx.store.withholdingLedger
      .filter((e) => shanghaiDate(Date.parse(e.settledAt)) === date.data)
      .map((e) => [e.debitId, e.idempotencyKey, e.reference, e.mandateId, e.amountFen, e.currency, e.settledAt].map(csvField).join(','));
    res.type('text/csv; charset=utf-8');
    res.send(['debit_id,merchant_reference,reference,mandate_id,amount_fen,currency,settled_at', ...lines].join('\n') + '\n');
  });

  return router;
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Test hooks (never faulted): the withholding ledger, and a card's balance as the customer tops it up. */
export function withholdingHooks(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/v1/ledger', (req, res) => {
    refreshAll(ctx);
    const reference = typeof req.query.reference === 'string' ? req.query.reference : undefined;
    const entries = ctx.store.withholdingLedger.filter((e) => !reference || e.reference === reference);
    res.json({ entries, count: entries.length, totalFen: entries.reduce((s, e) => s + e.amountFen, 0) });
  });
  router.put('/v1/mandates/:mandateId/balance', (req, res) => {
    const body = parseBody(balanceSchema, req, res);
    if (!body) return;
    const m = ctx.store.mandates.get(req.params.mandateId);
    if (!m) return refuse(res, 404, 'mandate_not_found', 'no mandate with this id');
    m.balanceFen = body.balanceFen;
    ctx.store.putMandate(m);
    res.json({ mandateId: m.mandateId, balanceFen: m.balanceFen });
  });
  return router;
}
