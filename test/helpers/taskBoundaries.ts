/**
 * Histories as a worker could also have written them: with a workflow task ending right after a
 * local activity's marker. The SDK records a local activity's result in the task it resolved in,
 * but when a query is answered in that task the worker completes it there
 * and runs the code the result wakes in the next task; on replay the same code runs in the earlier
 * task, where the result is already known. Code after a local activity must therefore issue the
 * same commands whichever task it runs in: a `patched()` there, for one, answers true live and
 * false on replay (TMPRL1100 "patch marker … but there is no corresponding change command").
 * test/workflow/loanApplication.taskBoundaries.test.ts replays every such variant of the stored
 * histories.
 */

/** A history in Temporal's proto-JSON form, as stored (test/helpers/histories.ts). */
export interface HistoryJson {
  events: EventJson[];
}
type EventJson = { eventId: string; eventType: string; eventTime?: string } & Record<string, unknown>;

const WFT_SCHEDULED = 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED';
const WFT_STARTED = 'EVENT_TYPE_WORKFLOW_TASK_STARTED';
const WFT_COMPLETED = 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED';
const MARKER = 'EVENT_TYPE_MARKER_RECORDED';
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

const isLocalActivityMarker = (e: EventJson) =>
  e.eventType === MARKER && (e.markerRecordedEventAttributes as { markerName?: string } | undefined)?.markerName === LOCAL_ACTIVITY_MARKER;

/**
 * The indexes of the local-activity markers that more commands of the same workflow task follow:
 * the places a task could have ended instead.
 */
export function localActivitySplitPoints(history: HistoryJson): number[] {
  const events = history.events;
  return events.flatMap((e, i) => {
    const next = events[i + 1];
    return isLocalActivityMarker(e) && next && next.eventType !== WFT_SCHEDULED ? [i] : [];
  });
}

/** Every event id a history event holds (its own and the ones it refers to), moved by `by` from `from` on. */
function shiftIds(value: unknown, from: number, by: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shiftIds(v, from, by));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const isId = (k === 'eventId' || k.endsWith('EventId')) && (typeof v === 'string' || typeof v === 'number');
    out[k] = isId && Number(v) >= from ? String(Number(v) + by) : shiftIds(v, from, by);
  }
  return out;
}

/**
 * The history with a workflow task ended after event `index` (a local-activity marker): a task
 * scheduled, started and completed there, and the rest of the task's commands issued by it.
 */
export function withTaskBoundaryAfter(history: HistoryJson, index: number): HistoryJson {
  const events = history.events;
  const marker = events[index];
  if (!marker) throw new Error(`no event at index ${index}`);
  const lastOf = (type: string) => events.slice(0, index).reverse().find((e) => e.eventType === type);
  const scheduled = lastOf(WFT_SCHEDULED);
  const started = lastOf(WFT_STARTED);
  const completed = lastOf(WFT_COMPLETED);
  if (!scheduled || !started || !completed) throw new Error(`event ${marker.eventId} follows no completed workflow task`);
  const m = Number(marker.eventId);
  const at = { eventTime: marker.eventTime };
  const inserted: EventJson[] = [
    {
      ...at,
      eventId: String(m + 1),
      eventType: WFT_SCHEDULED,
      workflowTaskScheduledEventAttributes: { ...(scheduled.workflowTaskScheduledEventAttributes as object), attempt: 1 },
    },
    {
      ...at,
      eventId: String(m + 2),
      eventType: WFT_STARTED,
      workflowTaskStartedEventAttributes: { ...(started.workflowTaskStartedEventAttributes as object), scheduledEventId: String(m + 1) },
    },
    {
      ...at,
      eventId: String(m + 3),
      eventType: WFT_COMPLETED,
      workflowTaskCompletedEventAttributes: { ...(completed.workflowTaskCompletedEventAttributes as object), scheduledEventId: String(m + 1), startedEventId: String(m + 2) },
    },
  ];
  const completedId = completed.eventId;
  let inTask = true;
  const rest = events.slice(index + 1).map((e) => {
    if (e.eventType === WFT_SCHEDULED) inTask = false;
    const moved = shiftIds(e, m + 1, 3) as EventJson;
    if (!inTask) return moved;
    // The commands of the task that come after the marker: issued by the new task now.
    for (const [k, v] of Object.entries(moved)) {
      const attributes = v as Record<string, unknown> | null;
      if (k.endsWith('Attributes') && attributes && typeof attributes === 'object' && attributes.workflowTaskCompletedEventId === completedId) {
        moved[k] = { ...attributes, workflowTaskCompletedEventId: String(m + 3) };
      }
    }
    return moved;
  });
  return { ...history, events: [...events.slice(0, index + 1), ...inserted, ...rest] };
}
