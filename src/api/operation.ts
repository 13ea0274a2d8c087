import { randomUUID } from 'node:crypto';
import type { RouteConfig, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Logger } from '../logger';
import { ESIGN_SIGNATURE_HEADER, verifyEsignSignature } from '../sandbox/esign-signature';
import type { StaffRole } from '../workflows/messages';
import { assertRole, type Authenticator, type Staff } from './auth';
import { canonicalJson, sha256Hex, type Claim, type IdempotencyStore, type KeyRef, type StoredAnswer } from './idempotency';
import type { SQLWrapper } from 'drizzle-orm';
import { fieldErrors, PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, problemBody, ProblemError, staffMessage, toPointer, validationProblem, type FieldError, type ProblemKind } from './problem';
import { IdempotencyKeyHeader, ProblemSchema } from './schemas/common';

/**
 * One table drives both the server and /openapi.json: each operation names its path, who may call
 * it, the zod schemas of its parameters and body, its documented answers and its handler. The
 * pipeline is the same for all: authenticate → authorise → validate → Idempotency-Key → handle.
 */
export type AuthRule =
  | { kind: 'staff'; roles?: readonly StaffRole[] }
  | { kind: 'public' }
  /** The e-signature provider: HMAC over the raw body, no bearer token. */
  | { kind: 'esign' };

export interface OperationResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * The request's own Idempotency-Key, for a handler that commits its last writes with the key's
 * outcome in one statement (the pipeline then writes nothing more for the key).
 */
export interface KeyHandle {
  /** Commits `writes` and stores `result` (as the pipeline will send it) as the key's answer. */
  completeWith(writes: readonly SQLWrapper[], result: OperationResult): Promise<void>;
  /** Commits `writes` and forgets the key (a refusal: the retry is judged afresh). */
  releaseWith(writes: readonly SQLWrapper[]): Promise<void>;
}

export interface OperationContext<P, Q, B, S, L = undefined> {
  req: Request;
  res: Response;
  staff: S;
  params: P;
  query: Q;
  body: B;
  /** The act's id: derived from the Idempotency-Key (stable across retries) or random. */
  actId: string;
  /** True when the client sent an Idempotency-Key (the act id is then deterministic). */
  keyed: boolean;
  requestId: string;
  log: Logger;
  /** What the operation's `load` read (in the statement that claimed the key). */
  loaded: L;
  /** Set when the request owns an Idempotency-Key. */
  key: KeyHandle | undefined;
}

/** What an operation's `load` answers: its rows, and the key's claim when it was given one. */
export interface Loaded<L> {
  loaded: L;
  claim: Claim | null;
}

export interface Example {
  summary: string;
  value: unknown;
}

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** What the answer looks like (shown in /docs; the OpenAPI test checks it against the schema). */
  example?: unknown;
  headers?: Record<string, { description: string; schema: { type: 'string' } }>;
  contentType?: string;
}

type StaffOf<A> = A extends { kind: 'staff' } ? Staff : undefined;

export interface OperationSpec<P extends z.ZodType | undefined, Q extends z.ZodType | undefined, B extends z.ZodType | undefined, A extends AuthRule, L = undefined> {
  operationId: string;
  method: 'get' | 'post';
  /** Express syntax (`/applications/:id`). */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: A;
  params?: P;
  query?: Q;
  body?: B;
  /** Default true when there is a body schema; false lets an empty body count as `{}`. */
  bodyRequired?: boolean;
  examples?: Record<string, Example>;
  /**
   * The body's cross-field rules (the same function its zod schema refines with), run again on the
   * raw body when zod stopped early, so one answer names every bad field.
   */
  bodyRules?: (raw: unknown) => { path: (string | number)[]; message: string }[];
  /**
   * Rules that need the configuration (allowed document hosts), run on the parsed request when
   * every field passed its schema: still before the Idempotency-Key, a table or a workflow.
   */
  checks?: (input: { params: Out<P>; query: Out<Q>; body: Out<B> }) => FieldError[];
  /** Accepts an Idempotency-Key header. */
  idempotent?: boolean;
  /**
   * What the handler starts from, read in the same statement as the Idempotency-Key's claim when
   * there is a key (`IdempotencyStore.claimCte`; one round trip for both). It must not throw for
   * a row not found: the handler refuses, and the pipeline releases the key.
   */
  load?: (input: { params: Out<P>; staff: StaffOf<A>; key: KeyRef | null; idempotency: IdempotencyStore }) => Promise<Loaded<L>>;
  responses: Record<number, ResponseDoc>;
  handle(ctx: OperationContext<Out<P>, Out<Q>, Out<B>, StaffOf<A>, L>): Promise<OperationResult>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Operation = OperationSpec<any, any, any, AuthRule, any>;

export function defineOperation<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  A extends AuthRule = AuthRule,
  L = undefined,
>(spec: OperationSpec<P, Q, B, A, L>): Operation {
  return spec as unknown as Operation;
}

export interface PipelineServices {
  authenticate: Authenticator;
  idempotency: IdempotencyStore;
  esignWebhookSecret: string;
  log: Logger;
}

const RETRY_AFTER_SECONDS = '2';

function parsePart(schema: z.ZodType | undefined, value: unknown, where: FieldError['in'], errors: FieldError[]): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value, { error: staffMessage });
  if (parsed.success) return parsed.data;
  errors.push(...fieldErrors(parsed.error, where));
  return undefined;
}

/** One error per field: the first (the schemas check the shared text rule, then formats, then lengths). */
function onePerField(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.in} ${e.pointer}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function isJson(req: Request): boolean {
  return Boolean(req.is(['application/json', 'application/*+json']));
}

function send(res: Response, answer: StoredAnswer): void {
  for (const [k, v] of Object.entries(answer.headers)) {
    if (k.toLowerCase() !== 'content-type') res.setHeader(k, v);
  }
  const contentType = answer.headers['content-type'] ?? 'application/json';
  res.status(answer.status);
  if (answer.body === undefined) {
    res.end();
    return;
  }
  res.type(contentType).send(JSON.stringify(answer.body));
}

/** The Express handler of one operation. */
export function handlerFor(op: Operation, services: PipelineServices): RequestHandler {
  return async (req, res, next) => {
    const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
    const log = services.log.child({ requestId, operation: op.operationId });
    try {
      // 1. Who is calling (401) and may they (403)?
      let staff: Staff | undefined;
      if (op.auth.kind === 'staff') {
        staff = await services.authenticate(req.get('authorization'));
        if (op.auth.roles) assertRole(staff, op.auth.roles);
      } else if (op.auth.kind === 'esign') {
        const raw = (req as Request & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);
        if (!verifyEsignSignature(services.esignWebhookSecret, req.get(ESIGN_SIGNATURE_HEADER), raw)) {
          throw new ProblemError('invalid_signature', 'The X-Esign-Signature header does not sign this body with our secret (or is too old)');
        }
      }

      // 2. Is the request well formed (400, 415)?
      if (op.body && hasBody(req) && !isJson(req)) throw new ProblemError('unsupported_media_type', 'Send the body as application/json');
      const errors: FieldError[] = [];
      const params = parsePart(op.params, req.params, 'params', errors);
      const query = parsePart(op.query, req.query, 'query', errors);
      let rawBody: unknown = req.body;
      if (op.body && rawBody === undefined) {
        if (op.bodyRequired === false) rawBody = {};
        else errors.push({ pointer: '#', in: 'body', code: 'required', message: 'a JSON body is required' });
      }
      const body = rawBody === undefined ? undefined : parsePart(op.body, rawBody, 'body', errors);
      if (op.bodyRules && rawBody !== undefined && errors.length > 0) {
        for (const rule of op.bodyRules(rawBody)) {
          const pointer = toPointer(rule.path);
          if (!errors.some((e) => e.in === 'body' && e.pointer === pointer && e.message === rule.message)) {
            errors.push({ pointer, in: 'body', code: 'custom', message: rule.message });
          }
        }
      }
      let key: string | undefined;
      if (op.idempotent) {
        const header = IdempotencyKeyHeader.safeParse({ 'idempotency-key': req.get('idempotency-key') }, { error: staffMessage });
        if (header.success) key = header.data['idempotency-key'];
        else errors.push(...fieldErrors(header.error, 'header'));
      }
      if (errors.length === 0 && op.checks) errors.push(...op.checks({ params, query, body }));
      if (errors.length > 0) throw validationProblem(onePerField(errors));

      const stored = (result: OperationResult): StoredAnswer => ({ status: result.status, body: result.body, headers: { 'content-type': 'application/json', ...result.headers } });
      const keyed = op.idempotent && key !== undefined && staff !== undefined;
      const ref: KeyRef | null = keyed
        ? { scope: `${op.method.toUpperCase()} ${req.path} ${(staff as Staff).id}`, key: key as string, requestHash: sha256Hex(canonicalJson({ body: body ?? null })) }
        : null;

      // 3. Idempotency-Key: replay, refuse or own the key (claimed with the operation's first read).
      let loaded: unknown;
      let claim: Claim | null = null;
      if (op.load) ({ loaded, claim } = await op.load({ params, staff, key: ref, idempotency: services.idempotency }));
      if (ref && !claim) claim = await services.idempotency.claim(ref);
      if (claim?.kind === 'replay') {
        send(res, { ...claim.answer, headers: { ...claim.answer.headers, 'idempotent-replayed': 'true' } });
        return;
      }
      if (claim?.kind === 'mismatch') {
        throw new ProblemError('idempotency_key_reused', 'This Idempotency-Key was first used with another body; use a new key for a new request');
      }
      if (claim?.kind === 'in_progress') {
        throw new ProblemError('idempotency_in_progress', 'The first request with this Idempotency-Key has not finished; retry shortly', {}, { 'Retry-After': RETRY_AFTER_SECONDS });
      }

      if (!ref) {
        const result = await op.handle({ req, res, staff: staff as never, params, query, body, actId: randomUUID(), keyed: false, requestId, log, loaded, key: undefined });
        send(res, stored(result));
        return;
      }
      // Only a success is the answer to a key. A refusal depends on the state it met (a 409 "not
      // waiting" turns into a 200 once the workflow waits) and a failure is worth retrying, so
      // either releases the key: the retry is judged afresh. Nothing was applied by a refused
      // act, so judging it again cannot apply anything twice (src/api/README.md). A handler may
      // settle the key itself, in the statement of its last writes.
      let settled: 'completed' | 'released' | null = null;
      const handle: KeyHandle = {
        async completeWith(writes, result) {
          await services.idempotency.complete(ref, stored(result), writes);
          settled = 'completed';
        },
        async releaseWith(writes) {
          await services.idempotency.release(ref, writes);
          settled = 'released';
        },
      };
      let answer: StoredAnswer;
      try {
        const result = await op.handle({ req, res, staff: staff as never, params, query, body, actId: sha256Hex(`${ref.scope}\n${ref.key}`).slice(0, 32), keyed: true, requestId, log, loaded, key: handle });
        answer = stored(result);
      } catch (err) {
        if (settled === null) {
          await services.idempotency.release(ref).catch((e) => log.error({ err: (e as Error).message }, 'could not release an idempotency key'));
        }
        throw err;
      }
      if (settled === null) await services.idempotency.complete(ref, answer);
      send(res, answer);
    } catch (err) {
      next(err);
    }
  };
}

// ------------------------------------------------------------------------------------------
// OpenAPI

/** A problem answer of this status as the API writes it, for the document's examples. */
export function problemExample(status: number, description: string): Record<string, unknown> {
  const kind = (Object.keys(PROBLEM_TYPES) as ProblemKind[]).find((k) => PROBLEM_TYPES[k].status === status) ?? 'internal';
  const body = problemBody(kind, description.replace(/`/g, ''));
  const extra: Record<string, unknown> =
    status === 400
      ? { errors: [{ pointer: '#/applicant/idNumber', in: 'body', code: 'custom', message: 'the check character does not match (GB 11643, ISO 7064 MOD 11-2)' }] }
      : status === 409
        ? { stage: 'approval' }
        : {};
  return { ...body, ...extra, instance: '/applications/a1b2c3d4-0000-4000-8000-000000000001', requestId: '5f0c2a9e-8d7b-4c1a-9e3f-2b6d4a8c1e07' };
}

const problem = (status: number, description: string): ResponseConfig => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema, example: problemExample(status, description) } },
});

/** The express path in OpenAPI syntax: `/applications/:id` → `/applications/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The OpenAPI route of an operation, with the answers every operation of its kind can give. */
export function routeConfig(op: Operation): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, doc] of Object.entries(op.responses)) {
    if (Number(status) >= 400 && !doc.schema) {
      responses[status] = problem(Number(status), doc.description);
      continue;
    }
    responses[status] = {
      description: doc.description,
      ...(doc.headers ? { headers: doc.headers } : {}),
      ...(doc.schema
        ? {
            content: {
              [doc.contentType ?? (Number(status) >= 400 ? PROBLEM_CONTENT_TYPE : 'application/json')]: {
                schema: doc.schema,
                ...(doc.example !== undefined ? { example: doc.example } : {}),
              },
            },
          }
        : {}),
    };
  }
  const add = (status: number, description: string) => {
    responses[String(status)] ??= problem(status, description);
  };
  if (op.params || op.query || op.body || op.idempotent) add(400, 'Malformed request: `errors` names every bad field');
  if (op.auth.kind === 'staff') add(401, 'No valid bearer token');
  if (op.auth.kind === 'staff' && op.auth.roles) add(403, `Only ${op.auth.roles.join(' or ')} may do this`);
  if (op.auth.kind === 'esign') add(401, 'The HMAC signature is missing, wrong or too old');
  if (op.body) {
    add(413, 'The body is larger than the limit');
    add(415, 'The body is not application/json, or is compressed (only uncompressed bodies are accepted)');
  }
  if (op.idempotent) {
    add(409, 'A request with this Idempotency-Key is still running');
    add(422, 'The Idempotency-Key was used with another body');
  }
  add(500, 'Internal error (the request id is in the logs)');

  const security =
    op.auth.kind === 'staff' ? [{ bearerAuth: [] }] : op.auth.kind === 'esign' ? [{ esignSignature: [] }] : [];
  const roles = op.auth.kind === 'staff' ? (op.auth.roles ? op.auth.roles.join(', ') : 'any staff role') : op.auth.kind === 'esign' ? 'the e-signature provider' : 'none';
  return {
    method: op.method,
    path: openApiPath(op.path),
    operationId: op.operationId,
    summary: op.summary,
    description: `${op.description ? `${op.description}\n\n` : ''}Roles: ${roles}.`,
    tags: op.tags,
    security,
    ...(op.auth.kind === 'staff' && op.auth.roles ? { 'x-roles': [...op.auth.roles] } : {}),
    request: {
      ...(op.params ? { params: op.params as never } : {}),
      ...(op.query ? { query: op.query as never } : {}),
      ...(op.idempotent ? { headers: IdempotencyKeyHeader } : {}),
      ...(op.body
        ? {
            body: {
              required: op.bodyRequired !== false,
              content: {
                'application/json': {
                  schema: op.body,
                  ...(op.examples ? { examples: op.examples } : {}),
                },
              },
            },
          }
        : {}),
    },
    responses,
  };
}
