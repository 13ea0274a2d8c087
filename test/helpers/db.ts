import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDb, type DbHandle, type OpenDbOptions } from '../../src/db/client';

/**
 * A fresh, migrated database for one test file: a new database on the real PostgreSQL server when
 * DATABASE_URL is set (dropped afterwards), an in-memory PGlite otherwise.
 */
export async function createTestDb(opts: Pick<OpenDbOptions, 'onQuery'> = {}): Promise<DbHandle> {
  const url = process.env.DATABASE_URL;
  if (!url) return openDb({ ...opts });
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const handle = await openDb({ databaseUrl: u.toString(), maxConnections: 5, ...opts });
  return {
    ...handle,
    async close() {
      await handle.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}
