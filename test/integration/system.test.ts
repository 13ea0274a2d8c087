import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startSystem, type RunningSystem } from '../../src/system';
import { temporal } from '@temporalio/proto';
import { describeDeployment } from '../../src/temporal/deployments';
import { freePort } from '../../src/temporal/devServer';
import { loanApplication } from '../../src/workflows/loanApplication';
import { loanApplicationStartOptions, withdrawSignal } from '../../src/workflows/messages';
import { seedApplication } from '../helpers/seed';
import { PATIENCE_MS, sleep } from '../helpers/wait';
import { ownDatabaseEnv } from '../helpers/db';
import { signAct } from '../helpers/acts';

/**
 * What `npm start` does, on free ports of 127.0.0.1 and a temporary DATA_DIR: the dev server,
 * the database, the worker and the API come up ready; a second start on the same data carries on
 * the workflows of the first, also when it runs another build of the workflow code.
 */
describe('the whole system as npm start runs it', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-system-'));
  let system: RunningSystem | undefined;
  let env: Record<string, string>;

  let database: Awaited<ReturnType<typeof ownDatabaseEnv>> | undefined;

  beforeAll(async () => {
    database = await ownDatabaseEnv('system');
    env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      SANDBOX_PORT: String(await freePort()),
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      ...database.env,
    };
  });

  afterAll(async () => {
    await system?.stop();
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<RunningSystem> {
    const config = loadConfig(env);
    return startSystem(config, createLogger('warn'));
  }

  async function readyz(url: string): Promise<{ status: number; body: { checks: Record<string, string> } }> {
    // The worker shows up as a poller within a moment of starting.
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const res = await fetch(`${url}/readyz`);
      const body = (await res.json()) as { checks: Record<string, string> };
      if (res.status === 200 || Date.now() > deadline) return { status: res.status, body };
      await sleep(250);
    }
  }

  it('comes up ready, with the Temporal UI, and keeps workflows across a restart', async () => {
    system = await start();
    const ready = await readyz(system.apiUrl);
    expect(ready.body.checks).toEqual({ database: 'ok', temporal: 'ok', worker: 'ok' });
    expect(ready.status).toBe(200);
    expect((await fetch(`${system.apiUrl}/healthz`)).status).toBe(200);
    expect(system.temporalUiUrl).toBeDefined();
    expect((await fetch(system.temporalUiUrl!)).status).toBe(200);
    // The provider sandbox answers on its port.
    expect((await fetch(`http://127.0.0.1:${env.SANDBOX_PORT}/admin/faults`)).status).toBe(200);

    const seeded = await seedApplication(system.db.db, { applicationId: 'app-restart-1', channel: 'dealer', branchId: 'SH-002', submittedBy: 'officer-7' });
    const { workflowId } = await system.client.workflow.start(loanApplication, loanApplicationStartOptions(seeded.input, 'car-loans'));
    await system.stop();
    system = undefined;

    // Nothing answers while stopped.
    await expect(fetch(`http://127.0.0.1:${env.PORT}/healthz`)).rejects.toThrow();

    system = await start();
    expect((await readyz(system.apiUrl)).status).toBe(200);
    const handle = system.client.workflow.getHandle(workflowId);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    // Signed as the API signs (the workflow refuses an unsigned act, and records it).
    await handle.signal(withdrawSignal, await signAct('withdraw', workflowId, { actor: 'officer-7', reasonCode: 'CUSTOMER_CHANGED_MIND' }));
    expect(await handle.result()).toEqual({ stage: 'withdrawn', outcomeReason: 'CUSTOMER_CHANGED_MIND', loanId: null });

    // Engineers filter runs by the custom search attributes (visibility is eventually consistent).
    let count = 0;
    for (const deadline = Date.now() + PATIENCE_MS; count === 0 && Date.now() < deadline; ) {
      count = (await system.client.workflow.count(`LoanStage = "withdrawn" AND BranchId = "SH-002"`)).count;
      if (count === 0) await sleep(250);
    }
    expect(count).toBe(1);
  });

  it('on a new build takes over the runs the last build left open: one process, nothing else to run them', async () => {
    await system?.stop();
    env.BUILD_ID = 'system-test-a';
    system = await start();
    const seeded = await seedApplication(system.db.db, { applicationId: 'app-upgrade-1', branchId: 'SH-003', submittedBy: 'officer-7' });
    const { workflowId } = await system.client.workflow.start(loanApplication, loanApplicationStartOptions(seeded.input, 'car-loans'));
    // Its first task ran on build a, which pins it there.
    const pinnedTo = async () => (await system!.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo;
    for (let i = 0; (await pinnedTo())?.deploymentVersion?.buildId !== 'system-test-a'; i++) {
      if (i > 600) throw new Error(`not pinned to build a: ${JSON.stringify(await pinnedTo())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await pinnedTo())?.behavior).toBe(temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED);
    await system.stop();
    system = undefined;

    env.BUILD_ID = 'system-test-b';
    system = await start();
    expect(await describeDeployment(system.client, 'car-loans')).toMatchObject({ current: 'system-test-b' });
    expect((await pinnedTo())?.versioningOverride?.pinned?.version).toMatchObject({ buildId: 'system-test-b' });
    const moved = system.client.workflow.getHandle(workflowId);
    await moved.signal(withdrawSignal, await signAct('withdraw', workflowId, { actor: 'officer-7', reasonCode: 'CUSTOMER_CHANGED_MIND' }));
    expect(await moved.result()).toEqual({ stage: 'withdrawn', outcomeReason: 'CUSTOMER_CHANGED_MIND', loanId: null });
    delete env.BUILD_ID;
  });
});
