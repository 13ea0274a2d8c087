import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { loanApplicationWorkflowId, loanServicingWorkflowId } from '../../src/domain/ids';
import { betweenTasks, type StoredHistory } from './histories';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const { EventType } = temporal.api.enums.v1;

/**
 * Replays stored histories against a workflow bundle and describes each one that does not
 * replay: which release and path, under which workflow id, and the event where the code and the
 * history part ways, so a change that would break open loans fails CI with something to act on.
 */
export async function replayFailures(bundle: WorkflowBundleWithSourceMap, stored: readonly StoredHistory[]): Promise<{ replayed: number; failures: string[] }> {
  // Runs of one workflow id (a servicing loan before and after a continue-as-new) go in separate
  // batches: a replay result names its history by workflow id only.
  const batches: Map<string, StoredHistory>[] = [];
  for (const s of stored) {
    const id = workflowIdOf(s.history, s.name);
    let batch = batches.find((b) => !b.has(id));
    if (!batch) batches.push((batch = new Map()));
    batch.set(id, s);
  }
  const failures: string[] = [];
  let replayed = 0;
  for (const batch of batches) {
    // A task in flight at a history's end (one recorded mid-task) would run as the live one.
    const results = Worker.runReplayHistories({ workflowBundle: bundle }, [...batch].map(([workflowId, s]) => ({ workflowId, history: betweenTasks(s.history) })));
    for await (const r of results) {
      replayed++;
      if (r.error) failures.push(await describeFailure(bundle, batch.get(r.workflowId)!, r.workflowId, r.error));
    }
  }
  return { replayed, failures };
}

/** `0.1.0/happy-new-branch: workflow loan-application-app-1 (loanApplication) parts from its history at event 19 ActivityTaskScheduled loadApplicationFacts: <the SDK's reason>`. */
async function describeFailure(bundle: WorkflowBundleWithSourceMap, s: StoredHistory, workflowId: string, error: Error): Promise<string> {
  const events = s.history.events ?? [];
  const type = events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown type';
  const reason = /\[TMPRL\d+\][^"]*?(?=", source|$)/.exec(error.message)?.[0] ?? error.message;
  const named = /HistoryEvent\(id: (\d+)/.exec(error.message);
  const eventId = named ? Number(named[1]) : await firstDivergentEvent(bundle, s.history, workflowId);
  const event = eventId === null ? undefined : events.find((e) => Number(e.eventId) === eventId);
  const at = event ? `at event ${eventId} ${describeEvent(event)}` : 'at an event the replay did not name';
  return `${s.release ? `${s.release}/` : ''}${s.name}: workflow ${workflowId} (${type}) parts from its history ${at}: ${reason}`;
}

/**
 * The first command event the code no longer produces, found by replaying ever longer prefixes
 * of the history (each cut just before a workflow task starts, where a worker would pick it up).
 * Used when the SDK's message names no event (e.g. two activities swapped: it names the types).
 */
async function firstDivergentEvent(bundle: WorkflowBundleWithSourceMap, history: History, workflowId: string): Promise<number | null> {
  const events = history.events ?? [];
  const cuts = events.flatMap((e, i) => (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ? [i] : []));
  const fails = async (cut: number) => {
    try {
      await Worker.runReplayHistory({ workflowBundle: bundle }, { events: events.slice(0, cut + 1) }, workflowId);
      return false;
    } catch {
      return true;
    }
  };
  // The smallest failing prefix: the divergence lies in the events since the cut before it.
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (await fails(cuts[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  if (lo === cuts.length) return null;
  const from = lo === 0 ? 0 : cuts[lo - 1]!;
  const quiet = new Set([EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]);
  const first = events.slice(from, cuts[lo]).find((e) => !quiet.has(e.eventType as temporal.api.enums.v1.EventType));
  return first ? Number(first.eventId) : Number(events[cuts[lo]!]!.eventId);
}

function describeEvent(e: HistoryEvent): string {
  const name = (EventType[e.eventType as number] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '');
  const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
  const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name;
  const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
  const detail = activity ?? child ?? signal;
  return detail ? `${name} ${detail}` : name;
}

/**
 * The id the run had, from its input (ids only in there): replaying under it keeps anything the
 * code derives from workflowInfo() as it was. Falls back to the file's name.
 */
export function workflowIdOf(history: History, fallback: string): string {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  let input: { applicationId?: unknown; loanId?: unknown } = {};
  try {
    input = payload?.data ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as typeof input) : {};
  } catch {
    // Not plain JSON (an encrypted payload): the file's name will do.
  }
  const type = started?.workflowType?.name;
  if (type === 'loanApplication' && typeof input.applicationId === 'string') return loanApplicationWorkflowId(input.applicationId);
  if (type === 'loanServicing' && typeof input.loanId === 'string') return loanServicingWorkflowId(input.loanId);
  return fallback;
}
