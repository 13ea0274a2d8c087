import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import { adminRouter } from './admin';
import type { SandboxContext } from './context';
import { faultInjection, PROVIDER_PREFIX, type SandboxProvider } from './faults';
import { refuse } from './http';
import { callCentreHooks, callCentreRouter } from './providers/callCentre';
import { creditBureauRouter } from './providers/creditBureau';
import { esignHooks, esignRouter } from './providers/esign';
import { ocrRouter } from './providers/ocr';
import { paymentsHooks, paymentsRouter } from './providers/payments';
import { smsHooks, smsRouter } from './providers/sms';
import { valuationRouter } from './providers/valuation';
import { withholdingHooks, withholdingRouter } from './providers/withholding';

const PROVIDER_ROUTERS: Record<SandboxProvider, (ctx: SandboxContext) => Router> = {
  ocr: ocrRouter,
  creditBureau: creditBureauRouter,
  callCentre: callCentreRouter,
  valuation: valuationRouter,
  esign: esignRouter,
  payments: paymentsRouter,
  sms: smsRouter,
  withholding: withholdingRouter,
};

/** Test hooks: what a test reads back or a customer would do; mounted ahead of the fault switch. */
const PROVIDER_HOOKS: Partial<Record<SandboxProvider, (ctx: SandboxContext) => Router>> = {
  callCentre: callCentreHooks,
  esign: esignHooks,
  payments: paymentsHooks,
  sms: smsHooks,
  withholding: withholdingHooks,
};

/** One express app serving every provider under its own prefix, plus /admin and /healthz. */
export function createSandboxApp(ctx: SandboxContext): Express {
  const app = express();
  app.disable('x-powered-by');

  // Paths only (query strings can hold phone numbers), status and time: no bodies, no personal data.
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      ctx.logger.debug({ method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms }, 'sandbox request');
    });
    next();
  });
  app.use(express.json({ limit: '1mb' }));
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use('/admin', adminRouter(ctx));

  for (const provider of Object.keys(PROVIDER_ROUTERS) as SandboxProvider[]) {
    const hooks = PROVIDER_HOOKS[provider];
    if (hooks) app.use(PROVIDER_PREFIX[provider], hooks(ctx));
  }
  for (const [provider, router] of Object.entries(PROVIDER_ROUTERS) as [SandboxProvider, (c: SandboxContext) => Router][]) {
    app.use(PROVIDER_PREFIX[provider], faultInjection(ctx, provider), router(ctx));
  }

  app.use((_req, res) => refuse(res, 404, 'not_found', 'no such endpoint'));

  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return refuse(res, 400, 'invalid_json', 'the body is not valid JSON');
    if (e.status && e.status >= 400 && e.status < 500) return refuse(res, e.status, 'bad_request', 'the request could not be read');
    ctx.logger.error({ err: e.message }, 'sandbox internal error');
    refuse(res, 500, 'internal_error', 'the sandbox failed');
  };
  app.use(onError);
  return app;
}
