import { and, eq } from 'drizzle-orm';
import request from 'supertest';
import { idempotencyKeys } from '../../../src/db/schema';
import { createWorker, activityDepsFromConfig } from '../../../src/worker';
import { workflowBundle } from '../../helpers/temporal';
import { waitFor } from '../../helpers/wait';
import { applicationBody, startApiHarness, type ApiHarness } from './harness';

// Graceful shutdown: once close() is called the API takes no new connections and reports itself
// not ready, but a request already in flight (here an action waiting for a worker to pick up its
// update) still gets its answer before the server is gone.

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ noWorker: true });
  await workflowBundle(); // bundled ahead, so the worker below starts within the API's patience
});
afterAll(() => h?.stop());

it('lets the request in flight finish, refuses new connections, and reports draining', async () => {
  const officer = `Bearer ${await h.token('officer-1', 'officer')}`;
  const created = await h.http.post('/applications').set('Authorization', officer).send(applicationBody());
  expect(created.status).toBe(201);
  const id = created.body.id as string;

  // No worker: the record is still readable, from the stored mirror, marked as not live.
  const read = await h.http.get(`/applications/${id}`).set('Authorization', officer);
  expect(read.status).toBe(200);
  expect(read.body).toMatchObject({ id, stage: 'intake', live: false, pendingTask: null });

  // The withdrawal waits for a worker inside the API: in flight once the API has claimed its key.
  const key = 'shutdown-withdraw-1';
  const inFlight = h.http.post(`/applications/${id}/withdraw`).set('Authorization', officer).set('Idempotency-Key', key).send({ reason: 'test' }).then((r) => r);
  await waitFor(async () => {
    const rows = await h.db.db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.key, key), eq(idempotencyKeys.status, 'in_progress')));
    return rows.length > 0 ? true : undefined;
  }, 'the withdrawal to reach the API');
  let closed = false;
  const closing = h.server.close(600_000).then(() => {
    closed = true;
  });

  // Draining: not ready, and no new connection is accepted.
  expect((await request(h.app).get('/readyz')).status).toBe(503);
  await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
  expect(closed).toBe(false);

  // A worker arrives; the in-flight request completes with the workflow's answer, then the server is gone.
  const worker = await createWorker({
    connection: h.env.nativeConnection,
    namespace: h.env.namespace ?? 'default',
    taskQueue: h.config.TEMPORAL_TASK_QUEUE,
    deps: activityDepsFromConfig(h.config, h.db.db),
    workflowBundle: await workflowBundle(),
  });
  const running = worker.run();
  try {
    const res = await inFlight;
    expect([200, 202]).toContain(res.status);
    expect(res.body.id).toBe(id);
    await closing;
    expect(closed).toBe(true);
  } finally {
    worker.shutdown();
    await running;
  }
});
