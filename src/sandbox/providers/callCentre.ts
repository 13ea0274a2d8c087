import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { bodyHash, MOBILE_RE, maskPhone, newId, parseBody, refuse, replayIdempotent } from '../http';
import type { CallTask } from '../store';
import { CALL_CENTRE_NOT_CALLABLE_PHONE } from '../test-values';

/**
 * Call centre: the lender opens an outbound call task (a verifier phones the applicant); the task
 * can be read and cancelled. The same idempotency key is the same task. Completing a task is the
 * call centre's own business; the sandbox exposes it as a test hook.
 */
const createSchema = z.object({
  applicationId: z.string().min(1).max(128),
  idempotencyKey: z.string().min(1).max(255),
  phone: z.string().min(1).max(32),
  script: z.string().min(1).max(64),
  priority: z.enum(['normal', 'high']).default('normal'),
});
const cancelSchema = z.object({ reason: z.string().max(200).optional() });
const completeSchema = z.object({
  outcome: z.enum(['passed', 'failed', 'unreachable']),
  recordingRef: z.string().max(128).optional(),
});

export function viewTask(t: CallTask) {
  const { phone, idempotencyKey: _key, ...rest } = t;
  return { ...rest, phoneMasked: maskPhone(phone) };
}

function findTask(ctx: SandboxContext, id: string | string[] | undefined): CallTask | undefined {
  return typeof id === 'string' ? ctx.store.tasks.get(id) : undefined;
}

export function callCentreRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/tasks', (req, res) => {
    const body = parseBody(createSchema, req, res);
    if (!body) return;
    const hash = bodyHash(body);
    const render = (id: string) => viewTask(ctx.store.tasks.get(id)!);
    if (replayIdempotent(ctx.store, 'callCentre', body.idempotencyKey, hash, res, render)) return;
    if (!MOBILE_RE.test(body.phone)) {
      refuse(res, 422, 'invalid_phone_number', 'the phone number is not an 11-digit mainland mobile number');
      return;
    }
    if (body.phone === CALL_CENTRE_NOT_CALLABLE_PHONE) {
      refuse(res, 422, 'number_not_callable', 'the number is on the do-not-call list');
      return;
    }
    const now = ctx.now().toISOString();
    const task: CallTask = {
      taskId: newId('task'),
      applicationId: body.applicationId,
      idempotencyKey: body.idempotencyKey,
      phone: body.phone,
      script: body.script,
      priority: body.priority,
      status: 'queued',
      outcome: null,
      recordingRef: null,
      cancelReason: null,
      createdAt: now,
      updatedAt: now,
    };
    ctx.store.putTask(task);
    ctx.store.putIdempotency({
      scope: 'callCentre',
      key: body.idempotencyKey,
      bodyHash: hash,
      status: 201,
      entityId: task.taskId,
      body: null,
      createdAt: now,
    });
    ctx.logger.info({ taskId: task.taskId, applicationId: task.applicationId }, 'call centre: task created');
    res.status(201).json(viewTask(task));
  });

  router.get('/v1/tasks/:taskId', (req, res) => {
    const task = findTask(ctx, req.params.taskId);
    if (!task) return refuse(res, 404, 'task_not_found', 'no call task with this id');
    res.json(viewTask(task));
  });

  router.post('/v1/tasks/:taskId/cancel', (req, res) => {
    const body = parseBody(cancelSchema, req, res);
    if (!body) return;
    const task = findTask(ctx, req.params.taskId);
    if (!task) return refuse(res, 404, 'task_not_found', 'no call task with this id');
    if (task.status === 'completed') {
      return refuse(res, 409, 'task_already_completed', 'the call has already been made and recorded');
    }
    if (task.status === 'queued') {
      task.status = 'cancelled';
      task.cancelReason = body.reason ?? null;
      task.updatedAt = ctx.now().toISOString();
      ctx.store.putTask(task);
      ctx.logger.info({ taskId: task.taskId }, 'call centre: task cancelled');
    }
    res.json(viewTask(task));
  });

  return router;
}

/** Test hooks (never faulted): list tasks, complete one as a verifier would. */
export function callCentreHooks(ctx: SandboxContext): Router {
  const router = Router();

  router.get('/v1/tasks', (req, res) => {
    const applicationId = typeof req.query.applicationId === 'string' ? req.query.applicationId : undefined;
    const tasks = [...ctx.store.tasks.values()].filter((t) => !applicationId || t.applicationId === applicationId);
    res.json({ tasks: tasks.map(viewTask) });
  });

  router.post('/v1/tasks/:taskId/complete', (req, res) => {
    const body = parseBody(completeSchema, req, res);
    if (!body) return;
    const task = findTask(ctx, req.params.taskId);
    if (!task) return refuse(res, 404, 'task_not_found', 'no call task with this id');
    if (task.status === 'cancelled') return refuse(res, 409, 'task_cancelled', 'the task was cancelled');
    if (task.status === 'queued') {
      task.status = 'completed';
      task.outcome = body.outcome;
      task.recordingRef = body.recordingRef ?? `rec_${task.taskId.slice(5)}`;
      task.updatedAt = ctx.now().toISOString();
      ctx.store.putTask(task);
      ctx.logger.info({ taskId: task.taskId, outcome: task.outcome }, 'call centre: task completed');
    }
    res.json(viewTask(task));
  });

  return router;
}
