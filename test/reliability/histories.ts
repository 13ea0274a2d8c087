import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../../src/temporal/codec';
import { loanApplicationWorkflowId, loanServicingWorkflowId } from '../../src/workflows/messages';
import type { AppState, Submitted } from './driver';

/**
 * Reads histories the way anyone with access to the Temporal server (or its database) could: with a
 * client that has no payload codec. Every event is turned into JSON with each byte field shown as
 * UTF-8 text (JSON.stringify alone would print bytes as numbers and could hide a plaintext name),
 * then searched for the applicants' names, ID numbers and phone numbers.
 */
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const bytesAsText = (_key: string, value: unknown) => {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('utf8');
  }
  return value;
};

export async function rawHistory(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId },
      maximumPageSize: 1000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(res.history?.events ?? []));
    if (!res.nextPageToken || res.nextPageToken.length === 0) break;
    nextPageToken = res.nextPageToken;
  }
  return events;
}

interface FoundPayload {
  path: string;
  payload: temporal.api.common.v1.IPayload;
}

/** Every Payload in an event (anything with metadata and data), with where it sits. */
function payloadsOf(value: unknown, path: string, out: FoundPayload[]): void {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
  const v = value as Record<string, unknown>;
  if (v.metadata && typeof v.metadata === 'object' && 'data' in v) {
    out.push({ path, payload: v as temporal.api.common.v1.IPayload });
    return;
  }
  for (const [k, child] of Object.entries(v)) payloadsOf(child, `${path}/${k}`, out);
}

const encodingOf = (p: temporal.api.common.v1.IPayload) => Buffer.from(p.metadata?.encoding ?? new Uint8Array()).toString('utf8');

/** Search attributes are indexed by the server and must stay readable; they carry ids and figures only. */
const INDEXED = /\/searchAttributes\/indexedFields\//;
/**
 * A `patched()` marker's details (the patch id and whether it is deprecated) are written by the
 * SDK's core, not by the data converter, so they are never encoded; they hold no loan data (the
 * leak scan above still reads them).
 */
const PATCH_MARKER = /^\/markerRecordedEventAttributes\/details\/patch-data\//;
/**
 * The same for a local activity's marker (`core_local_activity`): its `data` detail is core's own
 * bookkeeping (the sequence number, attempt, activity id and type, times), never encoded. The
 * activity's result beside it, under `result`, goes through the codec and is checked like any other.
 */
const LOCAL_ACTIVITY_MARKER_DATA = /^\/markerRecordedEventAttributes\/details\/data\//;
const isCoreBookkeeping = (e: HistoryEvent, path: string) =>
  PATCH_MARKER.test(path) || (e.markerRecordedEventAttributes?.markerName === 'core_local_activity' && LOCAL_ACTIVITY_MARKER_DATA.test(path));

export interface ScanResult {
  workflows: number;
  events: number;
  payloads: number;
  /** `<workflow id> <event id>: <which field of which applicant>` for every plaintext hit. */
  leaks: string[];
  /** Payloads outside the search attributes that are not encrypted. */
  plaintextPayloads: string[];
  /** The codec endpoint's decoding of a start event shows what the raw history hides. */
  decodedShowsContent: boolean;
  codecStatus: { admin: number; officer: number; none: number };
}

export async function scanRawHistories(
  client: Client,
  apiUrl: string,
  apps: Submitted[],
  finals: Map<string, AppState | undefined>,
  tokens: { admin: string; officer: string },
): Promise<ScanResult> {
  const needles = apps.flatMap((a) => [
    { what: `name of ${a.id}`, text: a.body.applicant.name },
    { what: `ID number of ${a.id}`, text: a.body.applicant.idNumber },
    { what: `phone of ${a.id}`, text: a.body.applicant.phone },
  ]);
  const result: ScanResult = { workflows: 0, events: 0, payloads: 0, leaks: [], plaintextPayloads: [], decodedShowsContent: false, codecStatus: { admin: 0, officer: 0, none: 0 } };
  let sample: temporal.api.common.v1.IPayload[] | undefined;
  let sampleId = '';

  for (const app of apps) {
    const loanId = finals.get(app.id)?.loanId;
    const ids = [loanApplicationWorkflowId(app.id), ...(loanId ? [loanServicingWorkflowId(loanId)] : [])];
    for (const workflowId of ids) {
      const events = await rawHistory(client, workflowId);
      result.workflows++;
      for (const e of events) {
        result.events++;
        const text = JSON.stringify(e, bytesAsText);
        for (const n of needles) if (text.includes(n.text)) result.leaks.push(`${workflowId} event ${String(e.eventId)}: ${n.what}`);
        const found: FoundPayload[] = [];
        payloadsOf(e, '', found);
        for (const f of found) {
          result.payloads++;
          if (!INDEXED.test(f.path) && !isCoreBookkeeping(e, f.path) && encodingOf(f.payload) !== ENCRYPTED_ENCODING) {
            result.plaintextPayloads.push(`${workflowId} event ${String(e.eventId)} ${f.path}: ${encodingOf(f.payload)}`);
          }
        }
        const input = e.workflowExecutionStartedEventAttributes?.input?.payloads;
        if (!sample && input?.length && workflowId.startsWith('loan-application-')) {
          sample = input;
          sampleId = app.id;
        }
      }
    }
  }

  // The start event's input, raw and decoded by the API's codec endpoint (an engineer's view).
  if (sample) {
    const body = JSON.stringify({
      payloads: sample.map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
      })),
    });
    const post = (token?: string) =>
      fetch(`${apiUrl}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
    const [asAdmin, asOfficer, anonymous] = await Promise.all([post(tokens.admin), post(tokens.officer), post()]);
    result.codecStatus = { admin: asAdmin.status, officer: asOfficer.status, none: anonymous.status };
    const rawText = sample.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join(' ');
    if (asAdmin.ok) {
      const decoded = (await asAdmin.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
      const decodedText = decoded.payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join(' ');
      const encoding = decoded.payloads[0] ? Buffer.from(decoded.payloads[0].metadata.encoding ?? '', 'base64').toString('utf8') : '';
      result.decodedShowsContent =
        encoding === 'json/plain' && decodedText.includes(sampleId) && decodedText.includes('"submittedBy"') && !rawText.includes('"submittedBy"') && !rawText.includes(sampleId);
    }
  }
  return result;
}
