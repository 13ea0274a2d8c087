/**
 * Which build a run of each workflow type executes on (Worker Versioning; the release procedure is
 * in docs/architecture.md):
 *
 * - `loanApplication` is PINNED: a run finishes on the build it started on, so a new build may
 *   change the application's steps and waits without a patch for the runs in flight (they keep
 *   the old build's workers until they end). Runs still open when the old build retires (those in
 *   `servicing`, which wait years for their loan) are moved onto the new one by the operator, and
 *   replay there: CI replays every release's histories against the new code to make that safe.
 * - `loanServicing` is AUTO_UPGRADE: a loan lives for years, so its run moves to the current build
 *   at its next task; a change to what a running servicing run does goes behind `patched()`. It
 *   continues as new every few instalments, and a new run starts on the current build with no
 *   history to replay, so a patch can be retired once every run has continued as new past it.
 * - `repaymentReminders` and `reconcileApplications` are PINNED: each run takes minutes and the
 *   Schedule starts a fresh one every time.
 */
import { setWorkflowOptions, workflowInfo, type Workflow } from '@temporalio/workflow';
import type { VersioningBehavior } from '@temporalio/common';

export const VERSIONING_BEHAVIOURS = {
  loanApplication: 'PINNED',
  loanServicing: 'AUTO_UPGRADE',
  repaymentReminders: 'PINNED',
  reconcileApplications: 'PINNED',
} as const satisfies Record<string, VersioningBehavior>;

export type VersionedWorkflowType = keyof typeof VERSIONING_BEHAVIOURS;

/**
 * Declares each type's behaviour on its workflow function. Only a worker of a deployment may
 * report one (an unversioned worker's task completion carrying it is refused by the server), so
 * the behaviour is given only when the task runs on a deployment version.
 */
export function declareVersioningBehaviours(workflows: Record<VersionedWorkflowType, Workflow>): void {
  for (const [type, fn] of Object.entries(workflows) as [VersionedWorkflowType, Workflow][]) {
    setWorkflowOptions(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: VERSIONING_BEHAVIOURS[type] } : {}), fn);
  }
}
