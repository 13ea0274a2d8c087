import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporalCli } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/devServer';
import { LOAN_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';
import { PATIENCE_MS } from '../helpers/wait';

/**
 * `npm run worker` as docker compose runs it (N of them beside the API): against a fresh cluster
 * that has never seen the loan search attributes, it registers them, polls, serves the SDK's
 * metrics on WORKER_METRICS_PORT, writes JSON logs only, and drains and exits 0 on SIGTERM.
 */
describe('npm run worker against a fresh cluster', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-worker-'));
  let env: TestWorkflowEnvironment;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // A dev server without the loan search attributes, as a new Temporal cluster starts.
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalCli(), ip: '127.0.0.1', log: { format: 'pretty', level: 'error' } } });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await env?.teardown();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers the search attributes, polls, serves metrics and drains on SIGTERM', async () => {
    const before = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(before.customAttributes ?? {})).not.toContain('LoanStage');

    const metricsPort = await freePort();
    child = spawn(path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'), ['src/cli/worker.ts'], {
      cwd: path.join(__dirname, '..', '..'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        TEMPORAL_ADDRESS: env.address,
        DATA_DIR: dataDir,
        WORKER_METRICS_PORT: String(metricsPort),
        SANDBOX_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
        ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
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
});
