import { randomUUID } from 'node:crypto';
import http from 'node:http';

class StaleSocketError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/**
 * A small JSON client over node:http with keep-alive sockets: lighter than fetch on a 2-core machine
 * where the load generator shares the CPU with what it measures. Every request has a deadline.
 */
export class JsonClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(
    baseUrl: string,
    maxSockets = 64,
    private readonly timeoutMs = 60_000,
  ) {
    this.url = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  async request<T = unknown>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: T; headers: http.IncomingHttpHeaders }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, opts);
      } catch (err) {
        // A kept-alive socket the server closed at the same moment (its keep-alive timeout): the
        // request never reached it, so sending it again on a fresh socket is safe.
        if (!(err instanceof StaleSocketError) || attempt >= 3) throw err instanceof StaleSocketError ? err.cause : err;
      }
    }
  }

  private once<T>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: http.IncomingHttpHeaders }> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          timeout: this.timeoutMs,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
            ...opts.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: body as T, headers: res.headers });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(req.reusedSocket && err.code === 'ECONNRESET' ? new StaleSocketError(err) : err);
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * A write as a careful client makes it: with an Idempotency-Key, retried with the same key while the
 * API answers 503 (Temporal busy: the key was released) or 409 with Retry-After (the first attempt
 * is still running), as the API's README asks. Answers the final response.
 */
export async function idempotentWrite<T = unknown>(
  client: JsonClient,
  path: string,
  token: string,
  body: unknown,
  deadlineMs = 120_000,
): Promise<{ status: number; body: T }> {
  const key = randomUUID();
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const r = await client.request<T>('POST', path, { token, body, headers: { 'Idempotency-Key': key } });
    const retry = r.status === 503 || (r.status === 409 && r.headers['retry-after'] !== undefined);
    if (!retry || Date.now() > deadline) return r;
    const after = Number(r.headers['retry-after']);
    await new Promise((res) => setTimeout(res, Number.isFinite(after) && after > 0 ? Math.min(after, 5) * 1000 : 1000));
  }
}
