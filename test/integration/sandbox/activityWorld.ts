import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { Activities } from '../../../src/activities';
import { createActivities } from '../../../src/activities';
import { createProviderClients } from '../../../src/activities/providers';
import type { DbHandle } from '../../../src/db/client';
import { SandboxAdminClient, startSandbox, type RunningSandbox } from '../../../src/sandbox';
import { createTestDb } from '../../helpers/db';
import { seedApplication, testCipher, type SeedOptions, type Seeded } from '../../helpers/seed';
import { localEnv } from '../../helpers/temporal';
import { providerActivity, type Provider } from './fixtures/providerActivity';

/** One activity's run as Temporal recorded it. */
export interface ActivityRun<T> {
  value: T;
  /** The attempt that succeeded (1: no retry). */
  attempts: number;
  /** What the attempt before it failed with, as Temporal stored it. */
  lastFailure: { type: string | null; message: string } | null;
}

/**
 * The real activities (createActivities, over a migrated database and the sandbox over HTTP) on a
 * real worker and a dev server, each run by a one-activity workflow under its provider's real
 * retry policy. Faults are set on the sandbox by count or rate, so how many attempts fail does not
 * depend on timing.
 */
export interface ActivityWorld {
  env: TestWorkflowEnvironment;
  h: DbHandle;
  sandbox: RunningSandbox;
  admin: SandboxAdminClient;
  seed(opts?: SeedOptions): Promise<Seeded>;
  run<K extends keyof Activities>(provider: Provider, activity: K, input: Parameters<Activities[K]>[0]): Promise<ActivityRun<Awaited<ReturnType<Activities[K]>>>>;
  close(): Promise<void>;
}

let runs = 0;

export async function startActivityWorld(): Promise<ActivityWorld> {
  const [env, h, sandbox, workflowBundle] = await Promise.all([
    localEnv(),
    createTestDb(),
    startSandbox(),
    bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/providerActivity'), logger: quiet }),
  ]);
  const taskQueue = 'provider-activities';
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle,
    activities: createActivities({ db: h.db, cipher: testCipher(), providers: createProviderClients(sandbox.providers) }),
  });
  const running = worker.run();
  return {
    env,
    h,
    sandbox,
    admin: new SandboxAdminClient(sandbox.url),
    seed: (opts) => seedApplication(h.db, opts),
    async run(provider, activity, input) {
      const handle = await env.client.workflow.start(providerActivity, {
        taskQueue,
        workflowId: `provider-activity-${++runs}-${activity}`,
        args: [provider, activity, input],
      });
      const value = (await handle.result()) as never;
      // Temporal writes one ActivityTaskStarted per activity, for its last attempt, with the attempt
      // number and the failure of the attempt before.
      const started = (await handle.fetchHistory()).events?.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : [])) ?? [];
      expect(started).toHaveLength(1);
      const { attempt, lastFailure } = started[0]!;
      return {
        value,
        attempts: attempt ?? 0,
        lastFailure: lastFailure ? { type: lastFailure.applicationFailureInfo?.type ?? null, message: lastFailure.message ?? '' } : null,
      };
    },
    async close() {
      worker.shutdown();
      await running;
      await Promise.all([sandbox.close(), h.close()]);
      await env.teardown();
    },
  };
}

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
