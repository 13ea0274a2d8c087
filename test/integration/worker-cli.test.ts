import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../src/config';
import { openDb } from '../../src/db/client';
import { SandboxAdminClient, startSandbox } from '../../src/sandbox';
import { temporalCli } from '../../src/temporal/binaries';
import { startTestServer } from '../../src/temporal/ephemeral';
import { dataConverterFromConfig } from '../../src/temporal/connection';
import { describeDeployment } from '../../src/temporal/deployments';
import { freePort } from '../../src/temporal/devServer';
import { loanApplicationStartOptions } from '../../src/workflows/messages';
import { LOAN_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';
import { PATIENCE_MS } from '../helpers/wait';
import { seedApplication } from '../helpers/seed';
import { ownDatabaseEnv } from '../helpers/db';

const ROOT = path.join(__dirname, '..', '..');

/**
 * `npm run worker` as docker compose runs it (N of them beside the API): against a fresh cluster
 * that has never seen the loan search attributes, it registers them, registers its build as a
 * Worker Deployment version and (nothing being current yet) makes it current, polls, serves the
 * SDK's metrics on WORKER_METRICS_PORT, writes JSON logs only, and drains and exits 0 on SIGTERM:
 * the activity attempts it is running finish and are reported first.
 */
describe('npm run worker against a fresh cluster', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-worker-'));
  let env: TestWorkflowEnvironment;
  let child: ChildProcess | undefined;
  let database: Awaited<ReturnType<typeof ownDatabaseEnv>>;

  beforeAll(async () => {
    database = await ownDatabaseEnv('worker');
    // A dev server without the loan search attributes, as a new Temporal cluster starts.
    env = await startTestServer(() => TestWorkflowEnvironment.createLocal({ server: { executable: temporalCli(), ip: '127.0.0.1', log: { format: 'pretty', level: 'error' } } }));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await env?.teardown();
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers the search attributes and its version, polls, serves metrics and drains on SIGTERM', async () => {
    const before = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(before.customAttributes ?? {})).not.toContain('LoanStage');

    const metricsPort = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/worker.ts'], {
      cwd: path.join(__dirname, '..', '..'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        TEMPORAL_ADDRESS: env.address,
        DATA_DIR: dataDir,
        WORKER_METRICS_PORT: String(metricsPort),
        SANDBOX_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
        BUILD_ID: 'cli-test-build-1',
        ...database.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    for (const deadline = Date.now() + PATIENCE_MS; !stdout.includes('"msg":"worker polling"'); ) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start polling:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // A first version on a cluster with none current becomes current by itself.
    for (let i = 0; !stdout.includes('"msg":"worker version made current"'); i++) {
      if (child.exitCode !== null || i > 600) throw new Error(`worker did not make its version current:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await describeDeployment(env.client, 'car-loans')).toMatchObject({ current: 'cli-test-build-1', versions: [expect.objectContaining({ buildId: 'cli-test-build-1', status: 'current' })] });

    const after = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(after.customAttributes ?? {})).toEqual(expect.arrayContaining(LOAN_SEARCH_ATTRIBUTES.map((k) => k.name)));

    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^temporal_\w+\{.*task_queue="car-loans"/m);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => typeof l.level === 'number' && typeof l.msg === 'string')).toBe(true);
    expect(lines).toContainEqual(expect.objectContaining({ component: 'worker', msg: 'registered search attributes' }));
    expect(lines.at(-1)).toMatchObject({ component: 'worker', msg: 'worker stopped' });
  });

  it('SIGTERM with activities in flight: each attempt completes and is reported before the worker exits 0', async () => {
    // The application the workflow reads, stored where the worker will look (PGlite in DATA_DIR, or the file's database).
    const drainDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-drain-'));
    const store = await openDb(database.env.DATABASE_URL ? { databaseUrl: database.env.DATABASE_URL } : { dataDir: path.join(drainDir, 'pglite') });
    const seeded = await seedApplication(store.db);
    await store.close();
    // OCR answers after 12 s (under the OCR call's 20 s timeout): the attempts are surely in flight when the signal lands.
    const sandbox = await startSandbox({ port: 0 });
    const admin = new SandboxAdminClient(sandbox.url);
    await admin.setFault({ provider: 'ocr', mode: 'slow', latencyMs: 12_000, durationMs: 120_000 });
    const worker = spawn(process.execPath, ['--import', 'tsx', 'src/cli/worker.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        TEMPORAL_ADDRESS: env.address,
        DATA_DIR: drainDir,
        WORKER_METRICS_PORT: '0',
        SANDBOX_PORT: String(sandbox.port),
        LOG_LEVEL: 'debug',
        // The build the first test made current: a worker of it restarted (another build would wait to be promoted).
        BUILD_ID: 'cli-test-build-1',
        ...database.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = worker;
    let stdout = '';
    let stderr = '';
    worker.stdout!.on('data', (d) => (stdout += d));
    worker.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; !stdout.includes('"msg":"worker polling"'); i++) {
        if (worker.exitCode !== null || i > 600) throw new Error(`worker did not start polling:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // A client with the deployment's payload codec, as the API has.
      const client = new Client({ connection: env.connection, namespace: 'default', dataConverter: dataConverterFromConfig(loadConfig({})) });
      const handle = await client.workflow.start('loanApplication', loanApplicationStartOptions(seeded.input, 'car-loans'));
      const inFlight = seeded.documentIds.length;
      for (let i = 0; ((await admin.listFaults())[0]?.injected ?? 0) < inFlight; i++) {
        if (i > 600) throw new Error('the OCR calls never reached the sandbox');
        await new Promise((r) => setTimeout(r, 200));
      }

      worker.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');

      // Every OCR attempt that was running finished on this worker (no other polls this server) and
      // was reported before it exited: completed at its first attempt, nothing failed or timed out.
      const events = (await handle.fetchHistory()).events ?? [];
      const ocr = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recognizeDocument').map((e) => String(e.eventId)));
      expect(ocr.size).toBe(inFlight);
      const started = events.filter((e) => ocr.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
      expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual(Array(inFlight).fill(1));
      const completed = events.filter((e) => ocr.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)));
      expect(completed).toHaveLength(inFlight);
      expect(events.filter((e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes)).toEqual([]);
      // …and in that order: the drain began, the answers came, then the worker stopped.
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const at = (pred: (l: Record<string, unknown>) => boolean) => lines.findIndex(pred);
      const draining = at((l) => l.msg === 'draining' && l.signal === 'SIGTERM');
      const answers = lines.map((l, i) => (l.msg === 'Activity completed' && l.activityType === 'recognizeDocument' ? i : -1)).filter((i) => i >= 0);
      expect(draining).toBeGreaterThanOrEqual(0);
      expect(answers).toHaveLength(inFlight);
      expect(Math.min(...answers)).toBeGreaterThan(draining);
      expect(at((l) => l.msg === 'worker stopped')).toBeGreaterThan(Math.max(...answers));
      await handle.terminate('test over');
    } finally {
      await sandbox.close();
      fs.rmSync(drainDir, { recursive: true, force: true });
    }
  });
});
