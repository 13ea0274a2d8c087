import fs from 'node:fs';
import path from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql, type SQLWrapper } from 'drizzle-orm';
import * as schema from './schema';

export type Schema = typeof schema;
/** The drizzle database the rest of the code sees, whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface DbHandle {
  db: Db;
  driver: 'postgres' | 'pglite';
  /** Round-trip to the database; throws when it does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const MIGRATIONS_FOLDER = path.join(__dirname, 'migrations');
/** pg_advisory_lock key that serialises migrations across processes ("carloan" in hex digits, roughly). */
const MIGRATION_LOCK_KEY = 0x0ca7_10a2;

export interface OpenDbOptions {
  /** postgres:// URL of a server; when absent an embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** Folder for PGlite's files; when absent PGlite is in memory. */
  dataDir?: string | undefined;
  /** Apply the generated migrations (default true). */
  migrate?: boolean;
  /** postgres.js pool size. */
  maxConnections?: number;
  /**
   * Told every statement sent, as it is sent (drizzle's query logger, on either driver; a
   * transaction's BEGIN and COMMIT are not statements of drizzle's and are not told): for tests
   * that count round trips.
   */
  onQuery?: (query: string) => void;
}

function queryLogger(opts: OpenDbOptions) {
  const onQuery = opts.onQuery;
  return onQuery ? { logger: { logQuery: (query: string) => onQuery(query) } } : {};
}

/** The one database factory: postgres.js when a URL is given, PGlite otherwise. Migrates at open. */
export async function openDb(opts: OpenDbOptions): Promise<DbHandle> {
  const migrate = opts.migrate ?? true;
  if (opts.databaseUrl) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const sql = postgres(opts.databaseUrl, {
      max: opts.maxConnections ?? 10,
      onnotice: () => undefined,
      connection: { application_name: 'car-loans' },
    });
    const db = drizzle(sql, { schema, ...queryLogger(opts) });
    if (migrate) {
      const { migrate: run } = await import('drizzle-orm/postgres-js/migrator');
      // The API and N workers start together on one database (docker compose): one migrates while
      // the others wait on a session lock of their own connection, then find nothing left to do.
      const lock = postgres(opts.databaseUrl, { max: 1, onnotice: () => undefined, connection: { application_name: 'car-loans-migrate' } });
      try {
        await lock`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
        await run(db, { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        // Closing the session releases the lock, whatever happened.
        await lock.end({ timeout: 5 });
      }
    }
    return {
      db: db as unknown as Db,
      driver: 'postgres',
      ping: async () => {
        await sql`select 1`;
      },
      close: () => sql.end({ timeout: 5 }),
    };
  }

  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  if (opts.dataDir) fs.mkdirSync(opts.dataDir, { recursive: true });
  const client = opts.dataDir ? new PGlite(opts.dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzle(client, { schema, ...queryLogger(opts) });
  if (migrate) {
    const { migrate: run } = await import('drizzle-orm/pglite/migrator');
    await run(db, { migrationsFolder: MIGRATIONS_FOLDER });
  }
  return {
    db: db as unknown as Db,
    driver: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    close: () => client.close(),
  };
}

/**
 * Several writes as one statement (each a data-modifying CTE): one round trip instead of a
 * transaction's BEGIN, one per write and COMMIT, and just as atomic: a statement commits whole or
 * not at all. Foreign keys are checked at the statement's end, so the writes may come in any order.
 * Write them with ON CONFLICT DO NOTHING on deterministic keys and a retry finds them done.
 */
export async function writeTogether(db: Db, writes: readonly SQLWrapper[]): Promise<void> {
  if (writes.length === 0) return;
  const ctes = sql.join(
    writes.map((w, i) => sql`${sql.identifier(`w${i}`)} as (${w.getSQL()})`),
    sql`, `,
  );
  await db.execute(sql`with ${ctes} select 1`);
}

/** The rows of a raw `db.execute`: postgres.js answers them as an array, PGlite as `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : ((result as { rows?: T[] }).rows ?? [])) as T[];
}
