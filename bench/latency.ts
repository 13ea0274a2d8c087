/**
 * Benchmark 2: POST /applications latency under `concurrency` closed-loop clients (each sends its
 * next request as soon as the last is answered), against a bare Express endpoint in a process of
 * the same kind (same Express, same Temporal client, same dev server) that only starts a no-op
 * workflow. No worker polls either task queue during the test, so what is compared is the request
 * path alone: the API's authentication, validation, encryption, one database transaction (applicant,
 * application, vehicle, documents, audit) and the workflow start, against the start alone. The two
 * endpoints take turns in rounds, so the machine's noise falls on both.
 */
import { mintDevToken } from '../src/api/auth';
import { loadConfig } from '../src/config';
import { CpuMeter, describeCpu, type CpuSample } from './lib/cpu';
import { ApplicantFactory } from './lib/data';
import { JsonClient } from './lib/http';
import { startStack } from './lib/stack';
import { percentile } from './lib/stats';

export interface LatencyOptions {
  concurrency: number;
  /** Requests per endpoint, measured (after `warmup` more). */
  requests: number;
  warmup: number;
  rounds: number;
}

export interface LatencyFigures {
  /** CPU ms per request, by process (see lib/cpu.ts). */
  cpuPerRequest: Record<string, number>;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  perSecond: number;
  errors: number;
}

export interface LatencyResult {
  options: LatencyOptions;
  api: LatencyFigures;
  bare: LatencyFigures;
  p50Ratio: number;
  p99Ratio: number;
  driver: 'postgres' | 'pglite';
}

async function load(http: JsonClient, token: string, factory: ApplicantFactory, count: number, concurrency: number, samples: number[]): Promise<{ ms: number; errors: number }> {
  let left = count;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        const body = factory.body();
        const t = performance.now();
        const r = await http.request('POST', '/applications', { token, body }).catch((err: Error) => ({ status: 0, body: err.message }));
        samples.push(performance.now() - t);
        if (r.status !== 201) errors++;
      }
    }),
  );
  return { ms: performance.now() - t0, errors };
}

const figures = (samples: number[], ms: number, errors: number, cpu: CpuSample): LatencyFigures => ({
  cpuPerRequest: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((10 * v) / samples.length) / 10])),
  p50Ms: percentile(samples, 50),
  p90Ms: percentile(samples, 90),
  p99Ms: percentile(samples, 99),
  maxMs: percentile(samples, 100),
  perSecond: samples.length / (ms / 1000),
  errors,
});

export async function benchLatency(o: LatencyOptions, log: (m: string) => void): Promise<LatencyResult> {
  const stack = await startStack({ name: 'latency', api: true, bareApi: true });
  try {
    const token = await mintDevToken(loadConfig({}), { sub: 'officer-1', roles: ['officer'] });
    const factory = new ApplicantFactory();
    const api = new JsonClient(stack.apiUrl!, o.concurrency);
    const bare = new JsonClient(stack.bareApiUrl!, o.concurrency);
    log(`  warm-up: ${o.warmup} requests to each endpoint…`);
    await load(bare, token, factory, o.warmup, o.concurrency, []);
    await load(api, token, factory, o.warmup, o.concurrency, []);
    const samples = { api: [] as number[], bare: [] as number[] };
    const time = { api: 0, bare: 0 };
    const errors = { api: 0, bare: 0 };
    const cpu: Record<'api' | 'bare', CpuSample> = { api: {}, bare: {} };
    const per = Math.ceil(o.requests / o.rounds);
    for (let round = 0; round < o.rounds; round++) {
      for (const [name, http] of [
        ['bare', bare],
        ['api', api],
      ] as const) {
        const before = stack.cpu.sample();
        const r = await load(http, token, factory, per, o.concurrency, samples[name]);
        const used = CpuMeter.delta(stack.cpu.sample(), before);
        for (const [k, v] of Object.entries(used)) cpu[name][k] = (cpu[name][k] ?? 0) + v;
        time[name] += r.ms;
        errors[name] += r.errors;
      }
      log(`  round ${round + 1}/${o.rounds}: ${per} requests to each, ${o.concurrency} clients`);
    }
    api.close();
    bare.close();
    const a = figures(samples.api, time.api, errors.api, cpu.api);
    const b = figures(samples.bare, time.bare, errors.bare, cpu.bare);
    log(`  CPU per request, API: ${describeCpu(a.cpuPerRequest)}`);
    log(`  CPU per request, bare endpoint: ${describeCpu(b.cpuPerRequest)}`);
    return { options: o, api: a, bare: b, p50Ratio: a.p50Ms / b.p50Ms, p99Ratio: a.p99Ms / b.p99Ms, driver: stack.driver };
  } finally {
    await stack.stop();
  }
}
