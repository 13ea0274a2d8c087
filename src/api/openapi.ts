import { OpenApiGeneratorV31, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { routeConfig, type Operation } from './operation';
import { z } from './zod';

/** Operations served outside the operation table (probes, metrics, the document itself). */
function registerInfrastructure(registry: OpenAPIRegistry): void {
  const json = (description: string, schema: z.ZodType, example: unknown) => ({ description, content: { 'application/json': { schema, example } } });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'healthz',
    summary: 'Liveness probe',
    tags: ['operations'],
    security: [],
    responses: { 200: json('The process is up', z.object({ status: z.literal('ok') }), { status: 'ok' }) },
  });
  const Ready = z.object({ status: z.enum(['ready', 'not_ready', 'draining']), checks: z.record(z.string(), z.enum(['ok', 'failing'])) }).openapi('Readiness');
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'readyz',
    summary: 'Readiness probe: database, Temporal and a polling worker',
    tags: ['operations'],
    security: [],
    responses: {
      200: json('Ready', Ready, { status: 'ready', checks: { database: 'ok', temporal: 'ok', worker: 'ok' } }),
      503: json('Not ready (or shutting down)', Ready, { status: 'not_ready', checks: { database: 'ok', temporal: 'ok', worker: 'failing' } }),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    tags: ['operations'],
    security: [],
    responses: {
      200: {
        description: 'Prometheus text format',
        content: { 'text/plain': { schema: z.string(), example: '# TYPE car_loans_applications gauge\ncar_loans_applications{stage="approval"} 3\n' } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tags: ['operations'],
    security: [],
    responses: { 200: json('OpenAPI 3.1', z.object({}).catchall(z.unknown()), { openapi: '3.1.0', info: { title: 'Car-loan operations API', version: '1.0.0' }, paths: {} }) },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'docs',
    summary: 'This document in Swagger UI: search, examples, Authorize with a token, Try it out',
    tags: ['operations'],
    security: [],
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string(), example: '<!doctype html>…<div id="swagger-ui"></div>…' } } } },
  });
}

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate the requests. */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

export function buildOpenApiDocument(operations: readonly Operation[]): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'Claims: `sub` (staff id) and `roles` (officer, verifier, approver, supervisor, finance, collections, admin). `npm run -s token -- --sub <id> --roles <r1,r2>` mints a development token.',
  });
  registry.registerComponent('securitySchemes', 'esignSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Esign-Signature',
    description: '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with the shared webhook secret',
  });
  registerInfrastructure(registry);
  for (const op of operations) registry.registerPath(routeConfig(op));
  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Car-loan operations API',
      version: '1.0.0',
      description: [
        'The thin API operations staff use: each application is a Temporal workflow, and every action here is an update of it. Errors are `application/problem+json` (RFC 9457). Money is integer fen (0.01 CNY).',
        '',
        'Text: no string may hold NUL, a control character (free text such as notes may hold line breaks and tabs) or a lone UTF-16 surrogate (each field\'s `pattern` states the first two; a surrogate is not a code point a pattern can name). Bodies are UTF-8 JSON, uncompressed.',
        '',
        '**Trying it here.** Mint a development token for the role you want to act as, e.g. `npm run -s token -- --sub me --roles officer` (roles: `officer`, `verifier`, `approver`, `supervisor`, `finance`, `admin`; several with commas), press **Authorize**, paste it, then **Try it out** on any operation. Production verifies the bank\'s identity-provider tokens instead.',
      ].join('\n'),
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'applications', description: 'Create and read applications, work queues, the audit trail' },
      { name: 'work queues', description: 'Claim and release tasks; the supervisor\'s queue of escalations' },
      { name: 'actions', description: 'Human acts sent to the workflow' },
      { name: 'loans', description: 'Servicing: the loan book, schedules, statements, payoff quotes, repayments, prepayments, and reversals, waivers and refunds with a second finance user' },
      { name: 'webhooks', description: 'Callbacks from external systems' },
      { name: 'operations', description: 'Probes, metrics and this document' },
    ],
  });
  return doc;
}
