import { count } from 'drizzle-orm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client';
import { applications } from '../db/schema';
import { STAGES } from '../domain';
import type { Logger } from '../logger';

/**
 * The API's Prometheus metrics on /metrics: requests by route pattern (never the raw URL, so ids do
 * not explode the series) and status, their latencies, loans by stage counted from the database
 * at scrape time, and the process defaults. The worker's SDK metrics are on WORKER_METRICS_PORT.
 */
export interface ApiMetrics {
  registry: Registry;
  observe(method: string, route: string, status: number, seconds: number): void;
}

export interface ApiMetricsOptions {
  /** When given, `car_loans_applications{stage}` is read from the applications table at each scrape. */
  db?: Db;
  log?: Logger;
}

export function createApiMetrics(opts: ApiMetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'API requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'API request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  if (opts.db) {
    const db = opts.db;
    new Gauge({
      name: 'car_loans_applications',
      help: 'Applications by stage (terminal stages included), from the applications table at scrape time',
      labelNames: ['stage'] as const,
      registers: [registry],
      async collect() {
        let rows: { stage: string; n: number }[];
        try {
          rows = await db.select({ stage: applications.stage, n: count() }).from(applications).groupBy(applications.stage);
        } catch (err) {
          // A database that does not answer must not take the other metrics down with it: no sample this time.
          opts.log?.warn({ err: (err as Error).message }, 'could not count applications by stage for /metrics');
          this.reset();
          return;
        }
        // Every stage has a series, zero included, so a rate or an alert never sees a gap.
        const byStage = new Map<string, number>(STAGES.map((s) => [s, 0]));
        for (const r of rows) byStage.set(r.stage, Number(r.n));
        for (const [stage, n] of byStage) this.set({ stage }, n);
      },
    });
  }
  return {
    registry,
    observe(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
  };
}
