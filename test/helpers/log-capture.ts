import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger';

/** The project's logger (with its redaction) writing into memory, so a test can read every line. */
export function capturedLogger(level = 'trace'): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return {
    log: createLogger(level, 'car-loans', sink),
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => raw.join('\n'),
  };
}
