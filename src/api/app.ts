import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { DbHandle } from '../db/client';

export interface AppDeps {
  db: DbHandle;
  temporal: Client;
  taskQueue: string;
}

const POLLER_FRESH_MS = 90_000;

/** Is some worker polling the task queue? Temporal reports pollers seen in the last minutes. */
export async function workerIsPolling(client: Client, taskQueue: string): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const now = Date.now();
  return (res.pollers ?? []).some((p) => {
    const seconds = Number(p.lastAccessTime?.seconds ?? 0);
    return seconds > 0 && now - seconds * 1000 < POLLER_FRESH_MS;
  });
}

async function check(name: string, fn: () => Promise<boolean | void>): Promise<[string, string]> {
  try {
    const ok = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref()),
    ]);
    return [name, ok === false ? 'failing' : 'ok'];
  } catch {
    return [name, 'failing'];
  }
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks = Object.fromEntries(
      await Promise.all([
        check('database', () => deps.db.ping()),
        check('temporal', async () => {
          await deps.temporal.workflowService.getSystemInfo({});
        }),
        check('worker', () => workerIsPolling(deps.temporal, deps.taskQueue)),
      ]),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });

  return app;
}
