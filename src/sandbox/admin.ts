import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from './context';
import { faultSpecSchema, SANDBOX_PROVIDERS, type SandboxProvider } from './faults';
import { parseBody, parseInput, refuse } from './http';

/**
 * The sandbox's own control surface, for tests and demos: fault injection per provider, a reset,
 * and where e-signature callbacks go. Never faulted; local use only (the sandbox binds 127.0.0.1).
 */
const providerQuery = z.object({ provider: z.enum([...SANDBOX_PROVIDERS, 'all']).optional() });
const webhookSchema = z.object({
  url: z.url().nullable(),
  secret: z.string().min(16).optional(),
});

export function adminRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.get('/faults', (_req, res) => {
    res.json({ faults: ctx.faults.list() });
  });

  router.post('/faults', (req, res) => {
    const spec = parseBody(faultSpecSchema, req, res);
    if (!spec) return;
    if (spec.mode === 'refusal' && spec.status !== undefined && (spec.status < 400 || spec.status > 499)) {
      return refuse(res, 400, 'invalid_request', 'a refusal answers a 4xx status');
    }
    if ((spec.mode === 'error_5xx' || spec.mode === 'fraction') && spec.status !== undefined && spec.status < 500) {
      return refuse(res, 400, 'invalid_request', 'an injected error answers a 5xx status');
    }
    const fault = ctx.faults.set(spec);
    ctx.logger.info({ provider: fault.provider, mode: fault.mode, rate: fault.rate, expiresAt: fault.expiresAt }, 'sandbox fault set');
    res.status(201).json({ fault });
  });

  router.delete('/faults', (req, res) => {
    const q = parseInput(providerQuery, req.query, res);
    if (!q) return;
    const cleared = ctx.faults.clear(q.provider);
    ctx.logger.info({ provider: q.provider ?? '*', cleared }, 'sandbox faults cleared');
    res.json({ cleared });
  });

  router.delete('/faults/:provider', (req, res) => {
    const q = parseInput(providerQuery, { provider: req.params.provider }, res);
    if (!q) return;
    res.json({ cleared: ctx.faults.clear(q.provider as SandboxProvider | 'all') });
  });

  router.post('/reset', (_req, res) => {
    ctx.store.reset();
    ctx.faults.clear();
    ctx.logger.info({}, 'sandbox reset');
    res.json({ reset: true });
  });

  router.get('/esign/webhook', (_req, res) => {
    res.json({ url: ctx.esign.webhookUrl, retryDelaysMs: ctx.esign.retryDelaysMs });
  });

  router.put('/esign/webhook', (req, res) => {
    const body = parseBody(webhookSchema, req, res);
    if (!body) return;
    ctx.esign.webhookUrl = body.url;
    if (body.secret) ctx.esign.webhookSecret = body.secret;
    res.json({ url: ctx.esign.webhookUrl, retryDelaysMs: ctx.esign.retryDelaysMs });
  });

  return router;
}
