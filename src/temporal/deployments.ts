import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Logger } from '../logger';
import { LoanStage } from '../workflows/searchAttributes';

/**
 * The roll-out of a build of the workers (Worker Versioning, the Worker Deployment API): register,
 * make current or ramp, see what still runs on the old build, move what must move, retire it.
 * `npm run release` is the operator's door to these; `npm start` and a worker with
 * WORKER_ROLLOUT=auto call rollOutAtStart. The procedure is in docs/architecture.md.
 */
const { WorkerDeploymentVersionStatus, VersionDrainageStatus } = temporal.api.enums.v1;
const IDENTITY = 'car-loans-release';

export interface VersionSummary {
  buildId: string;
  /** inactive, current, ramping, draining or drained. */
  status: string;
  /** The server's drainage check of a version no longer current: draining or drained. */
  drainage: string | null;
}

export interface DeploymentSummary {
  deploymentName: string;
  current: string | null;
  ramping: { buildId: string; percentage: number } | null;
  versions: VersionSummary[];
}

export interface OpenRun {
  workflowId: string;
  runId: string;
  type: string;
  behaviour: string;
  stage: string | null;
}

const statusName = (s: number | null | undefined) =>
  (WorkerDeploymentVersionStatus[s ?? 0] ?? 'UNSPECIFIED').replace('WORKER_DEPLOYMENT_VERSION_STATUS_', '').toLowerCase();
const drainageName = (s: number | null | undefined) =>
  s ? (VersionDrainageStatus[s] ?? '').replace('VERSION_DRAINAGE_STATUS_', '').toLowerCase() || null : null;

/** The deployment's versions and routing, or null when no worker of it has polled yet. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentSummary | null> {
  let res;
  try {
    res = await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName });
  } catch (err) {
    if ((err as { code?: number }).code === 5 /* NOT_FOUND */) return null;
    throw err;
  }
  const info = res.workerDeploymentInfo;
  const routing = info?.routingConfig;
  const ramping = routing?.rampingDeploymentVersion?.buildId;
  return {
    deploymentName,
    current: routing?.currentDeploymentVersion?.buildId || null,
    ramping: ramping ? { buildId: ramping, percentage: routing?.rampingVersionPercentage ?? 0 } : null,
    versions: (info?.versionSummaries ?? []).map((v) => ({
      buildId: v.deploymentVersion?.buildId ?? '',
      status: statusName(v.status),
      drainage: drainageName(v.drainageInfo?.status ?? v.drainageStatus),
    })),
  };
}

/** Waits until a worker of `version` has polled, so the server knows the version (ceiling `timeoutMs`). */
export async function waitForVersion(client: Client, version: WorkerDeploymentVersion, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflowService.describeWorkerDeploymentVersion({ namespace: client.options.namespace, deploymentVersion: version });
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 5 /* NOT_FOUND */ || Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** New runs (and every auto-upgrade run's next task) go to `version`. */
export async function setCurrentVersion(client: Client, version: WorkerDeploymentVersion): Promise<void> {
  await client.workflowService.setWorkerDeploymentCurrentVersion({
    namespace: client.options.namespace,
    deploymentName: version.deploymentName,
    buildId: version.buildId,
    identity: IDENTITY,
  });
}

/** `percentage` of new runs go to `version`, the rest to the current one (0 stops the ramp). */
export async function setRampingVersion(client: Client, version: WorkerDeploymentVersion, percentage: number): Promise<void> {
  await client.workflowService.setWorkerDeploymentRampingVersion({
    namespace: client.options.namespace,
    deploymentName: version.deploymentName,
    buildId: version.buildId,
    percentage,
    identity: IDENTITY,
  });
}

/** The runs still open on `version` (pinned ones, unless `all`), with their stage; `where` narrows them (a visibility query). */
export async function openRuns(client: Client, version: WorkerDeploymentVersion, opts: { where?: string; all?: boolean } = {}): Promise<OpenRun[]> {
  const query = [
    `TemporalWorkerDeploymentVersion = '${version.deploymentName}:${version.buildId}'`,
    `ExecutionStatus = 'Running'`,
    ...(opts.all ? [] : [`TemporalWorkflowVersioningBehavior = 'Pinned'`]),
    ...(opts.where ? [`(${opts.where})`] : []),
  ].join(' AND ');
  const runs: OpenRun[] = [];
  for await (const w of client.workflow.list({ query })) {
    // A run already moved to another build stays listed under this one until its next task.
    const { versioningInfo } = (await client.workflow.getHandle(w.workflowId, w.runId).describe()).raw.workflowExecutionInfo ?? {};
    const movedTo = versioningInfo?.versioningOverride?.pinned?.version?.buildId;
    if (movedTo && movedTo !== version.buildId) continue;
    runs.push({
      workflowId: w.workflowId,
      runId: w.runId,
      type: w.type,
      behaviour: String(w.searchAttributes?.TemporalWorkflowVersioningBehavior?.[0] ?? ''),
      stage: w.typedSearchAttributes.get(LoanStage) ?? null,
    });
  }
  return runs;
}

/**
 * Moves pinned runs of `from` onto `to` (they replay their history on `to`'s code: CI replays
 * every release's histories against the new code, which is what makes this safe). Answers the runs moved.
 */
export async function moveRuns(client: Client, from: WorkerDeploymentVersion, to: WorkerDeploymentVersion, where?: string): Promise<OpenRun[]> {
  const runs = await openRuns(client, from, where === undefined ? {} : { where });
  for (const run of runs) {
    await client.workflowService.updateWorkflowExecutionOptions({
      namespace: client.options.namespace,
      workflowExecution: { workflowId: run.workflowId, runId: run.runId },
      workflowExecutionOptions: {
        versioningOverride: {
          pinned: { behavior: temporal.api.workflow.v1.VersioningOverride.PinnedOverrideBehavior.PINNED_OVERRIDE_BEHAVIOR_PINNED, version: to },
        },
      },
      updateMask: { paths: ['versioning_override'] },
      identity: IDENTITY,
    });
  }
  return runs;
}

/** Deletes a version nothing runs on any more; the server refuses while its workers still poll. */
export async function retireVersion(client: Client, version: WorkerDeploymentVersion): Promise<void> {
  const left = await openRuns(client, version);
  if (left.length > 0) throw new Error(`${left.length} pinned run(s) still open on ${version.buildId} (e.g. ${left[0]!.workflowId}): let them finish or move them first`);
  try {
    await client.workflowService.deleteWorkerDeploymentVersion({ namespace: client.options.namespace, deploymentVersion: version, skipDrainage: true, identity: IDENTITY });
  } catch (err) {
    // The server counts a stopped worker's pollers for about five minutes after it stops.
    if (/active pollers/.test((err as Error).message)) throw new Error(`workers of ${version.buildId} still poll or polled minutes ago: stop them, then retry in five minutes`);
    throw err;
  }
}

/**
 * What a worker does with its version at start. Every worker waits for the server to know its
 * version; with nothing current yet (a new cluster, or one whose workers ran unversioned) it
 * becomes current, so a first deployment needs no operator. `auto` (one process, no other build
 * to run the old runs: npm start) also makes it current over an older build and moves the pinned
 * runs of every other build of the deployment onto it. `manual` leaves that to `npm run release`.
 */
export async function rollOutAtStart(client: Client, version: WorkerDeploymentVersion, mode: 'auto' | 'manual', log: Logger): Promise<void> {
  await waitForVersion(client, version);
  const deployment = await describeDeployment(client, version.deploymentName);
  const current = deployment?.current ?? null;
  if (current === version.buildId) {
    log.info({ buildId: version.buildId }, 'worker version is current');
  } else if (current === null || mode === 'auto') {
    await setCurrentVersion(client, version);
    log.info({ buildId: version.buildId, previous: current }, 'worker version made current');
  } else {
    log.info({ buildId: version.buildId, current }, 'worker version registered; promote it with npm run release -- promote');
    return;
  }
  if (mode !== 'auto') return;
  for (const v of deployment?.versions ?? []) {
    if (v.buildId === version.buildId) continue;
    const moved = await moveRuns(client, { deploymentName: version.deploymentName, buildId: v.buildId }, version);
    if (moved.length > 0) log.info({ from: v.buildId, to: version.buildId, runs: moved.length }, 'moved the runs of an older build onto this one');
  }
}
