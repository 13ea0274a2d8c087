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
  origin_refused: { status: 403, title: 'This origin may not call the codec endpoint' },
  four_eyes: { status: 403, title: 'Four-eyes rule: this approval does not count' },
  not_found: { status: 404, title: 'Not found' },
  not_waiting: { status: 409, title: 'The application is not waiting for this action' },
  duplicate_application: { status: 409, title: 'The applicant already has an open application' },
  already_approved: { status: 409, title: 'You have already approved this application' },
  task_claimed: { status: 409, title: 'Someone else is working on this task' },
  reference_conflict: { status: 409, title: 'This payment reference was recorded with another amount' },
  loan_closed: { status: 409, title: 'The loan is not being serviced' },
  already_decided: { status: 409, title: 'This request was already approved or rejected' },
  too_many_pending: { status: 409, title: 'Too many requests are waiting for their approval' },
  idempotency_in_progress: { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  idempotency_key_reused: { status: 422, title: 'This Idempotency-Key was used with another request' },
  invalid_act: { status: 422, title: 'The workflow refused this action as invalid' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  unsupported_media_type: { status: 415, title: 'The body must be application/json' },
  unsupported_content_encoding: { status: 415, title: 'The body must be sent uncompressed' },
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
 * Field errors from a zod error. The messages are ours: the schemas' own (formats, rules) or, for
 * zod's generic checks, `staffMessage`'s; the rejected value is never echoed (it may be an ID number).
 * A custom issue's `params.code` (e.g. `control_character`) is its code.
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
    const code = issue.code === 'custom' && typeof issue.params?.code === 'string' ? issue.params.code : issue.code;
    out.push({ pointer: toPointer(issue.path), in: where, code, message: issue.message });
  }
  return out;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const TYPE_NAMES: Record<string, string> = {
  string: 'text (a JSON string)',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a list (a JSON array)',
  null: 'null',
};

/**
 * The wording of zod's generic checks, for the staff who read the answer (or the developer of the
 * form they use): "must be a whole number", not "Invalid input: expected int, received number".
 * Passed to every parse of a request part; a schema's own message takes precedence.
 */
export function staffMessage(iss: z.core.$ZodRawIssue): string {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'is required';
      const expected = TYPE_NAMES[iss.expected] ?? `of type ${iss.expected}`;
      if (iss.input === null) return `must be ${expected}, not null (leave the field out instead)`;
      return `must be ${expected}`;
    }
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${plural(min, 'character')} long`;
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at least ${plural(min, 'item')}`;
      return iss.inclusive ? `must be at least ${min}` : `must be more than ${min}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'string') return `must be at most ${plural(max, 'character')} long`;
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at most ${plural(max, 'item')}`;
      return iss.inclusive ? `must be at most ${max}` : `must be less than ${max}`;
    }
    case 'invalid_value':
      if (iss.input === undefined) return 'is required';
      return iss.values.length === 1 ? `must be ${JSON.stringify(iss.values[0])}` : `must be one of: ${iss.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_format':
      if (iss.format === 'datetime') return 'is not a real date and time with a time zone: write it as 2026-11-22T10:00:00+08:00';
      if (iss.format === 'date') return 'is not a real date: write it as YYYY-MM-DD';
      return iss.format === 'regex' ? 'is not in the expected format' : `is not a valid ${iss.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(iss.divisor)}`;
    case 'invalid_union':
      return 'is not in any of the accepted forms';
    case 'invalid_key':
    case 'invalid_element':
      return 'holds a value that is not valid';
    case 'unrecognized_keys':
      return 'is not a field of this request';
    default:
      return 'is not valid';
  }
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
    if (bodyParserType === 'entity.invalid.utf8') {
      sendProblem(res, { ...problemBody('malformed_json', 'The body is not valid UTF-8: send JSON encoded as UTF-8'), ...base });
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
    if (err instanceof URIError && (err as { status?: number }).status === 400) {
      sendProblem(res, { ...problemBody('validation', 'The path is not valid percent-encoded UTF-8'), ...base });
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
