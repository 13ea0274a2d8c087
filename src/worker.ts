import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { createProviderClients } from './activities/providers';
import type { Config } from './config';
import type { Db } from './db/client';
import { PiiCipher, keyRingFromConfig } from './db/pii';
import { workflowBundlerOptions } from './temporal/actKeys';
import type { ActKeyRing } from './workflows/actProof';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Pre-built bundle (tests share one: bundleLoanWorkflows); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The public keys of act proofs the workflows trust (actKeyRingFromConfig); needed when bundling from source. */
  actKeyRing?: ActKeyRing;
  tuning?: Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'>;
  /** The deployment's payload encryption (dataConverterFromConfig); clients must use the same. */
  dataConverter?: WorkerOptions['dataConverter'];
  /**
   * The Worker Deployment version it serves (workerVersion(config)): it then gets only the tasks
   * of runs on that version, with each workflow type's versioning behaviour (src/workflows/versioning.ts).
   * Without one it is an unversioned worker (tests).
   */
  version?: WorkerDeploymentVersion | undefined;
}

export const WORKFLOWS_PATH = require.resolve('./workflows');
/** Workflow interceptors bundled with the workflows: the stage on every workflow log line. */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('./workflows/logAttributes')];
/** Every entry point of the workflow bundle (the failure converter is loaded into it by path): what a build id hashes. */
export const WORKFLOW_BUNDLE_ROOTS = [WORKFLOWS_PATH, ...WORKFLOW_INTERCEPTOR_MODULES, require.resolve('./temporal/failureConverter')];

/**
 * Workflow runs a worker keeps in memory between tasks (the sticky cache). A waiting loan
 * application holds about 0.75 MB of the worker's resident memory, and a worker under load about
 * 600 MB besides, so the SDK's default (a share of the V8 heap limit: 2,310 runs on a 4 GiB heap)
 * took a worker to 1.3 GiB with 1,000 applications open. 300 keeps it under 1 GiB however many are
 * open; a run that is not cached is replayed from its history when it next has work (tens of ms of
 * worker CPU at the approval stage). Measured in docs/performance.md (`npm run bench -- --only open`).
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 300;

/**
 * The workflows bundled as a worker runs them: with the log interceptors and the act-proof keys
 * the workflows trust put into the code (src/temporal/actKeys.ts). Tests and benchmarks bundle
 * with this too, so their workers verify acts as production's do.
 */
export function bundleLoanWorkflows(actKeyRing: ActKeyRing, logger?: Parameters<typeof bundleWorkflowCode>[0]['logger']): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    ...workflowBundlerOptions(actKeyRing),
    ...(logger ? { logger } : {}),
  });
}

export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  if (!opts.workflowBundle && !opts.actKeyRing) throw new Error('createWorker: give the act key ring (actKeyRingFromConfig) or a bundle made with it');
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : {
          workflowsPath: WORKFLOWS_PATH,
          interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES },
          bundlerOptions: workflowBundlerOptions(opts.actKeyRing as ActKeyRing),
        }),
    activities: createActivities(opts.deps),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.version
      ? { workerDeploymentOptions: { version: opts.version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' as const } }
      : {}),
    maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
    ...opts.tuning,
  });
}

/**
 * The activities' dependencies from the configuration: the PII key ring, every provider's client,
 * and the Temporal client the reconciler starts orphaned applications with (when given).
 */
export function activityDepsFromConfig(config: Config, db: Db, temporal?: Client): ActivityDeps {
  return {
    db,
    cipher: new PiiCipher(keyRingFromConfig(config)),
    providers: createProviderClients(config.providers),
    // Production never pays an invented account: a loan without a payee account fails instead.
    sandboxPayeeFallback: config.NODE_ENV !== 'production',
    orphanAfterMs: config.ORPHAN_AFTER_MS,
    ...(temporal ? { temporal: { client: temporal, taskQueue: config.TEMPORAL_TASK_QUEUE } } : {}),
  };
}
