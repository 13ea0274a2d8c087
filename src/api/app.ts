import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request } from 'express';
import helmet from 'helmet';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Config } from '../config';
import type { DbHandle } from '../db/client';
import type { PiiCipher } from '../db/pii';
import type { Logger } from '../logger';
import { createAuthenticator } from './auth';
import { codecCorsOrigins, codecRouter, codecSessionKey } from './codecServer';
import { actSignerFromConfig } from '../temporal/actKeys';
import { codecFromConfig } from '../temporal/codec';
import type { ApiContext } from './context';
import { docsRouter } from './docs';
import { IdempotencyStore } from './idempotency';
import { DRAINING } from './lifecycle';
import { LoanWorkflows, type LoanWorkflowsOptions } from './loanWorkflows';
import { DEFAULT_ORPHAN_AFTER_MS } from '../config';
import { createApiMetrics } from './metrics';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi';
import { handlerFor, hasBody, type Operation } from './operation';
import { errorHandler, notFoundHandler, ProblemError, validationProblem, type FieldError } from './problem';
import { actionOperations } from './routes/actions';
import { applicationOperations } from './routes/applications';
import { loanOperations } from './routes/loans';
import { webhookOperations } from './routes/webhooks';
import { workQueueOperations } from './routes/workQueues';

export interface AppDeps {
  db: DbHandle;
  temporal: Client;
  taskQueue: string;
  config: Pick<Config, 'JWT_SECRET' | 'JWT_JWKS_URL' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'ESIGN_WEBHOOK_SECRET' | 'DOCUMENT_URI_HOSTS' | 'NODE_ENV' | 'ACT_SIGNING_KEY' | 'ACT_SIGNING_KEY_ID' | 'ACT_VERIFY_KEYS'> &
    Partial<Pick<Config, 'TEMPORAL_CODEC_KEY' | 'TEMPORAL_CODEC_KEY_ID' | 'TEMPORAL_CODEC_OLD_KEYS' | 'CODEC_CORS_ORIGINS' | 'TEMPORAL_UI_PORT' | 'IDEMPOTENCY_STALE_MS' | 'TRUST_PROXY' | 'TASK_CLAIM_MINUTES' | 'APPLICATION_START_TIMEOUT_MS' | 'ORPHAN_AFTER_MS'>> &
    Partial<Pick<Config, 'API_QUERY_TIMEOUT_MS' | 'API_ACT_ACCEPT_TIMEOUT_MS' | 'API_ACT_RESULT_WAIT_MS'>>;
  cipher: PiiCipher;
  log: Logger;
  /** Largest accepted body (default 64kb). */
  bodyLimit?: string;
  /** Waits on the workflow; default the config's API_*_MS (tests set them). */
  workflowTimeouts?: Omit<LoanWorkflowsOptions, 'taskQueue'>;
}

export const BODY_LIMIT = '64kb';
const POLLER_FRESH_MS = 90_000;

/** Is some worker polling the task queue? Temporal reports pollers seen in the last minutes. */
export async function workerIsPolling(client: Client, taskQueue: string): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const now = Date.now();
  return (res.pollers ?? []).some((p) => {
    const seconds = Number(p.lastAccessTime?.seconds ?? 0);
    return seconds > 0 && now - seconds * 1000 < POLLER_FRESH_MS;
  });
}

async function check(name: string, fn: () => Promise<boolean | void>): Promise<[string, string]> {
  try {
    const ok = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref()),
    ]);
    return [name, ok === false ? 'failing' : 'ok'];
  } catch {
    return [name, 'failing'];
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

const decodes = (text: string, plusIsSpace = false) => {
  try {
    decodeURIComponent(plusIsSpace ? text.replace(/\+/g, ' ') : text);
    return true;
  } catch {
    return false;
  }
};

/**
 * Path segments and query values that are not percent-encoded UTF-8 (`%E0%A4%A`, `%C0%AE`): the
 * router's decoding of one was a 500. A path segment is named by the parameter it would be.
 */
export function encodingErrors(operations: readonly Operation[], method: string, rawPath: string, rawQuery: string): FieldError[] {
  const errors: FieldError[] = [];
  const message = 'is not valid percent-encoded UTF-8';
  const segments = rawPath.split('/');
  segments.forEach((segment, i) => {
    if (decodes(segment)) return;
    const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    const parts = operations.filter((op) => op.method === verb).map((op) => op.path.split('/'));
    const match = parts.find((p) => p.length === segments.length && p.every((part, j) => part.startsWith(':') || part === segments[j]));
    const name = match?.[i]?.startsWith(':') ? match[i].slice(1) : undefined;
    errors.push({ pointer: name ? `#/${name}` : '#', in: 'params', code: 'invalid_encoding', message: name ? message : `the path ${message}` });
  });
  for (const pair of rawQuery ? rawQuery.split('&') : []) {
    const eq = pair.indexOf('=');
    const [rawKey, rawValue] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    if (!decodes(rawKey, true)) errors.push({ pointer: '#', in: 'query', code: 'invalid_encoding', message: `a parameter name ${message}` });
    else if (!decodes(rawValue, true)) errors.push({ pointer: `#/${decodeURIComponent(rawKey.replace(/\+/g, ' '))}`, in: 'query', code: 'invalid_encoding', message });
  }
  return errors;
}

const CONTENT_CODING = /^[A-Za-z0-9._-]{1,32}$/;

/** Every operation of SPEC section 4, in one table (also the source of /openapi.json). */
export function apiOperations(ctx: ApiContext): Operation[] {
  return [...applicationOperations(ctx), ...workQueueOperations(ctx), ...actionOperations(ctx), ...webhookOperations(ctx), ...loanOperations(ctx)];
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Behind a TLS-terminating proxy that says so, req.secure and req.protocol tell the truth.
  app.set('trust proxy', deps.config.TRUST_PROXY ?? false);
  const log = deps.log;
  const metrics = createApiMetrics({ db: deps.db.db, log });

  const ctx: ApiContext = {
    db: deps.db.db,
    cipher: deps.cipher,
    temporal: deps.temporal,
    workflows: new LoanWorkflows(deps.temporal, {
      taskQueue: deps.taskQueue,
      queryTimeoutMs: deps.config.API_QUERY_TIMEOUT_MS,
      actAcceptTimeoutMs: deps.config.API_ACT_ACCEPT_TIMEOUT_MS,
      actResultWaitMs: deps.config.API_ACT_RESULT_WAIT_MS,
      ...(deps.config.APPLICATION_START_TIMEOUT_MS ? { startTimeoutMs: deps.config.APPLICATION_START_TIMEOUT_MS } : {}),
      ...deps.workflowTimeouts,
    }),
    config: deps.config,
    orphanAfterMs: deps.config.ORPHAN_AFTER_MS ?? DEFAULT_ORPHAN_AFTER_MS,
    log,
    // Fails the start in production without ACT_SIGNING_KEY.
    signer: actSignerFromConfig(deps.config),
  };
  const operations = apiOperations(ctx);
  const openApi: OpenApiDocument = buildOpenApiDocument(operations);
  const openApiJson = JSON.stringify(openApi);
  app.locals.openApi = openApi;

  // Request id, access log (ids, route and status only: never bodies or headers) and metrics.
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    if ((app.locals as Record<symbol, unknown>)[DRAINING]) res.setHeader('Connection', 'close');
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req as Request & { route?: { path?: string } }).route?.path ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe(req.method, String(route), res.statusCode, seconds);
      log.info({ requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  });
  app.use(helmet());

  // A request whose path or query is not percent-encoded UTF-8 is a bad request, not an error.
  app.use((req, _res, next) => {
    const q = req.originalUrl.indexOf('?');
    const errors = encodingErrors(operations, req.method, req.path, q < 0 ? '' : req.originalUrl.slice(q + 1));
    next(errors.length > 0 ? validationProblem(errors) : undefined);
  });

  // Bodies are accepted uncompressed only (a compressed one is 415 naming its Content-Encoding): 64 kB
  // of JSON gains little from gzip or br, and inflating is where zip bombs live (and where a body
  // labelled gzip that was not became a 500).
  app.use((req, _res, next) => {
    const encoding = req.get('content-encoding')?.trim();
    if (encoding === undefined || encoding === '' || encoding.toLowerCase() === 'identity' || !hasBody(req)) {
      next();
      return;
    }
    const named = CONTENT_CODING.test(encoding) ? `"${encoding}"` : 'this content coding';
    next(
      new ProblemError(
        'unsupported_content_encoding',
        `Content-Encoding ${named} is not accepted: send the body uncompressed`,
        { errors: [{ pointer: '#/content-encoding', in: 'header', code: 'unsupported_encoding', message: 'must be absent or identity: bodies are accepted uncompressed only' }] },
        { 'Accept-Encoding': 'identity' },
      ),
    );
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    if ((app.locals as Record<symbol, unknown>)[DRAINING]) {
      res.status(503).json({ status: 'draining', checks: {} });
      return;
    }
    const checks = Object.fromEntries(
      await Promise.all([
        check('database', () => deps.db.ping()),
        check('temporal', async () => {
          await deps.temporal.workflowService.getSystemInfo({});
        }),
        check('worker', () => workerIsPolling(deps.temporal, deps.taskQueue)),
      ]),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApiJson);
  });
  app.use(docsRouter());

  // The Temporal UI's codec endpoint (engineers only), with its own CORS, cookie and body limit.
  if (deps.config.TEMPORAL_CODEC_KEY && deps.config.TEMPORAL_CODEC_KEY_ID) {
    const codec = codecFromConfig({ ...deps.config, TEMPORAL_CODEC_KEY: deps.config.TEMPORAL_CODEC_KEY, TEMPORAL_CODEC_KEY_ID: deps.config.TEMPORAL_CODEC_KEY_ID });
    app.use(
      '/codec',
      codecRouter({
        codec,
        authenticate: createAuthenticator(deps.config),
        allowedOrigins: codecCorsOrigins(deps.config),
        sessionKey: codecSessionKey(deps.config.TEMPORAL_CODEC_KEY),
        log,
      }),
    );
  }

  // JSON bodies up to the limit; the raw bytes are kept for the webhook's HMAC.
  app.use(
    express.json({
      limit: deps.bodyLimit ?? BODY_LIMIT,
      type: ['application/json', 'application/*+json'],
      strict: true,
      inflate: false,
      verify: (req, _res, buf, encoding) => {
        // Invalid UTF-8 would be decoded into U+FFFD and stored as if it had been typed.
        if ((encoding === 'utf-8' || encoding === 'utf8') && !isUtf8(buf)) throw Object.assign(new Error('invalid UTF-8'), { type: 'entity.invalid.utf8' });
        (req as unknown as { rawBody: Buffer }).rawBody = buf;
      },
    }),
  );

  const authenticate = createAuthenticator(deps.config);
  const idempotency = new IdempotencyStore(ctx.db, deps.config.IDEMPOTENCY_STALE_MS);
  const services = { authenticate, idempotency, esignWebhookSecret: deps.config.ESIGN_WEBHOOK_SECRET, log };
  for (const op of operations) app[op.method](op.path, handlerFor(op, services));

  app.use(notFoundHandler);
  app.use(errorHandler(log));
  return app;
}
