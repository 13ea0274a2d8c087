import pino, { type DestinationStream } from 'pino';

/**
 * JSON logs. Personal data never reaches a log line: code logs ids, stages and figures only, and
 * as a second line of defence every value under a personal-data key is censored, at any depth,
 * in the logged object and in child-logger bindings alike.
 */
export const PII_KEYS: ReadonlySet<string> = new Set([
  'name',
  'idNumber',
  'phone',
  'mobile',
  'bankAccount',
  'accountNumber',
  'accountName',
  'applicant',
  'signer',
  'spouseName',
  'homeAddress',
]);

/** Keys whose values are credentials or key material, whatever they hold. */
const SECRET_KEY = /secret|password|passwd|api_?key|token|private_?key|^keys?$|^ring$/i;

/**
 * Paths pino censors itself: credentials in headers, and the personal-data keys at the top and one
 * level down, which is what reaches child-logger bindings (the log formatter does not see those).
 * A top-level `name` is left out: it is the logger's own name in every line.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  ...[...PII_KEYS].filter((k) => k !== 'name'),
  ...[...PII_KEYS].map((k) => `*.${k}`),
];

export const CENSOR = '[redacted]';
const MAX_DEPTH = 8;

/** A copy of `value` with every personal-data and secret key censored; the value itself when it has none. */
export function censorPersonalData(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  // Errors are serialised by pino's err serializer; their messages are kept free of personal data at the source.
  if (value instanceof Error || value instanceof Date) return value;
  // Raw bytes are never worth a log line and may be key material (the SDK logs its worker options at debug).
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const c = censorPersonalData(item, depth + 1);
      if (c !== item) (out ??= [...value])[i] = c;
    });
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const c = (PII_KEYS.has(k) || SECRET_KEY.test(k)) && v !== null && v !== undefined ? CENSOR : censorPersonalData(v, depth + 1);
    if (c !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = c;
  }
  return out ?? value;
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'car-loans', destination?: DestinationStream) {
  const options = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: {
      log: (obj: Record<string, unknown>) => {
        // A top-level `name` would sit beside the logger's name in the line: dropped rather than censored.
        const { name: _dropped, ...rest } = censorPersonalData(obj) as Record<string, unknown>;
        return rest;
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type Logger = ReturnType<typeof createLogger>;
