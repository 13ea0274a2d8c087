import pino from 'pino';

/**
 * JSON logs. Personal data never reaches a log line: these paths are redacted as a second line of
 * defence, the first being that code logs ids, stages and figures only.
 */
export const REDACT_PATHS = [
  '*.name',
  '*.idNumber',
  '*.phone',
  '*.bankAccount',
  '*.accountNumber',
  '*.accountName',
  'applicant',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'car-loans') {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

export type Logger = ReturnType<typeof createLogger>;
