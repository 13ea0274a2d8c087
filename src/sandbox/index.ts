import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSandboxApp } from './app';
import { silentLogger, TimerSet, type SandboxContext, type SandboxLogger } from './context';
import { DEFAULT_ESIGN_WEBHOOK_SECRET } from './esign-signature';
import { FaultRegistry, PROVIDER_PREFIX, SANDBOX_PROVIDERS, type SandboxProvider } from './faults';
import { SandboxStore } from './store';
import { resumePendingWebhooks } from './webhooks';

export { verifyEsignSignature, signEsignPayload, ESIGN_SIGNATURE_HEADER, DEFAULT_ESIGN_WEBHOOK_SECRET } from './esign-signature';
export { SANDBOX_PROVIDERS, PROVIDER_PREFIX, FAULT_MODES } from './faults';
export type { SandboxProvider, FaultMode, FaultSpec, ActiveFault } from './faults';
export type { SandboxLogger } from './context';
export * as testValues from './test-values';
export { SandboxAdminClient } from './admin-client';

export interface SandboxOptions {
  /** Default 127.0.0.1: the admin endpoints have no authentication. */
  host?: string;
  /** Default 0: any free port (read it back from the result). */
  port?: number;
  /** Append-only JSONL file replayed at start, so a restart keeps the ledger and idempotency keys. */
  stateFile?: string;
  /** Where e-signature events are POSTed (changeable at run time: PUT /admin/esign/webhook). */
  esignWebhookUrl?: string;
  /** HMAC-SHA256 secret of the webhook signature; default DEFAULT_ESIGN_WEBHOOK_SECRET. */
  esignWebhookSecret?: string;
  /** Delays before each retry of a failed webhook; default [500, 2000, 5000, 15000] (5 attempts). */
  esignWebhookRetryDelaysMs?: number[];
  /** How long a transfer to the pending test account stays pending; default 3000 ms. */
  paymentPendingMs?: number;
  logger?: SandboxLogger;
  /** The sandbox's clock (tests may move it): answers' dates, pending payments, fault durations; default the real one. */
  now?: () => Date;
}

export interface RunningSandbox {
  /** e.g. http://127.0.0.1:4010 */
  url: string;
  port: number;
  /** Base URL of each provider, e.g. providers.payments = http://127.0.0.1:4010/payments */
  providers: Record<SandboxProvider, string>;
  /** Points e-signature callbacks elsewhere (e.g. at an API that started after the sandbox). */
  setEsignWebhook(url: string | null, secret?: string): void;
  close(): Promise<void>;
}

/** Starts the sandbox of every external provider on one HTTP server. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const now = opts.now ?? (() => new Date());
  const ctx: SandboxContext = {
    store: new SandboxStore(opts.stateFile),
    faults: new FaultRegistry(() => now().getTime()),
    logger: opts.logger ?? silentLogger,
    timers: new TimerSet(),
    esign: {
      webhookUrl: opts.esignWebhookUrl ?? null,
      webhookSecret: opts.esignWebhookSecret ?? DEFAULT_ESIGN_WEBHOOK_SECRET,
      retryDelaysMs: opts.esignWebhookRetryDelaysMs ?? [500, 2_000, 5_000, 15_000],
    },
    paymentPendingMs: opts.paymentPendingMs ?? 3_000,
    baseUrl: '',
    now,
  };
  const server = http.createServer(createSandboxApp(ctx));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  ctx.baseUrl = url;
  resumePendingWebhooks(ctx);
  ctx.logger.info({ url, persistent: Boolean(opts.stateFile) }, 'sandbox listening');

  const providers = Object.fromEntries(SANDBOX_PROVIDERS.map((p) => [p, `${url}${PROVIDER_PREFIX[p]}`])) as Record<
    SandboxProvider,
    string
  >;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve, reject) => {
      ctx.timers.close();
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }));
  const setEsignWebhook = (webhookUrl: string | null, secret?: string) => {
    ctx.esign.webhookUrl = webhookUrl;
    if (secret) ctx.esign.webhookSecret = secret;
  };
  return { url, port, providers, setEsignWebhook, close };
}
