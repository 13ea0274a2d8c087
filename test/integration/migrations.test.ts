import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import postgres from 'postgres';
import { MIGRATIONS_FOLDER, openDb } from '../../src/db/client';
import { describeUnless } from '../helpers/skips';

/**
 * docker compose starts the API and N workers at once on one fresh PostgreSQL, and each migrates
 * at start: they must not trip over each other. (PGlite is one process's own database: nothing to race.)
 */
const needsPostgres = process.env.DATABASE_URL ? undefined : 'several processes migrating one database need a PostgreSQL server: set DATABASE_URL';

describeUnless(needsPostgres, 'migrations from several processes at once', () => {
  const url = process.env.DATABASE_URL as string;
  const name = `migrate_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  const dbUrl = () => {
    const u = new URL(url);
    u.pathname = `/${name}`;
    return u.toString();
  };

  beforeAll(async () => {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  });
  afterAll(async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end({ timeout: 5 });
  });

  it('one migrates, the others wait and find the schema in place; each migration is applied once', async () => {
    const handles = await Promise.all(Array.from({ length: 5 }, () => openDb({ databaseUrl: dbUrl(), maxConnections: 2 })));
    try {
      for (const h of handles) await h.ping();
      const journal = JSON.parse(fs.readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, 'utf8')) as { entries: unknown[] };
      const check = postgres(dbUrl(), { max: 1, onnotice: () => undefined });
      try {
        const applied = await check<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
        expect(applied[0]?.n).toBe(journal.entries.length);
        // Nobody is left holding the lock.
        const held = await check<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory'`;
        expect(held[0]?.n).toBe(0);
      } finally {
        await check.end({ timeout: 5 });
      }
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});
