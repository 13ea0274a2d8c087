/**
 * How long a test waits for something the system does on its own (a workflow moving on, a webhook
 * arriving, a row appearing) before calling it lost. Minutes, not seconds: the ceiling only decides
 * how long a broken run takes to fail; a healthy run on a busy machine never comes near it.
 */
export const PATIENCE_MS = 180_000;

/**
 * The API's waits on a workflow (src/config.ts API_*_MS) for a system a test starts: minutes, so a
 * busy machine never turns a 200 into a 202, a live read into the stored mirror or an act into a 503.
 */
export const API_PATIENCE = {
  API_QUERY_TIMEOUT_MS: String(PATIENCE_MS),
  API_ACT_ACCEPT_TIMEOUT_MS: String(PATIENCE_MS),
  API_ACT_RESULT_WAIT_MS: String(PATIENCE_MS),
} as const;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it answers something other than undefined, and answers that. Fails after
 * `timeoutMs` with `what` and the last error the probe threw, if any.
 */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  { timeoutMs = PATIENCE_MS, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}
