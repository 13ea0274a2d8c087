import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createProviderClients } from '../../src/activities/providers';
import type { DbHandle } from '../../src/db/client';
import { startSandbox, type RunningSandbox } from '../../src/sandbox';
import { describeDeployment, waitForVersion } from '../../src/temporal/deployments';
import { createWorker } from '../../src/worker';
import { loanApplication } from '../../src/workflows/loanApplication';
import { loanApplicationStartOptions } from '../../src/workflows/messages';
import { runCommand } from '../helpers/cli';
import { createTestDb } from '../helpers/db';
import { waitForTask } from '../helpers/loanWorld';
import { seedApplication, testCipher } from '../helpers/seed';
import { localEnv, workflowBundle } from '../helpers/temporal';

/**
 * `npm run release`, the operator's door to a roll-out, against a dev server with two builds'
 * workers: status shows each version and what runs on it, promote makes a build current, move
 * takes a build's pinned runs to another, retire refuses while something still runs.
 */
describe('npm run release', () => {
  let env: TestWorkflowEnvironment;
  let h: DbHandle;
  let sandbox: RunningSandbox;
  const workers: { worker: Worker; running: Promise<void> }[] = [];

  beforeAll(async () => {
    [env, h, sandbox] = await Promise.all([localEnv(), createTestDb(), startSandbox({ paymentPendingMs: 300 })]);
    for (const buildId of ['cli-a', 'cli-b']) {
      const worker = await createWorker({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue: 'car-loans',
        deps: { db: h.db, cipher: testCipher(), providers: createProviderClients(sandbox.providers) },
        workflowBundle: await workflowBundle(),
        version: { deploymentName: 'car-loans', buildId },
      });
      workers.push({ worker, running: worker.run() });
      await waitForVersion(env.client, { deploymentName: 'car-loans', buildId });
    }
  });
  afterAll(async () => {
    for (const w of workers) w.worker.shutdown();
    await Promise.all(workers.map((w) => w.running));
    await env?.teardown();
    await sandbox?.close();
    await h?.close();
  });

  const release = (args: string[]) => runCommand('src/cli/release.ts', args, { TEMPORAL_ADDRESS: env.address });

  it('promotes a build, shows what runs on it, moves its runs to the next and refuses to retire one in use', async () => {
    expect(await release(['promote', 'cli-a'])).toMatchObject({ code: 0, stderr: 'cli-a is current\n' });
    const seeded = await seedApplication(h.db);
    const handle = await env.client.workflow.start(loanApplication, loanApplicationStartOptions(seeded.input, 'car-loans'));
    await waitForTask(handle, 'phone_verification');

    // Visibility catches up with the run's version a moment after its first task.
    let status: { current: string; versions: { buildId: string; status: string; pinnedRunsOpen: number; byStage: Record<string, number> }[] } | undefined;
    for (let i = 0; (status?.versions.find((v) => v.buildId === 'cli-a')?.pinnedRunsOpen ?? 0) === 0; i++) {
      if (i > 300) throw new Error(`status never showed the run: ${JSON.stringify(status)}`);
      const res = await release(['status']);
      expect(res.code).toBe(0);
      status = JSON.parse(res.stdout);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status!.current).toBe('cli-a');
    expect(status!.versions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ buildId: 'cli-a', status: 'current', pinnedRunsOpen: 1, byStage: { 'loanApplication:phone_verification': 1 } }),
        expect.objectContaining({ buildId: 'cli-b', status: 'inactive', pinnedRunsOpen: 0 }),
      ]),
    );

    expect(await release(['promote', 'cli-b', '--ramp', '25'])).toMatchObject({ code: 0, stderr: 'cli-b ramping at 25%\n' });
    expect(await describeDeployment(env.client, 'car-loans')).toMatchObject({ current: 'cli-a', ramping: { buildId: 'cli-b', percentage: 25 } });
    expect(await release(['promote', 'cli-b'])).toMatchObject({ code: 0, stderr: 'cli-b is current\n' });

    const retire = await release(['retire', 'cli-a']);
    expect(retire.code).toBe(1);
    expect(retire.stderr).toMatch(/1 pinned run\(s\) still open on cli-a/);

    const moved = await release(['move', 'cli-a', '--where', `LoanStage = 'phone_verification'`]);
    expect(moved).toMatchObject({ code: 0, stdout: `${handle.workflowId} (loanApplication, phone_verification)\n`, stderr: 'moved 1 run(s) from cli-a to cli-b\n' });
    expect((await handle.describe()).raw.workflowExecutionInfo?.versioningInfo?.versioningOverride?.pinned?.version).toMatchObject({ buildId: 'cli-b' });
    await handle.terminate('test over');
  });

  it('answers a wrong call with its usage', async () => {
    expect(await release(['promote', 'x', '--ramp', '150'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--ramp takes a whole percentage') });
    expect(await release(['unknown'])).toMatchObject({ code: 2, stderr: expect.stringContaining('usage: release') });
  });
});
