import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { SandboxContext } from './context';

/** The providers, named as in the configuration (src/config.ts), each mounted at its own prefix. */
export const SANDBOX_PROVIDERS = ['ocr', 'creditBureau', 'callCentre', 'valuation', 'esign', 'payments', 'sms', 'withholding'] as const;
export type SandboxProvider = (typeof SANDBOX_PROVIDERS)[number];

export const PROVIDER_PREFIX: Record<SandboxProvider, string> = {
  ocr: '/ocr',
  creditBureau: '/credit-bureau',
  callCentre: '/call-centre',
  valuation: '/valuation',
  esign: '/esign',
  payments: '/payments',
  sms: '/sms',
  withholding: '/withholding',
};

export const FAULT_MODES = ['error_5xx', 'fraction', 'timeout', 'slow', 'lost_response', 'refusal'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

export const faultSpecSchema = z
  .object({
    provider: z.enum([...SANDBOX_PROVIDERS, 'all']),
    mode: z.enum(FAULT_MODES),
    /** Share of requests hit, spread evenly and deterministically (the first request is hit). */
    rate: z.number().gt(0).max(1).optional(),
    /** `slow`: added delay; `timeout`: how long the request hangs before the connection is dropped. */
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    /** The fault switches itself off after this long. */
    durationMs: z.number().int().positive().max(86_400_000).optional(),
    /** The fault switches itself off after hitting this many requests. */
    count: z.number().int().positive().optional(),
    /** `error_5xx` / `fraction`: the status answered (default 503). `refusal`: 409 or 422 (default 422). */
    status: z.number().int().min(400).max(599).optional(),
    /** `refusal`: the error code answered (default `sandbox_refusal`). */
    code: z.string().regex(/^[a-z0-9_]{1,64}$/).optional(),
  })
  .strict();
export type FaultSpec = z.infer<typeof faultSpecSchema>;

export interface ActiveFault {
  provider: SandboxProvider | 'all';
  mode: FaultMode;
  rate: number;
  latencyMs: number;
  status: number;
  code: string;
  createdAt: string;
  expiresAt: string | null;
  remaining: number | null;
  /** Requests seen while the fault was on, and how many of them it hit. */
  seen: number;
  injected: number;
}

export class FaultRegistry {
  private readonly faults = new Map<SandboxProvider | 'all', ActiveFault>();

  /** `clock`: the sandbox's own (SandboxOptions.now), so a test that moves it expires faults deterministically. */
  constructor(private readonly clock: () => number = Date.now) {}

  set(spec: FaultSpec, now = this.clock()): ActiveFault {
    const mode = spec.mode;
    const defaultStatus = mode === 'refusal' ? 422 : 503;
    const fault: ActiveFault = {
      provider: spec.provider,
      mode,
      rate: spec.rate ?? (mode === 'fraction' ? 0.5 : 1),
      latencyMs: spec.latencyMs ?? (mode === 'timeout' ? 60_000 : mode === 'slow' ? 2_000 : 0),
      status: spec.status ?? defaultStatus,
      code: spec.code ?? (mode === 'refusal' ? 'sandbox_refusal' : 'sandbox_fault'),
      createdAt: new Date(now).toISOString(),
      expiresAt: spec.durationMs ? new Date(now + spec.durationMs).toISOString() : null,
      remaining: spec.count ?? null,
      seen: 0,
      injected: 0,
    };
    this.faults.set(spec.provider, fault);
    return fault;
  }

  clear(provider?: SandboxProvider | 'all'): number {
    if (!provider) {
      const n = this.faults.size;
      this.faults.clear();
      return n;
    }
    return this.faults.delete(provider) ? 1 : 0;
  }

  list(now = this.clock()): ActiveFault[] {
    this.prune(now);
    return [...this.faults.values()];
  }

  /** The fault that hits this request, if any; counts the request either way. */
  decide(provider: SandboxProvider, now = this.clock()): ActiveFault | null {
    this.prune(now);
    const fault = this.faults.get(provider) ?? this.faults.get('all');
    if (!fault) return null;
    fault.seen += 1;
    // Hit request n when ceil(n·rate) steps up: exactly ceil(n·rate) of the first n are hit, evenly.
    const hit = Math.ceil(fault.seen * fault.rate - 1e-9) > Math.ceil((fault.seen - 1) * fault.rate - 1e-9);
    if (!hit) return null;
    fault.injected += 1;
    if (fault.remaining !== null) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults.delete(fault.provider);
    }
    return fault;
  }

  private prune(now: number): void {
    for (const [key, f] of this.faults) {
      if (f.expiresAt && Date.parse(f.expiresAt) <= now) this.faults.delete(key);
    }
  }
}

/** Applies the provider's active fault, if it hits this request, before the provider sees it. */
export function faultInjection(ctx: SandboxContext, provider: SandboxProvider): RequestHandler {
  return (req, res, next) => {
    const fault = ctx.faults.decide(provider);
    if (!fault) {
      next();
      return;
    }
    ctx.logger.warn({ provider, mode: fault.mode, method: req.method, path: req.baseUrl + req.path }, 'sandbox fault injected');
    switch (fault.mode) {
      case 'error_5xx':
      case 'fraction':
        res.status(fault.status).json({ code: fault.code, message: `injected fault: ${provider} unavailable` });
        return;
      case 'refusal':
        res.status(fault.status).json({ code: fault.code, message: `injected business refusal by ${provider}` });
        return;
      case 'slow':
        ctx.timers.after(fault.latencyMs, () => next());
        return;
      case 'timeout':
        // Never answers: the caller's timeout fires first; the connection is dropped afterwards.
        ctx.timers.after(fault.latencyMs, () => res.socket?.destroy());
        return;
      case 'lost_response': {
        // The provider does the work, but the answer never arrives: only idempotency saves the caller.
        const end = () => {
          res.socket?.destroy();
          return res;
        };
        res.end = end as typeof res.end;
        next();
        return;
      }
    }
  };
}
