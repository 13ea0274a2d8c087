/**
 * One application run: the state the `state` query answers, what the main flow and the act
 * handlers share (the acts received, what the main flow waits on), and the bookkeeping every stage
 * does (move the stage, set the pending task, record loan_events, publish). The run is also the
 * view an act is judged on (decideAct's ActView): nothing is copied out of it by hand.
 */
import { log, patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { ApplicantSmsTemplate } from '../../activities/contracts';
import type { LoanEventInput } from '../../activities/loanEvents';
import type { LoanEventKind } from '../../contracts/loanEvents';
import { DEFAULT_POLICY, assertTransition, isTerminal, requiresFourEyes, withdrawable, type Stage, type TerminalStage } from '../../domain';
import { BUNDLED_ACT_KEY_RING, type ActProofVerdict, type EmergencyReasonCode } from '../actProof';
import type {
  ContractSigned,
  LoanApplicationInput,
  LoanApplicationResult,
  LoanState,
  PendingTask,
  PendingTaskKind,
  PhoneVerificationCompleted,
  StaffRole,
  Withdraw,
} from '../messages';
import * as SA from '../searchAttributes';
import { call, db, loans, localSteps, sms, type LocalSteps } from './activities';
import { authenticateAct, type ActName, type ActPayloads, type ActView } from './decideAct';
import { PATCH } from './patches';
import { Publisher } from './publish';
import { Saga } from './saga';

/** Leaves the stage pipeline for a terminal stage; caught once, in the pipeline. */
export class StageExit {
  constructor(
    readonly stage: Exclude<TerminalStage, 'closed'>,
    readonly reason: string,
  ) {}
}

export type ApprovalOutcome = { kind: 'approved' } | { kind: 'rejected' | 'request_info'; reasonCode: string };

export class ApplicationRun implements ActView {
  readonly workflowId = workflowInfo().workflowId;
  readonly applicationId: string;
  readonly policy = DEFAULT_POLICY;
  readonly state: LoanState;
  readonly saga = new Saga();

  // What the main flow waits on; the act handlers set these.
  readonly seenActIds = new Set<string>();
  withdrawal: Withdraw | null = null;
  documentArrivals = 0;
  awaitingPhoneOutcome = false;
  phoneOutcome: PhoneVerificationCompleted | null = null;
  phoneVerified = false;
  awaitingApproval = false;
  approvals: string[] = [];
  approvalOutcome: ApprovalOutcome | null = null;
  maxLoanFen: number | null = null;
  signature: ContractSigned | null = null;
  /** The act the stage will ask for once the step in flight is done (the call task, the rules, the envelope). */
  upcoming: ActName | null = null;
  /** The main flow's open human wait, and how many times it has woken: an act's answer follows its reaction. */
  waitingFor: (() => boolean) | null = null;
  wakeups = 0;

  readonly collateralRequiredBeforeDisbursement: boolean;
  servicingWorkflowId: string | null = null;
  actSeq = 0;
  documentChecks = 0;
  /** Reason codes earlier stages found (VIN, phone anomalies) that the decision rules must weigh. */
  readonly stageReasons = new Set<string>();
  private readonly publisher: Publisher;
  /** This run's local activities (lean runs), one at a time. */
  readonly local = localSteps();

  constructor(readonly input: LoanApplicationInput) {
    this.applicationId = input.applicationId;
    this.state = {
      applicationId: input.applicationId,
      stage: 'intake',
      stageHistory: [{ stage: 'intake', at: this.iso(this.now()) }],
      pendingTask: null,
      offer: null,
      decisions: [],
      flags: [],
      riskGrade: null,
      requiresFourEyes: requiresFourEyes(input.amountFen, this.policy),
      documents: { required: [], missing: [], problems: [] },
      phoneAttempts: 0,
      envelopeId: null,
      collateralRegistered: false,
      transferId: null,
      loanId: null,
      outcomeReason: null,
      refusedActs: [],
    };
    this.collateralRequiredBeforeDisbursement = input.vehicle.condition === 'used';
    this.publisher = new Publisher(this);
  }

  /** Inside the workflow sandbox Date is Temporal's deterministic clock (the workflow task's time). */
  now(): number {
    return new Date().getTime();
  }

  iso(ms: number): string {
    return new Date(ms).toISOString();
  }

  addFlag(flag: string): void {
    if (!this.state.flags.includes(flag)) this.state.flags.push(flag);
  }

  /** Whether the run takes the new branch of an earlier patch: a lean run started after all of them, so it takes each without a marker. */
  patched(id: (typeof PATCH)[keyof typeof PATCH]): boolean {
    return this.publisher.lean || patched(id);
  }

  /** The database steps: local activities on a lean run (markers in the history), activities before. */
  get db(): typeof db | LocalSteps['db'] {
    return this.publisher.lean ? this.local.db : db;
  }

  /** The loan's booking, a database step too. */
  get loans(): typeof loans | LocalSteps['loans'] {
    return this.publisher.lean ? this.local.loans : loans;
  }

  /** Search attributes fixed for the run (channel, branch, amount). */
  searchOnce(attributes: SearchAttributeUpdatePair[]): void {
    this.publisher.searchOnce(attributes);
  }

  /**
   * Search attributes, current details and the applications row follow every change. A lean run
   * goes on without waiting: its writes are ordered, joined while it reacts, and done before the
   * workflow task completes (a stage entry waits for them).
   */
  publish(): Promise<void> {
    const written = this.publisher.publish();
    return this.publisher.lean ? Promise.resolve() : written;
  }

  currentDetails(): string {
    return this.publisher.currentDetails();
  }

  /** The audit entry of a step, as the run now stands (its stage), keyed for idempotency by the run and the step. */
  loanEvent(kind: LoanEventKind, key: string, data: Record<string, unknown> = {}, actor = 'system'): LoanEventInput {
    return { eventKey: `${this.workflowId}:${key}`, applicationId: this.applicationId, kind, actor, stage: this.state.stage, data };
  }

  /** Records a loan_events row: on a lean run with the applications row, in the ordered writes, without waiting. */
  async recordEvent(kind: LoanEventKind, key: string, data: Record<string, unknown> = {}, actor = 'system'): Promise<void> {
    const event = this.loanEvent(kind, key, data, actor);
    if (this.publisher.lean) void this.publisher.publish([event]);
    else await call(db.recordLoanEvent, `record ${kind}`, event);
  }

  /** Records an act's loan_events row; the promise is its write's (the act's answer follows it). */
  recordAct(kind: LoanEventKind, key: string, data: Record<string, unknown>, actor: string): Promise<void> {
    return this.publisher.lean ? this.publisher.publish([this.loanEvent(kind, key, data, actor)]) : this.recordEvent(kind, key, data, actor);
  }

  /**
   * The stage's entry: its event and the row, in one write on a lean run (waited for, with what the
   * run asked before), by two activities before. Not an async function: the earlier release's runs
   * await the same promise they did, so they issue their commands at the same turn as before.
   */
  private recordEntry(key: string, data: Record<string, unknown>): Promise<unknown> {
    if (this.publisher.lean) return this.publisher.publish([this.loanEvent('stage_entered', key, data)]);
    return Promise.all([this.recordEvent('stage_entered', key, data), this.publish()]);
  }

  /** The first stage, intake, as the run starts: recorded and published. */
  recordIntake(): Promise<unknown> {
    return this.recordEntry('stage:1:intake', { channel: this.input.channel, branchId: this.input.branchId });
  }

  /**
   * Moves to `next` (checked against the domain stage table), recorded and published. `asks` is the
   * act the new stage will wait for once its first step is done: from the moment the stage shows,
   * that act is taken early rather than refused (decideAct).
   */
  async enter(next: Stage, data: Record<string, unknown> = {}, asks: ActName | null = null): Promise<void> {
    if (!isTerminal(next)) this.checkWithdrawal();
    // An illegal move is a bug: the plain error fails the workflow task, which retries until fixed.
    assertTransition(this.state.stage, next);
    const from = this.state.stage;
    this.state.stage = next;
    this.state.pendingTask = null;
    this.upcoming = asks;
    this.state.stageHistory.push({ stage: next, at: this.iso(this.now()) });
    log.info('stage entered', { applicationId: this.applicationId, from, stage: next });
    await this.recordEntry(`stage:${this.state.stageHistory.length}:${next}`, { from, ...data });
  }

  /** Sets the human task the stage now waits for; answers it (an act taken early may already have done it and cleared it). */
  async setPending(kind: PendingTaskKind, role: StaffRole, deadlineAt: number, extra: Partial<PendingTask> = {}): Promise<PendingTask> {
    const task: PendingTask = { kind, role, since: this.iso(this.now()), deadline: this.iso(deadlineAt), escalated: false, ...extra };
    this.state.pendingTask = task;
    await this.publish();
    return task;
  }

  async clearPending(): Promise<void> {
    this.state.pendingTask = null;
    await this.publish();
  }

  /** Withdrawal takes effect at the next stage entry or wait of a stage that allows it. */
  checkWithdrawal(): void {
    if (this.withdrawal && withdrawable(this.state.stage)) throw new StageExit('withdrawn', this.withdrawal.reasonCode ?? 'WITHDRAWN');
  }

  async notify(template: ApplicantSmsTemplate, what: string, params?: Record<string, string | number>): Promise<void> {
    const r = await call(sms.notifyApplicant, `text the applicant: ${template}`, {
      applicationId: this.applicationId,
      messageId: `${this.workflowId}/sms/${what}`,
      template,
      params,
    });
    if (r.status === 'rejected') this.addFlag('SMS_UNDELIVERABLE');
  }

  /** Whether the API authenticated this act (its signed proof), judged at this task's workflow time. */
  authenticity<N extends ActName>(name: N, payload: ActPayloads[N]): ActProofVerdict {
    return authenticateAct(name, payload, { workflowId: this.workflowId, nowMs: this.now(), ring: BUNDLED_ACT_KEY_RING });
  }

  /** An engineer's act on the emergency path: flagged in the run's details, a search attribute and the event. */
  flagEmergency(reasonCode: EmergencyReasonCode): void {
    this.addFlag('EMERGENCY_ACT');
    upsertSearchAttributes([{ key: SA.EmergencyAct, value: reasonCode }]);
  }

  async finish(stage: TerminalStage, reason: string | null): Promise<LoanApplicationResult> {
    this.state.outcomeReason = reason;
    await this.enter(stage, { outcomeReason: reason });
    return { stage, outcomeReason: reason, loanId: this.state.loanId };
  }
}
