import type { FaultRegistry } from './faults';
import type { SandboxStore } from './store';

/** What the sandbox logs through; pino's Logger fits. Log ids only, never personal data. */
export interface SandboxLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: SandboxLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Every pending timer (slow answers, hung requests, webhook retries), so close() leaves none behind. */
export class TimerSet {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  after(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export interface EsignSettings {
  webhookUrl: string | null;
  webhookSecret: string;
  /** Delay before each retry of a failed callback; attempts = 1 + its length. */
  retryDelaysMs: number[];
}

export interface SandboxContext {
  store: SandboxStore;
  faults: FaultRegistry;
  logger: SandboxLogger;
  timers: TimerSet;
  esign: EsignSettings;
  /** How long a transfer to the "pending" test account stays pending. */
  paymentPendingMs: number;
  /** The sandbox's own URL, known once it listens (signing links point at it). */
  baseUrl: string;
  now(): Date;
}
