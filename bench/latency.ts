/**
 * Benchmark 2: POST /applications latency under `concurrency` closed-loop clients (each sends its
 * next request as soon as the last is answered), against a bare Express endpoint in a process of
 * the same kind (same Express, same Temporal client, same dev server) that only starts a no-op
 * workflow. No worker polls either task queue during the test, so what is compared is the request
 * path alone: the API's authentication, validation, encryption, one database transaction (applicant,
 * application, vehicle, documents, audit) and the workflow start, against the start alone. The two
 * endpoints take turns in rounds, so the machine's noise falls on both.
 *
 * With no pause between requests 50 clients saturate two cores: latency is then the queue, and the
 * ratio is that of the CPU each request costs the whole machine. A second, paced measurement (each
 * client pausing about `thinkMs` between requests) shows the latency below saturation.
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
  /**
   * Also measure with each client pausing this long between requests (0: skip): latency below
   * saturation, where it is the service time rather than the queue that the ratio compares.
   */
  thinkMs: number;
  /** Requests per endpoint, measured (after `warmup` more). */
  requests: number;
  warmup: number;
  rounds: number;
  systemExecArgv?: string[];
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
  paced?: { api: LatencyFigures; bare: LatencyFigures; p50Ratio: number; p99Ratio: number };
  driver: 'postgres' | 'pglite';
}

async function load(
  http: JsonClient,
  token: string,
  factory: ApplicantFactory,
  count: number,
  concurrency: number,
  samples: number[],
  thinkMs = 0,
): Promise<{ ms: number; errors: number }> {
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
        if (thinkMs > 0) await new Promise((res) => setTimeout(res, thinkMs * (0.5 + Math.random())));
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
  const stack = await startStack({ name: 'latency', api: true, bareApi: true, ...(o.systemExecArgv ? { systemExecArgv: o.systemExecArgv } : {}) });
  try {
    const token = await mintDevToken(loadConfig({}), { sub: 'officer-1', roles: ['officer'] });
    const factory = new ApplicantFactory();
    const api = new JsonClient(stack.apiUrl!, o.concurrency);
    const bare = new JsonClient(stack.bareApiUrl!, o.concurrency);
    log(`  warm-up: ${o.warmup} requests to each endpoint…`);
    await load(bare, token, factory, o.warmup, o.concurrency, []);
    await load(api, token, factory, o.warmup, o.concurrency, []);
    const measure = async (requests: number, thinkMs: number) => {
      const samples = { api: [] as number[], bare: [] as number[] };
      const time = { api: 0, bare: 0 };
      const errors = { api: 0, bare: 0 };
      const cpu: Record<'api' | 'bare', CpuSample> = { api: {}, bare: {} };
      const per = Math.ceil(requests / o.rounds);
      for (let round = 0; round < o.rounds; round++) {
        for (const [name, http] of [
          ['bare', bare],
          ['api', api],
        ] as const) {
          const before = stack.cpu.sample();
          const r = await load(http, token, factory, per, o.concurrency, samples[name], thinkMs);
          const used = CpuMeter.delta(stack.cpu.sample(), before);
          for (const [k, v] of Object.entries(used)) cpu[name][k] = (cpu[name][k] ?? 0) + v;
          time[name] += r.ms;
          errors[name] += r.errors;
        }
        log(`  round ${round + 1}/${o.rounds}: ${per} requests to each, ${o.concurrency} clients${thinkMs ? `, pausing ~${thinkMs} ms between requests` : ''}`);
      }
      const a = figures(samples.api, time.api, errors.api, cpu.api);
      const b = figures(samples.bare, time.bare, errors.bare, cpu.bare);
      log(`  CPU per request, API: ${describeCpu(a.cpuPerRequest)}`);
      log(`  CPU per request, bare endpoint: ${describeCpu(b.cpuPerRequest)}`);
      return { api: a, bare: b, p50Ratio: a.p50Ms / b.p50Ms, p99Ratio: a.p99Ms / b.p99Ms };
    };
    const saturated = await measure(o.requests, 0);
    const paced = o.thinkMs > 0 ? await measure(Math.ceil(o.requests / 2), o.thinkMs) : undefined;
    api.close();
    bare.close();
    return { options: o, ...saturated, ...(paced ? { paced } : {}), driver: stack.driver };
  } finally {
    await stack.stop();
  }
}
