import type { ActivityFunctionWithOptions, LocalActivityFunctionWithOptions } from '@temporalio/workflow';

/**
 * Runs an activity (or a local activity) with a one-line summary the Temporal UI shows beside it. The summary is the
 * command's metadata, not part of it: adding or rewording one changes nothing a replay compares.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function call<F extends (...args: any[]) => Promise<any>>(
  fn: ActivityFunctionWithOptions<F> | LocalActivityFunctionWithOptions<F>,
  summary: string,
  ...args: Parameters<F>
): Promise<Awaited<ReturnType<F>>> {
  return fn.executeWithOptions({ summary }, args);
}
