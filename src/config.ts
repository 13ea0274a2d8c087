import path from 'node:path';
import { z } from 'zod';
import { TASK_QUEUE, WORKER_DEPLOYMENT_NAME } from './domain/ids';

/**
 * The one configuration loader. Every variable has a default that works on a developer's machine;
 * production overrides the secrets (a missing secret in production is an error, not a default).
 */
const DEV_PII_KEY = Buffer.alloc(32, 7).toString('base64');
const DEV_HASH_KEY = Buffer.alloc(32, 11).toString('base64');
const DEV_CODEC_KEY = Buffer.alloc(32, 13).toString('base64');
const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789';
const DEV_ESIGN_SECRET = 'dev-only-esign-webhook-secret';

/** ORPHAN_AFTER_MS's default: above the create's start deadline (20 s) plus its database writes. */
export const DEFAULT_ORPHAN_AFTER_MS = 30_000;

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));
const base64Key = z.string().refine((v) => Buffer.from(v, 'base64').length === 32, {
  message: 'must be 32 bytes, base64-encoded (openssl rand -base64 32)',
});

/**
 * `DOCUMENT_URI_HOSTS`: where a document URI may point, as comma-separated `s3://<bucket>` and
 * `https://<host>` entries. `s3://*` allows every bucket (buckets are names in the bank's object
 * store, not network addresses); `https://*.<domain>` allows a domain's subdomains. An https host
 * must be named: `https://*` would let a URI send the OCR provider anywhere (cloud metadata, the
 * intranet), so it is refused.
 */
const DOCUMENT_HOST_ENTRY = /^(s3:\/\/(\*|[a-z0-9][a-z0-9.-]{1,62})|https:\/\/(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/;
const documentHosts = z
  .string()
  .transform((v) => v.split(',').map((e) => e.trim().toLowerCase()).filter((e) => e.length > 0))
  .refine((entries) => entries.length > 0 && entries.every((e) => DOCUMENT_HOST_ENTRY.test(e)), {
    message: 'must be comma-separated s3://<bucket>, s3://*, https://<host> or https://*.<domain> entries',
  });

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default(path.resolve(process.cwd(), 'data')),
  DATABASE_URL: optionalString,

  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default(TASK_QUEUE),
  TEMPORAL_DEV_HOST: z.string().default('127.0.0.1'),
  TEMPORAL_DEV_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_TEST_SERVER_PATH: optionalString,
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_API_KEY: optionalString,
  /** Where the demo links each run (the dev server's UI at TEMPORAL_UI_PORT when unset). */
  TEMPORAL_UI_URL: optionalString,

  /** Prometheus endpoint of the Temporal SDK's worker metrics (0: off). */
  WORKER_METRICS_PORT: port.default(9464),
  /** Worker Versioning: the worker registers its build under this deployment (false: an unversioned worker). */
  WORKER_VERSIONING: bool.default(true),
  WORKER_DEPLOYMENT_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, _ and - only').default(WORKER_DEPLOYMENT_NAME),
  /** The worker's build id; computed from the package version and the workflow sources when unset. */
  BUILD_ID: optionalString.pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, . _ and - only').optional()),
  /**
   * What a worker does with its version at start: `auto` makes it current and moves the runs of
   * older builds onto it (one process, nothing else to run them: npm start's default); `manual`
   * registers it and waits for `npm run release -- promote` (the default of `npm run worker`).
   */
  WORKER_ROLLOUT: z.enum(['auto', 'manual']).optional(),

  HOST: z.string().default('127.0.0.1'),
  PORT: port.default(3000),
  /**
   * Express's `trust proxy`: which proxies' X-Forwarded-* the API believes (`false`, `true`, a hop
   * count, or addresses/subnets such as `loopback,10.0.0.0/8`). With it the API knows it is reached
   * over HTTPS and marks the codec session cookie Secure.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v): boolean | number | string => {
      const t = v.trim();
      if (t === '' || t === 'false' || t === '0') return false;
      if (t === 'true') return true;
      return /^\d+$/.test(t) ? Number(t) : t;
    }),

  START_SANDBOX: bool.default(true),
  SANDBOX_PORT: port.default(4010),
  /** `npm run sandbox` alone: its bind address, state file (empty: memory only; default in DATA_DIR), e-signature callback and payment delay. */
  SANDBOX_HOST: z.string().default('127.0.0.1'),
  SANDBOX_STATE_FILE: z.string().optional(),
  ESIGN_WEBHOOK_URL: optionalString,
  SANDBOX_PAYMENT_PENDING_MS: z.coerce.number().int().min(0).max(3_600_000).optional(),
  OCR_BASE_URL: optionalString,
  CREDIT_BUREAU_BASE_URL: optionalString,
  CALL_CENTRE_BASE_URL: optionalString,
  VALUATION_BASE_URL: optionalString,
  ESIGN_BASE_URL: optionalString,
  PAYMENTS_BASE_URL: optionalString,
  SMS_BASE_URL: optionalString,
  WITHHOLDING_BASE_URL: optionalString,
  ESIGN_WEBHOOK_SECRET: z.string().min(16).default(DEV_ESIGN_SECRET),
  /** Where document URIs may point (see documentHosts); the default allows every S3 bucket and no https host. */
  DOCUMENT_URI_HOSTS: optionalString.transform((v) => v ?? 's3://*').pipe(documentHosts),

  PII_ENCRYPTION_KEY: base64Key.default(DEV_PII_KEY),
  PII_ENCRYPTION_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('dev1'),
  PII_HASH_KEY: base64Key.default(DEV_HASH_KEY),

  TEMPORAL_CODEC_KEY: base64Key.default(DEV_CODEC_KEY),
  TEMPORAL_CODEC_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('dev1'),
  /** Earlier codec keys, `id:base64,id:base64`, kept so histories written before a rotation decode. */
  TEMPORAL_CODEC_OLD_KEYS: optionalString,
  /** Browser origins of the Temporal UI allowed to call /codec (comma-separated); default the dev UI on 127.0.0.1 and localhost. */
  CODEC_CORS_ORIGINS: optionalString,
  /** How long a claim on a pending task (POST /applications/:id/claim) lasts unless renewed. */
  TASK_CLAIM_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
  /** How long an Idempotency-Key claimed by a request that never finished (its API process died) blocks retries. */
  IDEMPOTENCY_STALE_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(120_000),
  /** How long the API waits for a workflow's state query before answering from the stored mirror. */
  API_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** How long the API waits for a workflow to accept or refuse an act before answering 503. */
  API_ACT_ACCEPT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  /** How long the API waits for an accepted act to be applied before answering 202. */
  API_ACT_RESULT_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** How long POST /applications waits for Temporal to start the workflow before answering 503. */
  APPLICATION_START_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(300_000).default(20_000),
  /**
   * An application committed this long ago whose workflow nobody has seen is an orphan: the
   * reconciler starts it, and it no longer blocks a new application of the same person.
   */
  ORPHAN_AFTER_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(DEFAULT_ORPHAN_AFTER_MS),
  /** How often the reconciler Schedule looks for orphans. */
  RECONCILE_EVERY_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),

  /**
   * Act proofs (src/temporal/actKeys.ts): the API's Ed25519 signing seed (32 bytes, base64) and its
   * id; the workers' public keys, `id:base64[@retired-at],…`. Development keys when unset; required
   * in production by the process that needs them (the API the first two, a worker the last).
   */
  ACT_SIGNING_KEY: optionalString,
  ACT_SIGNING_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('dev1'),
  ACT_VERIFY_KEYS: optionalString,

  JWT_SECRET: z.string().min(32).default(DEV_JWT_SECRET),
  JWT_JWKS_URL: optionalString,
  JWT_ISSUER: z.string().default('car-loans-dev'),
  JWT_AUDIENCE: z.string().default('car-loans-api'),
});

export type Env = z.infer<typeof schema>;

export interface Config extends Env {
  /** Base URLs of the external systems, the sandbox's when not configured. */
  providers: Record<ProviderName, string>;
}

export const PROVIDERS = ['ocr', 'creditBureau', 'callCentre', 'valuation', 'esign', 'payments', 'sms', 'withholding'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production') {
    const dev: [keyof Env, string][] = [
      ['PII_ENCRYPTION_KEY', DEV_PII_KEY],
      ['PII_HASH_KEY', DEV_HASH_KEY],
      ['TEMPORAL_CODEC_KEY', DEV_CODEC_KEY],
      ['JWT_SECRET', DEV_JWT_SECRET],
      ['ESIGN_WEBHOOK_SECRET', DEV_ESIGN_SECRET],
    ];
    const missing = dev.filter(([k, v]) => e[k] === v).map(([k]) => k);
    if (missing.length > 0) {
      throw new ConfigError(`Invalid configuration:\n${missing.map((k) => `  ${k}: must be set in production`).join('\n')}`);
    }
  }
  if (e.ORPHAN_AFTER_MS < e.APPLICATION_START_TIMEOUT_MS + 10_000) {
    // A create still waiting for its start must not look like an orphan to a second submission.
    throw new ConfigError(
      `Invalid configuration:\n  ORPHAN_AFTER_MS: must be at least APPLICATION_START_TIMEOUT_MS + 10000 (${e.APPLICATION_START_TIMEOUT_MS + 10_000})`,
    );
  }
  const sandbox = `http://127.0.0.1:${e.SANDBOX_PORT}`;
  return {
    ...e,
    providers: {
      ocr: e.OCR_BASE_URL ?? `${sandbox}/ocr`,
      creditBureau: e.CREDIT_BUREAU_BASE_URL ?? `${sandbox}/credit-bureau`,
      callCentre: e.CALL_CENTRE_BASE_URL ?? `${sandbox}/call-centre`,
      valuation: e.VALUATION_BASE_URL ?? `${sandbox}/valuation`,
      esign: e.ESIGN_BASE_URL ?? `${sandbox}/esign`,
      payments: e.PAYMENTS_BASE_URL ?? `${sandbox}/payments`,
      sms: e.SMS_BASE_URL ?? `${sandbox}/sms`,
      withholding: e.WITHHOLDING_BASE_URL ?? `${sandbox}/withholding`,
    },
  };
}
