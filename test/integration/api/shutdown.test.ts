import request from 'supertest';
import { createWorker, activityDepsFromConfig } from '../../../src/worker';
import { workflowBundle } from '../../helpers/temporal';
import { applicationBody, sleep, startApiHarness, type ApiHarness } from './harness';

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

  // The withdrawal waits for a worker inside the API.
  const inFlight = h.http.post(`/applications/${id}/withdraw`).set('Authorization', officer).send({ reason: 'test' }).then((r) => r);
  await sleep(500);
  let closed = false;
  const closing = h.server.close(60_000).then(() => {
    closed = true;
  });
  await sleep(200);

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
