import { Connection, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { LOAN_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { codecFromConfig } from './codec';

export interface TemporalTarget {
  address: string;
  namespace: string;
  tls?: boolean;
  apiKey?: string | undefined;
}

function connectionOptions(t: TemporalTarget): ConnectionOptions {
  // Temporal Cloud: an API key implies TLS.
  const tls = t.tls || Boolean(t.apiKey);
  return {
    address: t.address,
    ...(tls ? { tls: true } : {}),
    ...(t.apiKey ? { apiKey: t.apiKey, metadata: { 'temporal-namespace': t.namespace } } : {}),
  };
}

export function connectClient(t: TemporalTarget): Promise<Connection> {
  return Connection.connect(connectionOptions(t));
}

export function connectWorker(t: TemporalTarget): Promise<NativeConnection> {
  const o = connectionOptions(t);
  return NativeConnection.connect({ address: o.address, ...(o.tls ? { tls: true } : {}), ...(t.apiKey ? { apiKey: t.apiKey, metadata: o.metadata } : {}) });
}

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
const TYPE_BY_NAME: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * Registers the loan search attributes on a cluster that lacks them (the dev server gets them as
 * start flags). Safe to call at every start. Temporal Cloud registers attributes through its own
 * control plane: there a refusal is reported, not fatal.
 */
export async function ensureSearchAttributes(conn: Connection, namespace: string): Promise<string[]> {
  let have = new Set<string>();
  try {
    const existing = await conn.operatorService.listSearchAttributes({ namespace });
    have = new Set(Object.keys(existing.customAttributes ?? {}));
  } catch (err) {
    // The time-skipping test server can add search attributes but not list them.
    if ((err as { code?: number }).code !== 12 /* UNIMPLEMENTED */) throw err;
  }
  const missing = LOAN_SEARCH_ATTRIBUTES.filter((k) => !have.has(k.name));
  if (missing.length === 0) return [];
  await conn.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, TYPE_BY_NAME[k.type]!])),
  });
  return missing.map((k) => k.name);
}

/**
 * The one data converter of every client and worker of a deployment: payloads encrypted by the
 * codec, and failure messages and stack traces moved into the (encrypted) attributes as well, so
 * nothing a history holds is readable without the key.
 */
export function dataConverterFromConfig(cfg: Parameters<typeof codecFromConfig>[0]): DataConverter {
  return {
    payloadCodecs: [codecFromConfig(cfg)],
    failureConverterPath: require.resolve('./failureConverter'),
  };
}
