import type { DbHandle, OpenDbOptions } from '../../src/db/client';
import { openThrowawayDb } from '../../src/db/throwaway';

/**
 * A fresh, migrated database for one test file: a new database on the real PostgreSQL server when
 * DATABASE_URL is set (dropped afterwards), an in-memory PGlite otherwise.
 */
export function createTestDb(opts: Pick<OpenDbOptions, 'onQuery'> = {}): Promise<DbHandle> {
  return openThrowawayDb('test', 5, undefined, opts);
}
