import { randomInt } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../../src/api/app';
import { mintDevToken } from '../../../src/api/auth';
import { listen, type ApiServer } from '../../../src/api/lifecycle';
import { loadConfig, type Config } from '../../../src/config';
import type { DbHandle } from '../../../src/db/client';
import { keyRingFromConfig, PiiCipher } from '../../../src/db/pii';
import { residentIdCheckChar } from '../../../src/domain';
import { createLogger } from '../../../src/logger';
import { startSandbox, type RunningSandbox } from '../../../src/sandbox';
import { activityDepsFromConfig, createWorker } from '../../../src/worker';
import type { StaffRole } from '../../../src/workflows/messages';
import { createTestDb } from '../../helpers/db';
import { localEnv, workflowBundle } from '../../helpers/temporal';
import { PATIENCE_MS } from '../../helpers/wait';

/**
 * The API as it runs in production, for supertest: a real Temporal dev server with a real worker
 * running the real workflows and activities, a real database (PGlite or PostgreSQL), the provider
 * sandbox over HTTP, and the app listening on a free port so the sandbox's e-signature webhook can
 * call it back. Nothing is mocked.
 */
export interface ApiHarness {
  env: TestWorkflowEnvironment;
  db: DbHandle;
  sandbox: RunningSandbox;
  worker: Worker | undefined;
  config: Config;
  cipher: PiiCipher;
  app: Express;
  server: ApiServer;
  url: string;
  /** supertest bound to the running server. */
  http: ReturnType<typeof request>;
  token(sub: string, ...roles: StaffRole[]): Promise<string>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Start no worker (for tests of what the API does when the workflow cannot answer). */
  noWorker?: boolean;
  env?: Record<string, string>;
  /** Told every statement sent to the database (the API's and the worker's): see openDb. */
  onQuery?: (query: string) => void;
  /**
   * How long an act's answer waits for the workflow's reaction before answering 202 (default: minutes).
   * Shorter only where the test holds the workflow's step itself, so no reaction can come in time.
   */
  actResultWaitMs?: number;
}

export async function startApiHarness(opts: HarnessOptions = {}): Promise<ApiHarness> {
  // Started together; if one fails, the others are stopped before the failure is thrown, so a
  // suite whose beforeAll failed does not keep jest waiting on a database or a sandbox for ever.
  const [envStart, dbStart, sandboxStart] = await Promise.allSettled([
    localEnv(),
    createTestDb(opts.onQuery ? { onQuery: opts.onQuery } : {}),
    startSandbox({ port: 0, esignWebhookRetryDelaysMs: [200, 500, 1000, 2000] }),
  ]);
  if (envStart.status === 'rejected' || dbStart.status === 'rejected' || sandboxStart.status === 'rejected') {
    await Promise.allSettled([
      envStart.status === 'fulfilled' ? envStart.value.teardown() : undefined,
      dbStart.status === 'fulfilled' ? dbStart.value.close() : undefined,
      sandboxStart.status === 'fulfilled' ? sandboxStart.value.close() : undefined,
    ]);
    throw [envStart, dbStart, sandboxStart].find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
  }
  const [env, db, sandbox] = [envStart.value, dbStart.value, sandboxStart.value];
  const config = loadConfig({ LOG_LEVEL: 'silent', SANDBOX_PORT: String(sandbox.port), TEMPORAL_TASK_QUEUE: 'car-loans', ...opts.env });
  const cipher = new PiiCipher(keyRingFromConfig(config));
  const log = createLogger(process.env.API_TEST_LOG_LEVEL ?? 'silent');

  const worker = opts.noWorker
    ? undefined
    : await createWorker({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        deps: activityDepsFromConfig(config, db.db, env.client),
        workflowBundle: await workflowBundle(),
      });
  const running = worker ? worker.run() : Promise.resolve();

  const app = createApp({
    db,
    temporal: env.client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    config,
    cipher,
    log,
    // Minutes where a worker answers, so a busy machine never turns a 200 into a 202, a live read
    // into the stored mirror or an act into a 503. Without a worker no query can ever be answered:
    // the 3 s only decides how long each read waits before the mirror (deterministic either way).
    workflowTimeouts: { queryTimeoutMs: opts.noWorker ? 3_000 : PATIENCE_MS, actAcceptTimeoutMs: PATIENCE_MS, actResultWaitMs: opts.actResultWaitMs ?? PATIENCE_MS },
  });
  const server = await listen(app, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${server.port}`;
  sandbox.setEsignWebhook(`${url}/webhooks/esign`, config.ESIGN_WEBHOOK_SECRET);

  return {
    env,
    db,
    sandbox,
    worker,
    config,
    cipher,
    app,
    server,
    url,
    http: request(url),
    token: (sub, ...roles) => mintDevToken(config, { sub, roles }),
    async stop() {
      await server.close(10_000);
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await sandbox.close();
      await env.teardown();
      await db.close();
    },
  };
}

// ------------------------------------------------------------------------------------------
// Test data: every application needs its own applicant, or intake's duplicate screen declines it.

/** A valid GB 11643 resident ID number nobody else in this run has. */
export function freshIdNumber(): string {
  const year = 1970 + randomInt(0, 30);
  const month = String(1 + randomInt(0, 12)).padStart(2, '0');
  const day = String(1 + randomInt(0, 28)).padStart(2, '0');
  const seq = String(randomInt(100, 999));
  const first17 = `110105${year}${month}${day}${seq}`;
  return `${first17}${residentIdCheckChar(first17)}`;
}

export function freshPhone(): string {
  return `139${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
}

const sha = (seed: string) => Buffer.from(seed.padEnd(32, '0').slice(0, 32)).toString('hex');

export function documentsFor(condition: 'new' | 'used', tag = String(randomInt(0, 1e9))) {
  const types = ['id_card', 'driver_license', 'income_proof', condition === 'new' ? 'purchase_contract' : 'vehicle_registration'];
  return types.map((type) => ({ type, uri: `s3://docs/${tag}/${type}.jpg`, sha256: sha(`${tag}${type}`) }));
}

export interface ApplicationOverrides {
  amountFen?: number;
  condition?: 'new' | 'used';
  channel?: 'branch' | 'door_to_door' | 'online' | 'dealer';
  withDocuments?: boolean;
  vin?: string;
  name?: string;
  idNumber?: string;
  phone?: string;
}

/** A body the API accepts and the sandbox answers favourably (a happy path needs no setup). */
export function applicationBody(o: ApplicationOverrides = {}) {
  const condition = o.condition ?? 'new';
  const channel = o.channel ?? 'branch';
  return {
    channel,
    branchId: 'BJ-001',
    ...(channel === 'dealer' ? { dealerId: 'D-100' } : {}),
    applicant: { name: o.name ?? '张三', idNumber: o.idNumber ?? freshIdNumber(), phone: o.phone ?? freshPhone(), monthlyIncomeFen: 3_000_000 },
    vehicle: {
      vin: o.vin ?? 'LFV2A21K2A3010006',
      make: 'BYD',
      model: 'Han',
      year: condition === 'new' ? 2025 : 2021,
      condition,
      energy: 'new_energy',
      usage: 'personal',
      priceFen: 30_000_000,
      mileageKm: condition === 'new' ? 0 : 40_000,
      ...(condition === 'used' ? { firstRegistrationDate: '2021-05-01' } : {}),
    },
    loan: { amountFen: o.amountFen ?? 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment' },
    ...(o.withDocuments === false ? {} : { documents: documentsFor(condition) }),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface StateBody {
  id: string;
  stage: string;
  pendingTask: { kind: string; role: string; approvedBy?: string[]; approvalsNeeded?: number } | null;
  decisions: { actor: string; decision: string; counted: boolean }[];
  loanId: string | null;
  live: boolean;
  [k: string]: unknown;
}

/** Polls GET /applications/:id until `until` holds (the workflow moves on its own between acts). */
export async function waitForState(
  h: ApiHarness,
  id: string,
  until: (s: StateBody) => boolean,
  { timeoutMs = PATIENCE_MS, token }: { timeoutMs?: number; token?: string } = {},
): Promise<StateBody> {
  const auth = token ?? (await h.token('watcher-1', 'admin'));
  const deadline = Date.now() + timeoutMs;
  let last: StateBody | undefined;
  for (;;) {
    const res = await h.http.get(`/applications/${id}`).set('Authorization', `Bearer ${auth}`);
    if (res.status === 200) {
      last = res.body as StateBody;
      if (until(last)) return last;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting on ${id}: last stage ${last?.stage}, pending ${JSON.stringify(last?.pendingTask)}, flags ${JSON.stringify(last?.flags)}`);
    }
    await sleep(250);
  }
}

export const waitForTask = (h: ApiHarness, id: string, kind: string) =>
  waitForState(h, id, (s) => s.pendingTask?.kind === kind || ['rejected', 'withdrawn', 'expired', 'failed', 'closed'].includes(s.stage)).then((s) => {
    if (s.pendingTask?.kind !== kind) throw new Error(`${id} ended ${s.stage} (${JSON.stringify(s.flags)}) instead of waiting for ${kind}`);
    return s;
  });
