/**
 * Throwaway databases for tests and benchmarks: a new database of its own on the PostgreSQL server
 * DATABASE_URL names, dropped at the end, or an in-memory PGlite when there is none. One place
 * says how, so a test file and a benchmark get the same thing.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDb, type DbHandle, type OpenDbOptions } from './client';

export interface ThrowawayDatabase {
  /** Its connection URL (undefined: no PostgreSQL server, use an in-memory PGlite). */
  url: string | undefined;
  /** Its name on the server (what the server's backend processes show), undefined with PGlite. */
  name: string | undefined;
  drop(): Promise<void>;
}

/** Creates an empty database named `<prefix>_<random>` on DATABASE_URL's server (not migrated). */
export async function createThrowawayDatabase(prefix: string, serverUrl = process.env.DATABASE_URL): Promise<ThrowawayDatabase> {
  if (!serverUrl) return { url: undefined, name: undefined, drop: async () => undefined };
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/** A fresh, migrated database, opened with `maxConnections` (and `onQuery`); closing it drops it. */
export async function openThrowawayDb(
  prefix: string,
  maxConnections: number,
  serverUrl = process.env.DATABASE_URL,
  opts: Pick<OpenDbOptions, 'onQuery'> = {},
): Promise<DbHandle> {
  const created = await createThrowawayDatabase(prefix, serverUrl);
  if (!created.url) return openDb({ ...opts });
  const handle = await openDb({ databaseUrl: created.url, maxConnections, ...opts });
  return {
    ...handle,
    async close() {
      await handle.close();
      await created.drop();
    },
  };
}
