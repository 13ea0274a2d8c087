import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { bodyHash, refuseRemembered, requireIdempotencyKey, newId, parseBody, refuse, replayIdempotent } from '../http';
import type { Refund, Transfer } from '../store';
import {
  PAYMENTS_CLOSED_ACCOUNT,
  PAYMENTS_IRREVERSIBLE_ACCOUNT,
  PAYMENTS_NAME_MISMATCH_ACCOUNT,
  PAYMENTS_PENDING_ACCOUNT,
  PAYMENTS_SINGLE_TRANSFER_LIMIT_FEN,
} from '../test-values';

/**
 * Payouts (in the manner of Stripe / Adyen transfers): an `Idempotency-Key` header is required; the
 * same key and body is the same transfer (replayed, `Idempotent-Replayed: true`), the same key with
 * another body is 409. A refusal is remembered under its key too. Every accepted transfer writes one
 * payout entry to the ledger and a reversal one negative entry, so the ledger proves exactly-once.
 * Refunds (money paid back to a customer) work the same way, one `refund` entry each.
 */
const transferSchema = z.object({
  amountFen: z.number().int().positive(),
  currency: z.string().length(3),
  toAccount: z.object({
    accountNumber: z.string().regex(/^\d{8,30}$/, 'accountNumber is 8–30 digits'),
    accountName: z.string().min(1).max(100),
    bankCode: z.string().min(1).max(20),
  }),
  reference: z.string().min(1).max(140),
  purpose: z.string().max(64).optional(),
});
const reversalSchema = z.object({ reason: z.string().max(200).optional() });
const refundSchema = transferSchema.omit({ purpose: true }).extend({ reason: z.string().max(64).optional() });

export function viewRefund(r: Refund) {
  const { toAccount, idempotencyKey: _key, ...rest } = r;
  return { ...rest, toAccount: { bankCode: toAccount.bankCode, accountLast4: toAccount.accountNumber.slice(-4) } };
}

export function viewTransfer(t: Transfer) {
  const { toAccount, idempotencyKey: _key, settlesAt: _settles, ...rest } = t;
  return { ...rest, toAccount: { bankCode: toAccount.bankCode, accountLast4: toAccount.accountNumber.slice(-4) } };
}

/** A pending transfer whose settlement time has come is succeeded (applied when read). */
function refresh(ctx: SandboxContext, t: Transfer): Transfer {
  if (t.status === 'pending' && t.settlesAt && Date.parse(t.settlesAt) <= ctx.now().getTime()) {
    t.status = 'succeeded';
    t.completedAt = t.settlesAt;
    ctx.store.putTransfer(t);
  }
  return t;
}

function find(ctx: SandboxContext, id: string | string[] | undefined): Transfer | undefined {
  const t = typeof id === 'string' ? ctx.store.transfers.get(id) : undefined;
  return t && refresh(ctx, t);
}

export function paymentsRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/transfers', (req, res) => {
    const key = requireIdempotencyKey(req, res);
    if (!key) return;
    const body = parseBody(transferSchema, req, res);
    if (!body) return;
    const hash = bodyHash(body);
    const render = (id: string) => viewTransfer(refresh(ctx, ctx.store.transfers.get(id)!));
    if (replayIdempotent(ctx.store, 'payments', key, hash, res, render)) return;

    const now = ctx.now();
    const refusal = (status: number, code: string, message: string) => {
      ctx.logger.info({ code }, 'payments: transfer refused');
      refuseRemembered(ctx.store, { scope: 'payments', key, hash, createdAt: now.toISOString() }, res, status, code, message);
    };
    if (body.currency !== 'CNY') return refusal(422, 'unsupported_currency', 'only CNY transfers are supported');
    if (body.amountFen > PAYMENTS_SINGLE_TRANSFER_LIMIT_FEN) {
      return refusal(422, 'amount_exceeds_limit', 'the amount exceeds the single-transfer limit');
    }
    if (body.toAccount.accountNumber === PAYMENTS_CLOSED_ACCOUNT) {
      return refusal(422, 'account_closed', 'the beneficiary account is closed');
    }
    if (body.toAccount.accountNumber === PAYMENTS_NAME_MISMATCH_ACCOUNT) {
      return refusal(422, 'account_name_mismatch', 'the account name does not match the beneficiary account');
    }

    const pending = body.toAccount.accountNumber === PAYMENTS_PENDING_ACCOUNT;
    const transfer: Transfer = {
      transferId: newId('tr'),
      idempotencyKey: key,
      amountFen: body.amountFen,
      currency: 'CNY',
      reference: body.reference,
      toAccount: body.toAccount,
      status: pending ? 'pending' : 'succeeded',
      createdAt: now.toISOString(),
      settlesAt: pending ? new Date(now.getTime() + ctx.paymentPendingMs).toISOString() : null,
      completedAt: pending ? null : now.toISOString(),
      reversal: null,
    };
    ctx.store.putTransfer(transfer);
    ctx.store.addLedgerEntry({
      entryId: newId('le'),
      transferId: transfer.transferId,
      kind: 'payout',
      amountFen: transfer.amountFen,
      currency: 'CNY',
      reference: transfer.reference,
      bankCode: body.toAccount.bankCode,
      accountLast4: body.toAccount.accountNumber.slice(-4),
      idempotencyKey: key,
      createdAt: transfer.createdAt,
    });
    ctx.store.putIdempotency({
      scope: 'payments',
      key,
      bodyHash: hash,
      status: 201,
      entityId: transfer.transferId,
      body: null,
      createdAt: transfer.createdAt,
    });
    ctx.logger.info({ transferId: transfer.transferId, amountFen: transfer.amountFen, status: transfer.status }, 'payments: transfer accepted');
    res.status(201).json(viewTransfer(transfer));
  });

  router.get('/v1/transfers/:transferId', (req, res) => {
    const t = find(ctx, req.params.transferId);
    if (!t) return refuse(res, 404, 'transfer_not_found', 'no transfer with this id');
    res.json(viewTransfer(t));
  });

  // A transfer has at most one reversal, so reversing twice is the same reversal (idempotent by id).
  router.post('/v1/transfers/:transferId/reversals', (req, res) => {
    const body = parseBody(reversalSchema, req, res);
    if (!body) return;
    const t = find(ctx, req.params.transferId);
    if (!t) return refuse(res, 404, 'transfer_not_found', 'no transfer with this id');
    if (t.status === 'reversed') {
      res.setHeader('Idempotent-Replayed', 'true');
      res.json(viewTransfer(t));
      return;
    }
    if (t.toAccount.accountNumber === PAYMENTS_IRREVERSIBLE_ACCOUNT) {
      ctx.logger.info({ transferId: t.transferId, code: 'reversal_not_permitted' }, 'payments: reversal refused');
      return refuse(res, 422, 'reversal_not_permitted', 'the beneficiary bank does not permit returning this transfer');
    }
    const now = ctx.now().toISOString();
    t.status = 'reversed';
    t.reversal = { reversalId: newId('rv'), reason: body.reason ?? null, createdAt: now };
    ctx.store.putTransfer(t);
    ctx.store.addLedgerEntry({
      entryId: newId('le'),
      transferId: t.transferId,
      kind: 'reversal',
      amountFen: -t.amountFen,
      currency: 'CNY',
      reference: t.reference,
      bankCode: t.toAccount.bankCode,
      accountLast4: t.toAccount.accountNumber.slice(-4),
      idempotencyKey: t.idempotencyKey,
      createdAt: now,
    });
    ctx.logger.info({ transferId: t.transferId, reversalId: t.reversal.reversalId }, 'payments: transfer reversed');
    res.json(viewTransfer(t));
  });

  router.post('/v1/refunds', (req, res) => {
    const key = requireIdempotencyKey(req, res);
    if (!key) return;
    const body = parseBody(refundSchema, req, res);
    if (!body) return;
    const hash = bodyHash(body);
    if (replayIdempotent(ctx.store, 'refunds', key, hash, res, (id) => viewRefund(ctx.store.refunds.get(id)!))) return;
    const now = ctx.now().toISOString();
    const refusal = (code: string, message: string) => {
      ctx.logger.info({ code }, 'payments: refund refused');
      refuseRemembered(ctx.store, { scope: 'refunds', key, hash, createdAt: now }, res, 422, code, message);
    };
    if (body.currency !== 'CNY') return refusal('unsupported_currency', 'only CNY refunds are supported');
    if (body.toAccount.accountNumber === PAYMENTS_CLOSED_ACCOUNT) return refusal('account_closed', 'the beneficiary account is closed');
    if (body.toAccount.accountNumber === PAYMENTS_NAME_MISMATCH_ACCOUNT) return refusal('account_name_mismatch', 'the account name does not match the beneficiary account');
    const refund: Refund = {
      refundId: newId('rf'),
      idempotencyKey: key,
      amountFen: body.amountFen,
      currency: 'CNY',
      reference: body.reference,
      toAccount: body.toAccount,
      reason: body.reason ?? null,
      status: 'succeeded',
      createdAt: now,
    };
    ctx.store.putRefund(refund);
    ctx.store.addLedgerEntry({
      entryId: newId('le'),
      transferId: refund.refundId,
      kind: 'refund',
      amountFen: refund.amountFen,
      currency: 'CNY',
      reference: refund.reference,
      bankCode: body.toAccount.bankCode,
      accountLast4: body.toAccount.accountNumber.slice(-4),
      idempotencyKey: key,
      createdAt: now,
    });
    ctx.store.putIdempotency({ scope: 'refunds', key, bodyHash: hash, status: 201, entityId: refund.refundId, body: null, createdAt: now });
    ctx.logger.info({ refundId: refund.refundId, amountFen: refund.amountFen }, 'payments: refund paid');
    res.status(201).json(viewRefund(refund));
  });

  router.get('/v1/refunds/:refundId', (req, res) => {
    const r = ctx.store.refunds.get(req.params.refundId);
    if (!r) return refuse(res, 404, 'refund_not_found', 'no refund with this id');
    res.json(viewRefund(r));
  });

  return router;
}

/** Test hook (never faulted): the ledger, optionally for one reference or transfer. */
export function paymentsHooks(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/v1/ledger', (req, res) => {
    const reference = typeof req.query.reference === 'string' ? req.query.reference : undefined;
    const transferId = typeof req.query.transferId === 'string' ? req.query.transferId : undefined;
    const entries = ctx.store.ledger.filter(
      (e) => (!reference || e.reference === reference) && (!transferId || e.transferId === transferId),
    );
    res.json({ entries, count: entries.length, totalFen: entries.reduce((s, e) => s + e.amountFen, 0) });
  });
  return router;
}
