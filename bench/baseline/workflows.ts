/**
 * Baseline workflows (bench only, bundled for the bench worker on its own task queue). They do what
 * the real loan workflow does to Temporal (the same batches of activities, search-attribute
 * upserts, timers raced against updates, the child at the end) and nothing else: no database, no
 * providers, no payload encryption. Deterministic like any workflow.
 */
import {
  ParentClosePolicy,
  condition,
  defineQuery,
  defineUpdate,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Shape } from './shape';

export const BenchStep = defineSearchAttributeKey('BenchStep', SearchAttributeType.KEYWORD);

export interface BaselineState {
  /** `act-<n>` while waiting for the n-th act (0-based), else null. */
  pending: string | null;
  acts: number;
  /** True once the run reached its end (the child started, the last timer set, or returning). */
  done: boolean;
}

export const baselineStateQuery = defineQuery<BaselineState>('baselineState');
export const baselineActUpdate = defineUpdate<BaselineState, [number]>('baselineAct');

const { noop } = proxyActivities<{ noop(step: number): Promise<number> }>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Replays a shape: batches of no-op activities, waits for acts (a 7-day timer raced against an update), the child. */
export async function baselineApplication(shape: Shape): Promise<void> {
  const state: BaselineState = { pending: null, acts: 0, done: false };
  let batchesDone = 0;
  let step = 0;

  setHandler(baselineStateQuery, () => state);
  setHandler(
    baselineActUpdate,
    async (act) => {
      state.pending = null;
      state.acts = act + 1;
      // Like the loan workflow's act handler: the answer comes once the act is recorded (the next batch).
      const mark = batchesDone;
      await condition(() => batchesDone > mark);
      return state;
    },
    {
      validator: (act) => {
        if (state.pending !== `act-${act}`) throw new Error(`not waiting for act ${act}`);
      },
    },
  );

  for (const segment of shape.segments) {
    for (const batch of segment.batches) {
      for (let u = 0; u < batch.upserts; u++) upsertSearchAttributes([{ key: BenchStep, value: `step-${step}-${u}` }]);
      await Promise.all(Array.from({ length: batch.activities }, () => noop(step)));
      step++;
      batchesDone++;
    }
    if (segment.waitsForAct) {
      const act = state.acts;
      state.pending = `act-${act}`;
      if (!(await condition(() => state.acts > act, '7 days'))) throw new Error('baseline act never came');
    }
  }
  if (shape.end === 'child' && shape.child) {
    const child = await startChild(baselineApplication, {
      args: [shape.child],
      workflowId: `${workflowInfo().workflowId}-child`,
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    state.done = true;
    await child.result();
    return;
  }
  state.done = true;
  if (shape.end === 'timer') await sleep('30 days');
}


/** What the bare endpoint of the latency benchmark starts: nothing at all. */
export async function benchNoop(): Promise<void> {}
