import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Logger } from '../logger';

/**
 * Errors as RFC 9457 problem details (`application/problem+json`). A problem carries a stable
 * `type`, a `title` per type, a `detail` written for the client and, for bad input, every failing
 * field as a JSON pointer. Messages are written here, never copied from an exception, so no stack
 * trace, SQL or personal data can leak into an answer.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://car-loans.example/problems/';

export const PROBLEM_TYPES = {
  validation: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  invalid_idempotency_key: { status: 400, title: 'The Idempotency-Key header is not valid' },
  unauthenticated: { status: 401, title: 'Authentication is required' },
  invalid_signature: { status: 401, title: 'The webhook signature is not valid' },
  forbidden: { status: 403, title: 'Your role may not do this' },
  four_eyes: { status: 403, title: 'Four-eyes rule: this approval does not count' },
  not_found: { status: 404, title: 'Not found' },
  not_waiting: { status: 409, title: 'The application is not waiting for this action' },
  already_approved: { status: 409, title: 'You have already approved this application' },
  reference_conflict: { status: 409, title: 'This payment reference was recorded with another amount' },
  loan_closed: { status: 409, title: 'The loan is not being serviced' },
  already_decided: { status: 409, title: 'This request was already approved or rejected' },
  too_many_pending: { status: 409, title: 'Too many requests are waiting for their approval' },
  idempotency_in_progress: { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  idempotency_key_reused: { status: 422, title: 'This Idempotency-Key was used with another request' },
  invalid_act: { status: 422, title: 'The workflow refused this action as invalid' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  unsupported_media_type: { status: 415, title: 'The body must be application/json' },
  unavailable: { status: 503, title: 'A dependency did not answer in time' },
  internal: { status: 500, title: 'Internal error' },
} as const;
export type ProblemKind = keyof typeof PROBLEM_TYPES;

export interface FieldError {
  /** JSON pointer into the request part, e.g. `#/applicant/idNumber` (RFC 9457 §3 example style). */
  pointer: string;
  /** Where the field is: `body`, `query`, `params` or `header`. */
  in: 'body' | 'query' | 'params' | 'header';
  code: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string | undefined;
  instance?: string | undefined;
  errors?: FieldError[] | undefined;
  /** Extension members (stage, code, requestId, ...). */
  [extension: string]: unknown;
}

export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly status: number;
  constructor(
    readonly kind: ProblemKind,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? PROBLEM_TYPES[kind].title);
    this.status = PROBLEM_TYPES[kind].status;
  }

  get detail(): string {
    return this.message;
  }
}

export function problemBody(kind: ProblemKind, detail: string | undefined, extensions: Record<string, unknown> = {}): ProblemBody {
  const t = PROBLEM_TYPES[kind];
  // The standard members come last: an extension can never change a problem's type or status.
  return { ...extensions, type: `${TYPE_BASE}${kind.replace(/_/g, '-')}`, title: t.title, status: t.status, ...(detail ? { detail } : {}) };
}

export function sendProblem(res: Response, body: ProblemBody, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** JSON pointer (RFC 6901) of a zod issue path. */
export function toPointer(path: readonly PropertyKey[]): string {
  return `#${path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`;
}

/**
 * Field errors from a zod error. Only zod's own messages and our refinement messages are used; the
 * rejected value is never echoed (it may be an ID number).
 */
export function fieldErrors(error: z.ZodError, where: FieldError['in']): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ pointer: toPointer([...issue.path, key]), in: where, code: 'unrecognized_key', message: 'is not a field of this request' });
      }
      continue;
    }
    out.push({ pointer: toPointer(issue.path), in: where, code: issue.code, message: issue.message });
  }
  return out;
}

export function validationProblem(errors: FieldError[]): ProblemError {
  const n = errors.length;
  return new ProblemError('validation', `${n} field${n === 1 ? ' is' : 's are'} not valid: ${errors.map((e) => e.pointer).join(', ')}`, { errors });
}

/** Answers unknown routes with a 404 problem. */
export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, { ...problemBody('not_found', `No route for ${req.method} ${req.path}`), instance: req.path });
};

/**
 * The last middleware: ProblemError as itself; body-parser failures as 400/413/415; anything else a
 * 500 whose details go to the log (without the request body) and never to the client.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const requestId = res.locals.requestId as string | undefined;
    const base = { instance: req.originalUrl.split('?')[0], ...(requestId ? { requestId } : {}) };
    if (res.headersSent) {
      log.error({ requestId, err: describeError(err) }, 'error after the answer was sent');
      res.end();
      return;
    }
    if (err instanceof ProblemError) {
      if (err.status >= 500) log.warn({ requestId, kind: err.kind, detail: err.detail }, 'request failed');
      sendProblem(res, { ...problemBody(err.kind, err.detail, err.extensions), ...base }, err.headers);
      return;
    }
    const bodyParserType = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
    if (bodyParserType === 'entity.too.large') {
      const limit = (err as { limit?: number }).limit;
      sendProblem(res, { ...problemBody('payload_too_large', `The body may be at most ${limit ?? '?'} bytes`), ...base });
      return;
    }
    if (bodyParserType === 'entity.parse.failed') {
      sendProblem(res, { ...problemBody('malformed_json', 'The body could not be parsed as JSON'), ...base });
      return;
    }
    if (bodyParserType === 'encoding.unsupported' || bodyParserType === 'charset.unsupported') {
      sendProblem(res, { ...problemBody('unsupported_media_type', 'The body must be UTF-8 JSON'), ...base });
      return;
    }
    if (typeof bodyParserType === 'string' && bodyParserType.startsWith('request.')) {
      sendProblem(res, { ...problemBody('validation', 'The body could not be read'), ...base });
      return;
    }
    log.error({ requestId, method: req.method, route: req.route?.path, err: describeError(err) }, 'unexpected error');
    sendProblem(res, { ...problemBody('internal', 'Something went wrong; the request id identifies it in the logs'), ...base });
  };
}

/**
 * Error name, message and stack for the log. A failed query's message lists its parameters (which
 * can hold free text staff typed, or ciphertexts): everything from `params:` on is cut.
 */
export function describeError(err: unknown): Record<string, unknown> {
  const clean = (s: string | undefined) => s?.replace(/\bparams:[\s\S]*/i, 'params: [omitted]');
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? { cause: { name: err.cause.name, message: clean(err.cause.message) } } : {};
    return { name: err.name, message: clean(err.message), stack: clean(err.stack), ...cause };
  }
  return { value: typeof err };
}
