/**
 * The baseline's only activity: returns at once. It counts its calls by step, so the bench can tell
 * when every baseline run has finished a given batch (the counterpart of the real workflow's
 * mirror row) without querying thousands of runs.
 */
const calls = new Map<number, number>();

export const baselineActivities = {
  async noop(step: number): Promise<number> {
    calls.set(step, (calls.get(step) ?? 0) + 1);
    return step;
  },
};

export const noopCallsByStep = (): Record<number, number> => Object.fromEntries(calls);
