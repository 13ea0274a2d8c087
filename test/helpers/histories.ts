import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/**
 * Stored histories of the loan-application paths, replayed by test/workflow/replay.test.ts so that a
 * change that breaks determinism fails CI. Regenerate them with
 * `RECORD_HISTORIES=1 NODE_OPTIONS=--experimental-vm-modules npx jest --selectProjects workflow`
 * (each workflow test keeps the history of the path it walked), then commit the JSON files.
 *
 * The files are Temporal's proto-JSON history format (what `temporal workflow show --output json`
 * and the SDK's historyToJSON write). The conversion is done here with the protobufjs copy that
 * @temporalio/proto was built with: in this install @temporalio/common carries a second copy, and
 * its historyToJSON / historyFromJSON fail with "type must be a Type" across the two.
 */
export const HISTORIES_DIR = path.join(__dirname, '..', 'workflow', 'histories');
export const RECORDING = process.env.RECORD_HISTORIES === '1';

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

/** Every stored history: [name, history]. */
export function storedHistories(): Array<[string, History]> {
  if (!fs.existsSync(HISTORIES_DIR)) return [];
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.replace(/\.json$/, ''), historyFromJson(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, f), 'utf8')))]);
}

/** Writes the run's history under HISTORIES_DIR/<name>.json when recording; a no-op otherwise. */
export async function keepHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!RECORDING) return;
  const history = await handle.fetchHistory();
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  // One line: these are machine files, replayed, never read line by line.
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(historyToJson(history))}\n`);
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

/**
 * The workflow id a stored history ran under (from its input), which replay must use: act proofs
 * are signed for that id, and the signal handlers check them again on replay.
 */
export function workflowIdOf(history: History): string {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  const input = JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8')) as { applicationId?: string; loanId?: string };
  if (started?.workflowType?.name === 'loanServicing') return `loan-servicing-${input.loanId}`;
  return `loan-application-${input.applicationId}`;
}
