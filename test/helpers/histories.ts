import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { waitFor } from './wait';

/**
 * Stored histories, filed by the release that wrote them (`test/workflow/histories/<version>/`),
 * replayed by test/workflow/replay.test.ts against the current code so that a change that would
 * break a run still open from any release fails CI. `npm run histories:record` records the set of
 * the version in package.json (each workflow test keeps the history of the path it walked) into
 * its folder; a file already there is the release's record and is never overwritten.
 *
 * The files are Temporal's proto-JSON history format (what `temporal workflow show --output json`
 * and the SDK's historyToJSON write). The conversion is done here with the protobufjs copy that
 * @temporalio/proto was built with: in this install @temporalio/common carries a second copy, and
 * its historyToJSON / historyFromJSON fail with "type must be a Type" across the two.
 */
export const HISTORIES_DIR = path.join(__dirname, '..', 'workflow', 'histories');
export const RECORDING = process.env.RECORD_HISTORIES === '1';
/** The release a recording is filed under: the version in package.json. */
export const RELEASE = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

type History = proto.temporal.api.history.v1.IHistory;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto/package.json'))] })) as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
};
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
}

export function historyFromJson(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}

export interface StoredHistory {
  /** The release folder it is filed under ('' for a file left at the top, which the replay test refuses). */
  release: string;
  name: string;
  history: History;
}

/** Every stored history of every release, oldest release first. */
export function storedHistories(): StoredHistory[] {
  if (!fs.existsSync(HISTORIES_DIR)) return [];
  const read = (release: string): StoredHistory[] =>
    fs
      .readdirSync(path.join(HISTORIES_DIR, release))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({ release, name: f.replace(/\.json$/, ''), history: historyFromJson(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, release, f), 'utf8'))) }));
  const releases = fs
    .readdirSync(HISTORIES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort(compareVersions);
  return [...releases.flatMap(read), ...read('')];
}

/** Orders release folders by version (0.10.0 after 0.9.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? -1;
    const y = pb[i] ?? -1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/**
 * Keeps the run's history as `<RELEASE>/<name>.json` when recording; a no-op otherwise. A file
 * that is already there is left alone: it is that release's record, and rewriting it would let a
 * change pass by replaying only what the changed code itself wrote.
 */
export async function keepHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!RECORDING) return;
  const file = path.join(HISTORIES_DIR, RELEASE, `${name}.json`);
  if (fs.existsSync(file)) return;
  // Once no workflow task is in flight: one that is counts as the live one on replay, and the code
  // it runs would start its local activities on the replayer (which has none).
  const history = await waitFor(async () => {
    const h = await handle.fetchHistory();
    return betweenTasks(h).events?.length === h.events?.length ? h : undefined;
  }, `a history of ${name} with no workflow task in flight`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // One line: these are machine files, replayed, never read line by line.
  fs.writeFileSync(file, `${JSON.stringify(historyToJson(history))}\n`);
}

const IN_FLIGHT = new Set<unknown>([proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]);

/**
 * The history without a workflow task still in flight at its end (scheduled or started, not yet
 * completed: a history fetched while the worker runs it). Replayed, such a task counts as the live
 * one, and the code it runs would start its local activities on the replayer, which has none.
 */
export function betweenTasks(history: History): History {
  const events = [...(history.events ?? [])];
  while (events.length > 0 && IN_FLIGHT.has(events[events.length - 1]!.eventType)) events.pop();
  return { ...history, events };
}

/**
 * Everything a history carries as readable text: every string in it, with payload data (base64 in
 * the JSON form) decoded, so a test can check that no personal data is in it.
 */
export async function historyText(handle: WorkflowHandle): Promise<string> {
  return readableText(historyToJson(await handle.fetchHistory()));
}

/** Every string in a JSON history, payload data decoded. */
export function readableText(json: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'string') {
      out.push(v);
      if (key === 'data') out.push(Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(json, '');
  return out.join('\n');
}

