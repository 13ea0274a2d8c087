import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type RefusalDetails } from '../../contracts/failures';

/**
 * The one HTTP path every provider client takes. It decides, once, what Temporal does with each
 * outcome: a business refusal becomes a non-retryable ApplicationFailure of the provider's type; a
 * fault that may pass (5xx, timeout, network) a ProviderTransientError, which the activity's retry
 * policy retries. Messages and details hold the provider, the operation, the status and the
 * provider's error code — never a request body, a URL or the provider's free text, which could
 * carry personal data into the workflow history.
 */
export interface ProviderClientOptions {
  /** The provider's base URL, e.g. http://127.0.0.1:4010/payments */
  baseUrl: string;
  /** Per-call timeout; defaults to the provider's PROVIDER_CALL_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Extra headers on every call (an API key, for instance). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

export class ProviderTransientError extends Error {
  override readonly name = FailureType.ProviderTransientError;
  constructor(
    message: string,
    readonly provider: string,
    readonly operation: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export interface RequestSpec {
  /** Names the call in errors, e.g. "createTransfer". */
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** Sent as the Idempotency-Key header. */
  idempotencyKey?: string;
  timeoutMs?: number;
  /** What the answer is (default JSON); `text/csv` answers the body as text. */
  accept?: 'application/json' | 'text/csv';
}

export interface ProviderResponse<T> {
  status: number;
  body: T;
  /** The provider answered from its idempotency record (Idempotent-Replayed: true). */
  replayed: boolean;
}

const IDEMPOTENCY_CODES = new Set(['idempotency_key_reused', 'message_id_reused']);
/** The request itself is wrong (our bug): the same request can never succeed. */
const MALFORMED_STATUSES = new Set([400, 405, 406, 411, 413, 414, 415, 431]);
const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

export class ProviderHttpClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;

  constructor(
    readonly provider: string,
    /** The failure type of this provider's business refusals, e.g. 'PaymentRefused'. */
    readonly refusalType: FailureType,
    private readonly opts: ProviderClientOptions & { timeoutMs: number },
  ) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? fetch;
  }

  async json<T>(spec: RequestSpec): Promise<T> {
    return (await this.request<T>(spec)).body;
  }

  async request<T>(spec: RequestSpec): Promise<ProviderResponse<T>> {
    const timeoutMs = spec.timeoutMs ?? this.opts.timeoutMs;
    const headers: Record<string, string> = { accept: spec.accept ?? 'application/json', ...this.opts.headers };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (spec.idempotencyKey !== undefined) headers['idempotency-key'] = spec.idempotencyKey;

    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(`${this.baseUrl}${spec.path}`, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw this.transient(spec, null, describeFetchError(err, timeoutMs));
    }

    if (res.status >= 200 && res.status < 300) {
      if (spec.accept === 'text/csv') return { status: res.status, body: text as T, replayed: false };
      let body: T;
      try {
        body = (text ? JSON.parse(text) : null) as T;
      } catch {
        throw this.transient(spec, res.status, 'answered with a body that is not JSON');
      }
      return { status: res.status, body, replayed: res.headers.get('idempotent-replayed') === 'true' };
    }

    const code = errorCode(text);
    const status = res.status;
    if (status >= 500 || status === 408 || status === 429 || status === 401 || status === 403) {
      // 401/403 too: a credential an operator can fix should not fail the loan meanwhile.
      throw this.transient(spec, status, `answered HTTP ${status}${code ? ` (${code})` : ''}`);
    }
    if (IDEMPOTENCY_CODES.has(code)) throw this.nonRetryable(spec, status, code, FailureType.IdempotencyKeyReused);
    if (status === 404) throw this.nonRetryable(spec, status, code || 'not_found', FailureType.ProviderResourceNotFound);
    if (MALFORMED_STATUSES.has(status)) {
      throw this.nonRetryable(spec, status, code || 'bad_request', FailureType.ProviderRequestInvalid);
    }
    // 409, 422 and any other 4xx: the provider understood and said no.
    throw this.nonRetryable(spec, status, code || 'refused', this.refusalType);
  }

  /** A 2xx answer whose body is not what the provider documents: transient (a torn answer is asked again). */
  malformed(operation: string, status: number, what: string): ProviderTransientError {
    return new ProviderTransientError(`${this.provider} ${operation} ${what}`, this.provider, operation, status);
  }

  private transient(spec: RequestSpec, status: number | null, what: string): ProviderTransientError {
    return new ProviderTransientError(`${this.provider} ${spec.operation} ${what}`, this.provider, spec.operation, status);
  }

  private nonRetryable(spec: RequestSpec, status: number, code: string, type: FailureType): ApplicationFailure {
    const details: RefusalDetails = { provider: this.provider, operation: spec.operation, status, code };
    return ApplicationFailure.nonRetryable(`${this.provider} ${spec.operation} refused: ${code} (HTTP ${status})`, type, details);
  }
}

/** The provider's error code if it is a plain token; never its free-text message. */
function errorCode(text: string): string {
  try {
    const parsed = JSON.parse(text) as { code?: unknown };
    return typeof parsed.code === 'string' && SAFE_CODE.test(parsed.code) ? parsed.code : '';
  } catch {
    return '';
  }
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  // Duck-typed: the DOMException of AbortSignal.timeout may come from another realm (jest, vm).
  const e = (typeof err === 'object' && err !== null ? err : {}) as { name?: unknown; cause?: { code?: unknown } };
  if (e.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  if (e.name === 'AbortError') return 'was aborted';
  const code = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.name === 'string' ? e.name : '';
  return SAFE_CODE.test(code) ? `failed to reach the provider (${code})` : 'failed to reach the provider';
}

/** Path segment for an id we were given by the provider. */
export function seg(id: string): string {
  return encodeURIComponent(id);
}
