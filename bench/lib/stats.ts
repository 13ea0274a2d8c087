/** Percentile by the nearest-rank method over a copy of the samples (ms). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
export const fmtMb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
export const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a');

/** Runs `worker` on `concurrency` loops until it returns false or `deadline` (epoch ms) passes. */
export async function runLoops(concurrency: number, worker: (loop: number) => Promise<boolean>, deadline = Infinity): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (Date.now() < deadline) {
        if (!(await worker(loop))) return;
      }
    }),
  );
}

/** Polls `fn` every `everyMs` until it returns a value or `timeoutMs` passes (then throws with `what`). */
export async function pollUntil<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
