/**
 * The command shape of a workflow run, read from its history: the batches of activities it
 * scheduled together (one workflow task's commands), the search-attribute upserts with them, where
 * it waited for a human act (a timer raced against an update), and whether it ended by starting a
 * child. The baseline workflow replays this shape with no-op activities, so the baseline has the
 * same activities, updates, timers, upserts and child as the real run it is compared with.
 *
 * Pure (no Temporal imports beyond types): the baseline workflow imports the types, the bench
 * imports the reader.
 */
export interface Batch {
  /** Activities scheduled in one workflow task, awaited together. */
  activities: number;
  /** Search-attribute upserts issued with them. */
  upserts: number;
}

export interface Segment {
  batches: Batch[];
  /** The segment ends waiting for a human act: a timer (the SLA / deadline) raced against an update. */
  waitsForAct: boolean;
}

export interface Shape {
  segments: Segment[];
  /** What the run does at the end: start a child and wait for it, sleep on a long timer, or return. */
  end: 'child' | 'timer' | 'return';
  /** The child's own shape, when `end` is `child`. */
  child?: Shape | undefined;
}

export interface ShapeCounts {
  activities: number;
  updates: number;
  timers: number;
  upserts: number;
  children: number;
  workflowTasks: number;
  events: number;
}

/** A history event as the client's fetchHistory() returns it (only the keys we look at). */
type Ev = Record<string, unknown>;

const kind = (e: Ev): string => Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k] != null) ?? '';

/** Reads a workflow's shape from its history events. */
export function shapeOf(events: readonly Ev[]): Shape {
  const segments: Segment[] = [{ batches: [], waitsForAct: false }];
  let end: Shape['end'] = 'return';
  let batch: Batch | null = null;
  let pendingUpserts = 0;
  const seg = () => segments[segments.length - 1]!;
  const flush = () => {
    if (batch && batch.activities > 0) seg().batches.push(batch);
    else if (batch) pendingUpserts += batch.upserts;
    batch = null;
  };
  for (const e of events) {
    switch (kind(e)) {
      case 'workflowTaskCompletedEventAttributes':
        flush();
        batch = { activities: 0, upserts: pendingUpserts };
        pendingUpserts = 0;
        break;
      case 'activityTaskScheduledEventAttributes':
        if (batch) batch.activities++;
        break;
      case 'upsertWorkflowSearchAttributesEventAttributes':
        if (batch) batch.upserts++;
        break;
      case 'timerStartedEventAttributes':
        end = 'timer';
        break;
      case 'workflowExecutionUpdateAcceptedEventAttributes':
        // The act arrived: the segment so far waited for it (with a timer, unless the act came before
        // the timer was set); what follows is the next segment, its first batch the handler's work.
        flush();
        seg().waitsForAct = true;
        segments.push({ batches: [], waitsForAct: false });
        batch = { activities: 0, upserts: 0 };
        end = 'return';
        break;
      case 'startChildWorkflowExecutionInitiatedEventAttributes':
        end = 'child';
        break;
      case 'activityTaskCompletedEventAttributes':
      case 'timerCanceledEventAttributes':
        if (end === 'timer') end = 'return';
        break;
      default:
        break;
    }
  }
  flush();
  return { segments, end };
}

/** Counts of a history, to print the real run and the baseline side by side. */
export function countsOf(events: readonly Ev[]): ShapeCounts {
  const n = (k: string) => events.filter((e) => kind(e) === k).length;
  return {
    activities: n('activityTaskScheduledEventAttributes'),
    updates: n('workflowExecutionUpdateAcceptedEventAttributes'),
    timers: n('timerStartedEventAttributes'),
    upserts: n('upsertWorkflowSearchAttributesEventAttributes'),
    children: n('startChildWorkflowExecutionInitiatedEventAttributes'),
    workflowTasks: n('workflowTaskCompletedEventAttributes'),
    events: events.length,
  };
}

/** The acts (segments that end waiting for a human) of a shape, in order. */
export const actsOf = (s: Shape): number => s.segments.filter((g) => g.waitsForAct).length;

/** The part of a shape from its `fromAct`-th wait on: the baseline of "N open applications waiting". */
export function shapeFromAct(s: Shape, fromAct: number): Shape {
  let seen = 0;
  const i = s.segments.findIndex((g) => g.waitsForAct && seen++ === fromAct);
  if (i < 0) throw new Error(`the shape has no act ${fromAct}`);
  // Start directly at the wait: no batches before it.
  return { ...s, segments: [{ batches: [], waitsForAct: true }, ...s.segments.slice(i + 1)] };
}
