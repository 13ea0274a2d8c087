import {
  isGrpcServiceError,
  ServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
import { FailureType, refusalDetails } from '../contracts/failures';
import { isStage, type Stage } from '../domain';
import { startLoanApplication } from '../temporal/startLoanApplication';
import { collateralRegisteredLateSignal, servicingStateQuery, type CollateralRegisteredLate } from '../workflows/servicingMessages';
import {
  collateralRegisteredUpdate,
  loanServicingWorkflowId,
  stateQuery,
  type ActRefusal,
  type LoanApplicationInput,
  type LoanState,
} from '../workflows/messages';
import { ProblemError } from './problem';

/**
 * The API's only door to Temporal: start an application's workflow (idempotent by its id), read
 * its live state, and apply a human act through the act's update so the answer (applied, refused
 * and why) comes from the workflow's own validator, with no race against its state.
 */
export interface LoanWorkflowsOptions {
  taskQueue: string;
  /** How long a state query may take before the API answers from the stored mirror. */
  queryTimeoutMs?: number;
  /** How long to wait for an accepted act's handler to finish before answering 202. */
  actResultWaitMs?: number;
  /** How long to wait for the workflow to accept or refuse an act before answering 503. */
  actAcceptTimeoutMs?: number;
  /** How long a create waits for Temporal to start the workflow before answering 503 (APPLICATION_START_TIMEOUT_MS). */
  startTimeoutMs?: number;
}

export type ActOutcome =
  /** The handler ran: the state after the act. */
  | { kind: 'applied'; state: LoanState }
  /** The same act (same actId) had already been applied. */
  | { kind: 'already_applied'; state: LoanState | null }
  /** Accepted by the validator, the handler is still running. */
  | { kind: 'accepted'; state: LoanState | null };

export class LoanWorkflows {
  private readonly queryTimeoutMs: number;
  private readonly actResultWaitMs: number;
  private readonly actAcceptTimeoutMs: number;
  private readonly startTimeoutMs: number;

  constructor(
    private readonly client: Client,
    private readonly opts: LoanWorkflowsOptions,
  ) {
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 5_000;
    this.actResultWaitMs = opts.actResultWaitMs ?? 10_000;
    this.actAcceptTimeoutMs = opts.actAcceptTimeoutMs ?? 20_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  }

  handle(workflowId: string): WorkflowHandle {
    return this.client.workflow.getHandle(workflowId);
  }

  /**
   * Starts the workflow once (a retried create finds the run it started; a finished application is
   * never started again), within the start deadline: a Temporal that does not answer is a 503 with
   * Retry-After, and the application still gets its workflow from a retry with the same
   * Idempotency-Key or from the reconciler.
   */
  async start(input: LoanApplicationInput): Promise<void> {
    try {
      await startLoanApplication(this.client, input, { taskQueue: this.opts.taskQueue, timeoutMs: this.startTimeoutMs });
    } catch (err) {
      throw asUnavailable(err);
    }
  }

  /** The workflow's `state`, or null when it cannot answer in time (no worker, no such run). */
  async state(workflowId: string): Promise<LoanState | null> {
    try {
      return await this.client.connection.withDeadline(Date.now() + this.queryTimeoutMs, () => this.handle(workflowId).query(stateQuery));
    } catch {
      return null;
    }
  }

  /**
   * Sends one act through its update. The update id is the act id, so a retried request reaches
   * the same update instead of applying the act twice. Refusals become problems: NOT_WAITING 409
   * (with the stage), SUBMITTER_CANNOT_APPROVE 403, ALREADY_APPROVED_BY_THIS_APPROVER 409,
   * INVALID_ACT 422.
   */
  async act<A>(workflowId: string, update: UpdateDefinition<LoanState, [A]>, arg: A, actId: string): Promise<ActOutcome> {
    const handle = this.handle(workflowId);
    let updateHandle;
    try {
      updateHandle = await this.client.connection.withDeadline(Date.now() + this.actAcceptTimeoutMs, () =>
        handle.startUpdate(update, { args: [arg], updateId: actId, waitForStage: WorkflowUpdateStage.ACCEPTED }),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError && update.name === collateralRegisteredUpdate.name) {
        const forwarded = await this.collateralToServicing(workflowId, arg);
        if (forwarded) return forwarded;
      }
      return this.failed(workflowId, err);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.actResultWaitMs);
    });
    try {
      const result = await Promise.race([updateHandle.result(), timeout]);
      if (result === 'timeout') return { kind: 'accepted', state: await this.state(workflowId) };
      return { kind: 'applied', state: result };
    } catch (err) {
      return this.failed(workflowId, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A collateral registration for an application whose run has ended by handing its loan to
   * servicing (patch hand-over-to-servicing): the loan's servicing run tracks the registration
   * still owed, so the act goes there, whole, with the proof the API signed for the application
   * (which that run checks, as it checks the acts older application runs forward). Null when the
   * run ended otherwise, or the registration is no longer owed.
   */
  private async collateralToServicing(workflowId: string, arg: unknown): Promise<ActOutcome | null> {
    const state = await this.state(workflowId);
    if (!state || state.stage !== 'servicing' || !state.loanId || state.collateralRegistered) return null;
    const servicing = this.handle(loanServicingWorkflowId(state.loanId));
    try {
      const owed = await this.client.connection.withDeadline(Date.now() + this.queryTimeoutMs, () => servicing.query(servicingStateQuery));
      if (!owed.collateralRegistrationOutstanding) return null;
      await servicing.signal(collateralRegisteredLateSignal, arg as CollateralRegisteredLate);
    } catch (err) {
      throw asUnavailable(err);
    }
    return { kind: 'accepted', state };
  }

  private async failed(workflowId: string, err: unknown): Promise<ActOutcome> {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalDetails<ActRefusal>(err, FailureType.ActRefused);
      if (refusal) {
        if (refusal.code === 'ALREADY_APPLIED') return { kind: 'already_applied', state: await this.state(workflowId) };
        throw refusalProblem(refusal as ActRefusal);
      }
      throw new ProblemError('internal', 'The workflow could not apply this action');
    }
    if (err instanceof WorkflowNotFoundError) {
      // Not running: either it has finished (its stage says where) or it never existed.
      const state = await this.state(workflowId);
      if (state) throw notWaiting(state.stage, `The application is ${state.stage}; nothing more can be done to it`);
      throw new ProblemError('not_found', 'No workflow runs for this application');
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new ProblemError('unavailable', 'The workflow did not answer in time; retry with the same Idempotency-Key', {}, { 'Retry-After': '5' });
    }
    throw asUnavailable(err);
  }
}

/** Temporal itself not answering (or refusing for now) is an outage to retry, not a bug: 503. */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof ServiceError || isGrpcServiceError(err)) {
    return new ProblemError('unavailable', 'Temporal did not accept the request; retry with the same Idempotency-Key', {}, { 'Retry-After': '5' });
  }
  return err;
}

export function notWaiting(stage: Stage, detail: string): ProblemError {
  return new ProblemError('not_waiting', detail, { code: 'NOT_WAITING', stage });
}

export function refusalProblem(refusal: ActRefusal | undefined): ProblemError {
  const stage = refusal && isStage(refusal.stage) ? refusal.stage : undefined;
  const ext = { code: refusal?.code ?? 'UNKNOWN', ...(stage ? { stage } : {}) };
  const message = refusal?.message;
  switch (refusal?.code) {
    case 'NOT_WAITING':
      return new ProblemError('not_waiting', message ?? `The application is in ${stage ?? 'another stage'} and is not waiting for this`, ext);
    case 'SUBMITTER_CANNOT_APPROVE':
      return new ProblemError('four_eyes', message ?? 'Nobody approves an application they submitted', ext);
    case 'ALREADY_APPROVED_BY_THIS_APPROVER':
      return new ProblemError('already_approved', message ?? 'A second approval must come from another approver', ext);
    case 'INVALID_ACT':
      return new ProblemError('invalid_act', message ?? 'The workflow refused this action', ext);
    case 'NOT_AUTHENTICATED':
      // The API's own proof refused: late (a worker outage, a clock off) or keys out of step. Signed anew on retry.
      return new ProblemError('unavailable', `The workflow did not accept the API's signature on this act: ${message ?? 'not authenticated'}; retry with the same Idempotency-Key`, ext, { 'Retry-After': '5' });
    default:
      return new ProblemError('internal', 'The workflow refused this action for an unknown reason', ext);
  }
}
