import type { DbHandle, OpenDbOptions } from '../../src/db/client';
import { createThrowawayDatabase, openThrowawayDb } from '../../src/db/throwaway';

/**
 * A fresh, migrated database for one test file: a new database on the real PostgreSQL server when
 * DATABASE_URL is set (dropped afterwards), an in-memory PGlite otherwise.
 */
export function createTestDb(opts: Pick<OpenDbOptions, 'onQuery'> = {}): Promise<DbHandle> {
  return openThrowawayDb('test', 5, undefined, opts);
}

/**
 * The DATABASE_URL for a test file that starts the system (or a worker) itself: a new database of
 * its own on the DATABASE_URL server, so two files run side by side (or a second `npm test` on the
 * same server) never see each other's rows; `{}` (PGlite in DATA_DIR) without a server. Drop it
 * once what used it has stopped.
 */
export async function ownDatabaseEnv(prefix: string): Promise<{ env: { DATABASE_URL?: string }; drop(): Promise<void> }> {
  const created = await createThrowawayDatabase(prefix);
  return { env: created.url ? { DATABASE_URL: created.url } : {}, drop: () => created.drop() };
}
