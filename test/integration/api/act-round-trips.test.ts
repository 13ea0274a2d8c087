import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { and, eq } from 'drizzle-orm';
import request from 'supertest';
import { documents, idempotencyKeys, loanEvents, taskClaims } from '../../../src/db/schema';
import type { StaffRole } from '../../../src/workflows/messages';
import { applicationBody, documentsFor, startApiHarness, waitForTask, type ApiHarness } from './harness';

/**
 * Round trips to the database of an act (issue 17 item 4), counted on the real connection: every
 * statement the API sends (openDb's `onQuery`, drizzle's query logger on either driver) is recorded
 * against the request that sent it (AsyncLocalStorage around the app), so the worker's statements
 * running at the same time are not counted. An act is two statements whatever its outcome: the
 * first reads the application and the claim on its task with the Idempotency-Key's claim; the last
 * writes the audit row with the claim it ends and the key's answer (or release).
 */

const statementsOf = new AsyncLocalStorage<string[]>();
let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ onQuery: (query) => statementsOf.getStore()?.push(query) });
});
afterAll(() => h?.stop());

const auth = async (sub: string, ...roles: StaffRole[]) => `Bearer ${await h.token(sub, ...roles)}`;

/** One request to the app, with every statement it sent the database. */
async function counted(path: string, sub: string, role: StaffRole, body: object, key?: string) {
  const statements: string[] = [];
  const app = (req: IncomingMessage, res: ServerResponse) => statementsOf.run(statements, () => h.app(req, res));
  const req = request(app).post(path).set('Authorization', await auth(sub, role));
  if (key) req.set('Idempotency-Key', key);
  const res = await req.send(body);
  return { res, statements: statements.map((s) => s.replace(/\s+/g, ' ').toLowerCase()) };
}

const PASSED = { outcome: 'passed', recordingRef: 'rec-1', checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } };

it('an act is two statements: the key, the application and the claim read together; the audit, the claim dropped and the answer written together', async () => {
  const created = await h.http.post('/applications').set('Authorization', await auth('officer-1', 'officer')).send(applicationBody());
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  await waitForTask(h, id, 'phone_verification');
  const claim = await h.http.post(`/applications/${id}/claim`).set('Authorization', await auth('verifier-1', 'verifier')).set('Idempotency-Key', `claim-${id}`).send();
  expect(claim.status).toBe(200);

  // The act, keyed, on a task the actor holds.
  const key = `verify-${id}`;
  const first = await counted(`/applications/${id}/phone-verification`, 'verifier-1', 'verifier', PASSED, key);
  expect([200, 202]).toContain(first.res.status);
  expect(first.statements).toHaveLength(2);
  const [read, write] = first.statements as [string, string];
  expect(read).toMatch(/^with "key_claim" as \(insert into "idempotency_keys"/);
  expect(read).toContain('from (select 1) as one_row left join "applications"');
  expect(read).toContain('left join "task_claims"');
  expect(write).toMatch(/insert into "loan_events"/);
  expect(write).toMatch(/delete from "task_claims"/);
  expect(write).toMatch(/update "idempotency_keys"/);
  // What the guarantees rest on is there: the audit row, the claim gone, the answer stored.
  const audit = await h.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, 'phone_verification_completed')));
  expect(audit.filter((e) => e.eventKey.startsWith('api:'))).toHaveLength(1);
  expect(await h.db.db.select().from(taskClaims).where(eq(taskClaims.applicationId, id))).toEqual([]);
  const [stored] = await h.db.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key));
  expect(stored).toMatchObject({ status: 'completed', responseStatus: first.res.status });

  // The same key again: the replay is the one statement that finds it.
  const again = await counted(`/applications/${id}/phone-verification`, 'verifier-1', 'verifier', PASSED, key);
  expect(again.res.status).toBe(first.res.status);
  expect(again.res.headers['idempotent-replayed']).toBe('true');
  expect(again.statements).toHaveLength(1);

  // Refused (the workflow is not waiting for a signature): still two, the refusal audited and the
  // key released in the second.
  const refusedKey = `sign-${id}`;
  const refused = await counted(`/applications/${id}/signature`, 'officer-1', 'officer', {}, refusedKey);
  expect(refused.res.status).toBe(409);
  expect(refused.statements).toHaveLength(2);
  expect(refused.statements[1]).toMatch(/insert into "loan_events".*delete from "idempotency_keys"/);
  const refusals = await h.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, 'act_refused')));
  expect(refusals.map((e) => (e.data as { act: string }).act)).toEqual(['contract_signed']);
  expect(await h.db.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, refusedKey))).toEqual([]);

  // Without a key: the application read, then the audit row.
  const unkeyed = await counted(`/applications/${id}/withdraw`, 'officer-1', 'officer', { reasonCode: 'CUSTOMER_CHANGED_MIND' });
  expect([200, 202]).toContain(unkeyed.res.status);
  expect(unkeyed.statements).toHaveLength(2);
  expect(unkeyed.statements[0]).toMatch(/^select .* from "applications" left join "task_claims"/);
  expect(unkeyed.statements[1]).toMatch(/insert into "loan_events"/);

  // No such application: the read finds nothing and the key taken for it is given back.
  const missing = await counted(`/applications/00000000-0000-4000-8000-000000000000/withdraw`, 'officer-1', 'officer', {}, `missing-${id}`);
  expect(missing.res.status).toBe(404);
  expect(missing.statements).toHaveLength(2);
  expect(missing.statements[1]).toMatch(/^delete from "idempotency_keys"/);
});

it('adding documents is one statement more: the rows inserted and the ones already there, read together', async () => {
  const created = await h.http.post('/applications').set('Authorization', await auth('officer-2', 'officer')).send(applicationBody({ withDocuments: false }));
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  await waitForTask(h, id, 'submit_documents');
  const docs = documentsFor('new', `rt-${id}`);
  const first = await counted(`/applications/${id}/documents`, 'officer-2', 'officer', { documents: docs }, `docs-${id}`);
  expect([200, 202]).toContain(first.res.status);
  expect(first.statements).toHaveLength(3);
  expect(first.statements[1]).toMatch(/^with "fresh" as \(insert into "documents"/);
  const stored = await h.db.db.select().from(documents).where(eq(documents.applicationId, id));
  expect(stored.map((d) => d.type).sort()).toEqual(docs.map((d) => d.type).sort());
  // The act carried exactly the ids stored, as the audit row says.
  const [audit] = (await h.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, 'documents_submitted')))).filter((e) =>
    e.eventKey.startsWith('api:'),
  );
  expect(((audit!.data as { documentIds: string[] }).documentIds).sort()).toEqual(stored.map((d) => d.id).sort());
});
