/**
 * The saga: each step with an external effect pushes its undo as it succeeds (cancel the call task,
 * void the envelope, reverse the payout); a run that ends before its loan is booked undoes them,
 * newest first, each result recorded.
 */
import { activityFailureReason } from '../../contracts/failures';
import type { ApplicationRun } from './run';

interface Compensation {
  step: string;
  undo: (reason: string) => Promise<string>;
}

export class Saga {
  private readonly steps: Compensation[] = [];

  add(step: string, undo: (reason: string) => Promise<string>): void {
    this.steps.push({ step, undo });
  }

  /** The step's effect is over (the call was made): nothing is left to undo for it. */
  drop(step: string): void {
    const i = this.steps.findIndex((c) => c.step === step);
    if (i >= 0) this.steps.splice(i, 1);
  }

  /** The loan is booked: from here nothing is undone, it is serviced. */
  clear(): void {
    this.steps.length = 0;
  }

  pop(): Compensation | undefined {
    return this.steps.pop();
  }
}

/** Runs every compensation newest first; one that fails is flagged for a person and the rest still run. */
export async function compensate(run: ApplicationRun, reason: string): Promise<void> {
  for (let c = run.saga.pop(); c; c = run.saga.pop()) {
    let result: string;
    try {
      result = await c.undo(reason);
    } catch (err) {
      // A compensation that cannot run is recorded for a person to finish; the others still run.
      result = `failed:${activityFailureReason(err) ?? 'error'}`;
      run.addFlag('COMPENSATION_FAILED');
    }
    await run.recordEvent('compensated', `compensation:${c.step}`, { step: c.step, result, reason });
  }
}
