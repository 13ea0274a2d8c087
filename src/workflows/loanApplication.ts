/**
 * One car-loan application as a durable process (SPEC §2): intake → document_check →
 * phone_verification → valuation → approval → signing → disbursement → servicing, ending closed,
 * rejected, withdrawn, expired or failed. The workflow decides; activities act. Every stage move is
 * checked against the domain's stage table, published as search attributes, mirrored to the
 * applications row and recorded in loan_events. Every step with an external side effect pushes its
 * compensation; a terminal exit before disbursement runs them, newest first.
 *
 * Human acts arrive as signals (Temporal UI, CLI) or as updates (the API); both go through one
 * validator (acts.ts) and one handler. See docs/architecture.md, "The loan-application workflow".
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityFunctionWithOptions,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  LoanActivityFailureType,
  type CreateLoanInput,
  type CreateLoanResult,
  type ApplicantSmsTemplate,
  type CreditAssessment,
} from '../activities/contracts';
import {
  ProviderFailureType,
  callCentreActivityOptions,
  creditBureauActivityOptions,
  esignActivityOptions,
  ocrActivityOptions,
  paymentsActivityOptions,
  smsActivityOptions,
  valuationActivityOptions,
  type ProviderRefusalDetails,
} from '../activities/providers/options';
import {
  DEFAULT_POLICY,
  STAGE_LABELS_ZH,
  assertTransition,
  buildOffer,
  canTransition,
  evaluateApproval,
  fenToYuanString,
  isReasonCode,
  isTerminal,
  requiresFourEyes,
  shanghaiDate,
  withdrawable,
  type Offer,
  type RepaymentMethod,
  type Stage,
  type TerminalStage,
} from '../domain';
import { authenticateAct, refuseAct, unauthenticated, type ActName, type ActPayloads, type ActView } from './acts';
import { BUNDLED_ACT_KEY_RING, isLateProof, type ActProofVerdict, type EmergencyReasonCode } from './actProof';
import {
  ACT_REFUSED,
  approvalDecisionSignal,
  approvalDecisionUpdate,
  collateralRegisteredSignal,
  collateralRegisteredUpdate,
  contractSignedSignal,
  contractSignedUpdate,
  documentsSubmittedSignal,
  documentsSubmittedUpdate,
  loanServicingWorkflowId,
  phoneVerificationCompletedSignal,
  phoneVerificationCompletedUpdate,
  stateQuery,
  withdrawSignal,
  withdrawUpdate,
  type ActRefusal,
  type ApprovalDecision,
  type CollateralRegistered,
  type ContractSigned,
  type LoanApplicationInput,
  type LoanApplicationResult,
  type LoanState,
  type PendingTask,
  type PendingTaskKind,
  type PhoneVerificationCompleted,
  type StaffRole,
  type Withdraw,
} from './messages';
import type { LoanServicingInput, LoanServicingResult } from './servicingMessages';
import * as SA from './searchAttributes';

export { loanApplicationWorkflowId, loanApplicationStartOptions } from './messages';
export type { LoanApplicationInput, LoanApplicationResult } from './messages';

// ---------------------------------------------------------------------------------------------
// Activities, each group with the retry policy of the system it calls

const databaseOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};
const db = proxyActivities<Activities>(databaseOptions);
const ocr = proxyActivities<Activities>(ocrActivityOptions);
const callCentre = proxyActivities<Activities>(callCentreActivityOptions);
const valuation = proxyActivities<Activities>(valuationActivityOptions);
const creditBureau = proxyActivities<Activities>(creditBureauActivityOptions);
const esign = proxyActivities<Activities>(esignActivityOptions);
const payments = proxyActivities<Activities>(paymentsActivityOptions);
const sms = proxyActivities<Activities>(smsActivityOptions);
/** src/activities/loans.ts (servicing issue) registers createLoan; its contract is in contracts.ts. */
const loans = proxyActivities<{ createLoan(input: CreateLoanInput): Promise<CreateLoanResult> }>(databaseOptions);

/** Runs an activity with a one-line summary the Temporal UI shows beside it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function run<F extends (...args: any[]) => Promise<any>>(
  fn: ActivityFunctionWithOptions<F>,
  summary: string,
  ...args: Parameters<F>
): Promise<Awaited<ReturnType<F>>> {
  return fn.executeWithOptions({ summary }, args);
}

/** How long the workflow waits between looks at a pending transfer. */
const TRANSFER_POLL_MS = 5_000;
const POLICY = DEFAULT_POLICY;

/** Leaves the stage pipeline for a terminal stage; caught once, in loanApplication. */
class StageExit {
  constructor(
    readonly stage: Exclude<TerminalStage, 'closed'>,
    readonly reason: string,
  ) {}
}

function providerRefusal(err: unknown, type: string): string | null {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure) || err.cause.type !== type) return null;
  const details = err.cause.details?.[0] as Partial<ProviderRefusalDetails> | undefined;
  return typeof details?.code === 'string' ? details.code : 'refused';
}

/** A reason code for an activity that failed for good (its type, e.g. PaymentRefused, or the code). */
function failureReason(err: unknown): string | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    const details = err.cause.details?.[0] as Partial<ProviderRefusalDetails> | undefined;
    const code = typeof details?.code === 'string' ? `:${details.code}` : '';
    return `${err.cause.type ?? 'ActivityFailed'}${code}`;
  }
  if (err instanceof ActivityFailure) return 'ActivityFailed';
  return null;
}

const yuan = (fen: number) => `${fenToYuanString(fen, { grouping: true })} CNY`;

// ---------------------------------------------------------------------------------------------

export async function loanApplication(input: LoanApplicationInput): Promise<LoanApplicationResult> {
  const { workflowId } = workflowInfo();
  const applicationId = input.applicationId;
  // Inside the workflow sandbox Date is Temporal's deterministic clock (the workflow task's time).
  const now = () => new Date().getTime();
  const iso = (ms: number) => new Date(ms).toISOString();

  const state: LoanState = {
    applicationId,
    stage: 'intake',
    stageHistory: [{ stage: 'intake', at: iso(now()) }],
    pendingTask: null,
    offer: null,
    decisions: [],
    flags: [],
    riskGrade: null,
    requiresFourEyes: requiresFourEyes(input.amountFen, POLICY),
    documents: { required: [], missing: [], problems: [] },
    phoneAttempts: 0,
    envelopeId: null,
    collateralRegistered: false,
    transferId: null,
    loanId: null,
    outcomeReason: null,
    refusedActs: [],
  };

  // What the main flow waits on; the act handlers set these.
  const seenActIds = new Set<string>();
  let withdrawal: Withdraw | null = null;
  let documentArrivals = 0;
  let awaitingPhoneOutcome = false;
  let phoneOutcome: PhoneVerificationCompleted | null = null;
  let phoneVerified = false;
  let awaitingApproval = false;
  let approvals: string[] = [];
  type ApprovalOutcome = { kind: 'approved' } | { kind: 'rejected' | 'request_info'; reasonCode: string };
  let approvalOutcome: ApprovalOutcome | null = null;
  // Read through a function: TypeScript cannot see that a handler sets it while the flow awaits.
  const currentApprovalOutcome = (): ApprovalOutcome | null => approvalOutcome;
  let maxLoanFen: number | null = null;
  let signature: ContractSigned | null = null;
  const collateralRequiredBeforeDisbursement = input.vehicle.condition === 'used';
  let servicingWorkflowId: string | null = null;
  let actSeq = 0;
  let documentChecks = 0;
  /** Reason codes earlier stages found (VIN, phone anomalies) that the decision rules must weigh. */
  const stageReasons = new Set<string>();

  const addFlag = (flag: string) => {
    if (!state.flags.includes(flag)) state.flags.push(flag);
  };

  // ------------------------------------------------------------------ publishing

  // Runs started before this change mirror stage, task kind and grade only; decided once, at the
  // start, so a replayed run keeps the mirror writes it made.
  const mirrorTaskDetail = patched('mirror-task-detail');
  const taskKey = (t: PendingTask | null) => (mirrorTaskDetail && t ? `${t.since}|${t.escalated}|${t.approvedBy?.length ?? 0}|${t.approvalsNeeded ?? 0}` : '');
  let published = { stage: '', pending: '', grade: '', task: '' };
  // Mirror writes run one after another, so the row never ends on an older state than the last.
  let mirrored: Promise<void> = Promise.resolve();
  /** Search attributes, current details and the applications row follow every change. */
  function publish(): Promise<void> {
    const pending = state.pendingTask?.kind ?? 'none';
    const grade = state.riskGrade ?? '';
    const t = state.pendingTask;
    const task = taskKey(t);
    setCurrentDetails(currentDetails());
    const searchable = published.stage !== state.stage || published.pending !== pending || published.grade !== grade;
    if (!searchable && published.task === task) return mirrored;
    if (searchable) {
      upsertSearchAttributes([
        { key: SA.LoanStage, value: state.stage },
        { key: SA.PendingTask, value: pending },
        ...(grade ? [{ key: SA.RiskGrade, value: grade }] : []),
      ]);
    }
    published = { stage: state.stage, pending, grade, task };
    const row = {
      applicationId,
      stage: state.stage,
      pendingTask: t?.kind ?? null,
      riskGrade: state.riskGrade,
      loanId: state.loanId,
      // The work queues' SLA, escalation and four-eyes progress (a change of any is mirrored).
      ...(mirrorTaskDetail
        ? {
            task: t
              ? { since: t.since, slaAt: t.slaAt ?? null, deadline: t.deadline, escalated: t.escalated, approvalsNeeded: t.approvalsNeeded ?? null, approvedBy: [...(t.approvedBy ?? [])] }
              : null,
          }
        : {}),
    };
    mirrored = mirrored.then(() => run(db.mirrorStage, `mirror stage ${row.stage} / ${pending} to the applications row`, row));
    return mirrored;
  }

  function currentDetails(): string {
    const lines = [`**Stage** ${state.stage} (${STAGE_LABELS_ZH[state.stage]})`];
    const t = state.pendingTask;
    if (t) {
      lines.push(
        `**Waiting for** ${t.kind} by ${t.role} since ${t.since}` +
          (t.slaAt ? ` · SLA ${t.slaAt}` : '') +
          ` · deadline ${t.deadline}` +
          (t.escalated ? ' · **escalated to a supervisor**' : '') +
          (t.attempt ? ` · attempt ${t.attempt}` : '') +
          (t.approvalsNeeded ? ` · approvals ${t.approvedBy?.length ?? 0}/${t.approvalsNeeded}` : ''),
      );
    }
    if (state.riskGrade) lines.push(`**Risk grade** ${state.riskGrade}${state.recommendation ? ` · ${state.recommendation}` : ''}`);
    if (state.offer) {
      const o = state.offer;
      lines.push(`**Offer** ${yuan(o.amountFen)} · ${o.termMonths} months · ${o.annualRateBps} bps (APR ${o.aprBps} bps) · monthly ${yuan(o.monthlyPaymentFen)}`);
    }
    if (state.loanId) lines.push(`**Loan** ${state.loanId} · servicing workflow ${servicingWorkflowId ?? '-'}`);
    if (state.flags.length) lines.push(`**Flags** ${state.flags.join(', ')}`);
    if (state.outcomeReason) lines.push(`**Outcome** ${state.outcomeReason}`);
    return lines.join('\n');
  }

  async function recordEvent(kind: string, key: string, data: Record<string, unknown> = {}, actor = 'system'): Promise<void> {
    await run(db.recordLoanEvent, `record ${kind}`, {
      eventKey: `${workflowId}:${key}`,
      applicationId,
      kind,
      actor,
      stage: state.stage,
      data,
    });
  }

  // ------------------------------------------------------------------ stages

  /** Moves to `next` (checked against the domain stage table), recorded and published. */
  async function enter(next: Stage, data: Record<string, unknown> = {}): Promise<void> {
    if (!isTerminal(next)) checkWithdrawal();
    // An illegal move is a bug: the plain error fails the workflow task, which retries until fixed.
    assertTransition(state.stage, next);
    const from = state.stage;
    state.stage = next;
    state.pendingTask = null;
    state.stageHistory.push({ stage: next, at: iso(now()) });
    log.info('stage entered', { applicationId, from, stage: next });
    await Promise.all([recordEvent('stage_entered', `stage:${state.stageHistory.length}:${next}`, { from, ...data }), publish()]);
  }

  async function setPending(kind: PendingTaskKind, role: StaffRole, deadlineAt: number, extra: Partial<PendingTask> = {}): Promise<PendingTask> {
    state.pendingTask = { kind, role, since: iso(now()), deadline: iso(deadlineAt), escalated: false, ...extra };
    await publish();
    return state.pendingTask;
  }

  async function clearPending(): Promise<void> {
    state.pendingTask = null;
    await publish();
  }

  /** Withdrawal takes effect at the next stage entry or wait of a stage that allows it. */
  function checkWithdrawal(): void {
    if (withdrawal && withdrawable(state.stage)) throw new StageExit('withdrawn', withdrawal.reasonCode ?? 'WITHDRAWN');
  }

  /** Waits for `ready` until `deadlineAt` (workflow time); true when ready, false at the deadline. Withdrawal interrupts. */
  async function waitUntil(ready: () => boolean, deadlineAt: number, summary: string): Promise<boolean> {
    const interrupted = () => withdrawal !== null && withdrawable(state.stage);
    const ms = deadlineAt - now();
    const ok = ms > 0 ? await condition(() => ready() || interrupted(), ms, { summary }) : ready();
    checkWithdrawal();
    return ok && ready();
  }

  /** A human task past its SLA goes to a supervisor: flagged, recorded, visible in the UI and the work queue. */
  async function escalate(task: PendingTask): Promise<void> {
    task.escalated = true;
    addFlag(`${task.kind.toUpperCase()}_ESCALATED`);
    await Promise.all([
      recordEvent('escalated', `escalated:${state.stageHistory.length}:${task.kind}`, { task: task.kind, to: 'supervisor', slaAt: task.slaAt }),
      publish(),
    ]);
  }

  /** Waits for a human act with an SLA (escalation) and a hard deadline (expiry). */
  async function awaitHumanAct(ready: () => boolean, task: PendingTask, slaAt: number | null, expiryAt: number, label: string, expiryReason: string): Promise<void> {
    for (;;) {
      const escalating = slaAt !== null && !task.escalated && slaAt < expiryAt;
      const until = escalating ? (slaAt as number) : expiryAt;
      const summary = escalating ? `${label}: escalate at the SLA` : `${label}: expire at the deadline`;
      if (await waitUntil(ready, until, summary)) return;
      if (escalating) {
        await escalate(task);
        continue;
      }
      throw new StageExit('expired', expiryReason);
    }
  }

  // ------------------------------------------------------------------ compensations (saga)

  const compensations: { step: string; undo: (reason: string) => Promise<string> }[] = [];
  const addCompensation = (step: string, undo: (reason: string) => Promise<string>) => compensations.push({ step, undo });
  const dropCompensation = (step: string) => {
    const i = compensations.findIndex((c) => c.step === step);
    if (i >= 0) compensations.splice(i, 1);
  };

  async function compensate(reason: string): Promise<void> {
    while (compensations.length > 0) {
      const c = compensations.pop()!;
      let result: string;
      try {
        result = await c.undo(reason);
      } catch (err) {
        // A compensation that cannot run is recorded for a person to finish; the others still run.
        result = `failed:${failureReason(err) ?? 'error'}`;
        addFlag('COMPENSATION_FAILED');
      }
      await recordEvent('compensated', `compensation:${c.step}`, { step: c.step, result, reason });
    }
  }

  async function notify(template: ApplicantSmsTemplate, what: string, params?: Record<string, string | number>): Promise<void> {
    const r = await run(sms.notifyApplicant, `text the applicant: ${template}`, {
      applicationId,
      messageId: `${workflowId}/sms/${what}`,
      template,
      params,
    });
    if (r.status === 'rejected') addFlag('SMS_UNDELIVERABLE');
  }

  // ------------------------------------------------------------------ human acts

  const view = (): ActView => ({
    stage: state.stage,
    pendingTask: state.pendingTask?.kind ?? null,
    submittedBy: input.submittedBy,
    seenActIds,
    awaitingPhoneOutcome,
    approvals,
    offer: state.offer,
    maxLoanFen,
    awaitingApproval,
    envelopeId: state.envelopeId,
    contractSigned: signature !== null,
    collateralRegistered: state.collateralRegistered,
    withdrawRequested: withdrawal !== null,
    policy: POLICY,
  });

  /** Applies an accepted act to the state the main flow waits on (synchronously, before any await). */
  function apply<N extends ActName>(name: N, payload: ActPayloads[N]): Record<string, unknown> {
    switch (name) {
      case 'documentsSubmitted': {
        documentArrivals++;
        return { documentIds: (payload as ActPayloads['documentsSubmitted']).documentIds };
      }
      case 'phoneVerificationCompleted': {
        const a = payload as PhoneVerificationCompleted;
        phoneOutcome = a;
        awaitingPhoneOutcome = false;
        return {
          outcome: a.outcome,
          recordingRef: a.recordingRef ?? null,
          checklist: {
            identityConfirmed: a.checklist?.identityConfirmed === true,
            incomeConfirmed: a.checklist?.incomeConfirmed === true,
            purposeConfirmed: a.checklist?.purposeConfirmed === true,
            anomalies: a.checklist?.anomalies ?? [],
          },
          attempt: state.phoneAttempts,
        };
      }
      case 'approvalDecision':
        return applyDecision(payload as ApprovalDecision);
      case 'contractSigned': {
        const a = payload as ContractSigned;
        signature = a;
        return { source: a.source, envelopeId: a.envelopeId ?? state.envelopeId, signedAt: a.signedAt };
      }
      case 'collateralRegistered': {
        const a = payload as CollateralRegistered;
        state.collateralRegistered = true;
        if (state.stage === 'servicing' && servicingWorkflowId) {
          // The loan is already with servicing: it tracks the registration still owed.
          // Forwarded whole, with the API's proof, which the servicing workflow checks in its turn.
          void getExternalWorkflowHandle(servicingWorkflowId)
            .signal('collateralRegistered', a)
            .catch((err: unknown) => log.warn('could not forward collateral registration', { applicationId, error: String(err) }));
        }
        return { registrationRef: a.registrationRef, registeredAt: a.registeredAt };
      }
      case 'withdraw': {
        withdrawal = payload as Withdraw;
        return { reasonCode: withdrawal.reasonCode ?? null, stage: state.stage };
      }
      default:
        return {};
    }
  }

  function applyDecision(a: ApprovalDecision): Record<string, unknown> {
    const at = iso(now());
    if (a.decision !== 'approve') {
      state.decisions.push({ actor: a.actor, decision: a.decision, reasonCode: a.reasonCode, at, counted: true });
      approvalOutcome = { kind: a.decision === 'reject' ? 'rejected' : 'request_info', reasonCode: a.reasonCode as string };
      awaitingApproval = false;
      return { decision: a.decision, reasonCode: a.reasonCode };
    }
    const current = state.offer;
    const changed =
      (a.amountFen !== undefined && a.amountFen !== current?.amountFen) ||
      (a.termMonths !== undefined && a.termMonths !== current?.termMonths) ||
      (a.annualRateBps !== undefined && a.annualRateBps !== current?.annualRateBps);
    if (changed || !current) {
      // The approver sets new terms within the limits: a new offer, whose approvals start afresh.
      state.offer = buildOffer(
        {
          amountFen: a.amountFen ?? current?.amountFen ?? input.amountFen,
          termMonths: a.termMonths ?? current?.termMonths ?? input.termMonths,
          repaymentMethod: current?.repaymentMethod ?? (input.repaymentMethod as RepaymentMethod),
          annualRateBps: a.annualRateBps ?? current?.annualRateBps ?? POLICY.ratesByGradeBps[state.riskGrade ?? 'E'],
        },
        POLICY,
      );
      state.requiresFourEyes = requiresFourEyes(state.offer.amountFen, POLICY);
      approvals = [];
    }
    const offer = state.offer as Offer;
    const e = evaluateApproval({ amountFen: offer.amountFen, submittedBy: input.submittedBy, priorApprovals: approvals, approverId: a.actor }, POLICY);
    approvals = e.approvals;
    state.decisions.push({ actor: a.actor, decision: 'approve', at, counted: e.counts });
    if (state.pendingTask?.kind === 'approval') {
      state.pendingTask.approvalsNeeded = e.requiredApprovals;
      state.pendingTask.approvedBy = [...approvals];
    }
    if (e.complete) {
      approvalOutcome = { kind: 'approved' };
      awaitingApproval = false;
    }
    return {
      decision: 'approve',
      counted: e.counts,
      approvals: e.approvals.length,
      required: e.requiredApprovals,
      complete: e.complete,
      offer: changed ? { amountFen: offer.amountFen, termMonths: offer.termMonths, annualRateBps: offer.annualRateBps } : undefined,
    };
  }

  /** Whether the API authenticated this act (its signed proof), judged at this task's workflow time. */
  const authenticity = <N extends ActName>(name: N, payload: ActPayloads[N]): ActProofVerdict =>
    authenticateAct(name, payload, { workflowId, nowMs: now(), ring: BUNDLED_ACT_KEY_RING });

  /** An engineer's act on the emergency path: flagged in the run's details, a search attribute and the event. */
  function flagEmergency(reasonCode: EmergencyReasonCode): void {
    addFlag('EMERGENCY_ACT');
    upsertSearchAttributes([{ key: SA.EmergencyAct, value: reasonCode }]);
  }

  async function handleAct<N extends ActName>(name: N, payload: ActPayloads[N], via: 'signal' | 'update'): Promise<LoanState> {
    // Acts a run took before proofs existed replay as they were; every act taken live since needs
    // one, in old runs too (the patch marker goes into the history with the first such act).
    const verdict = patched('act-proofs') ? authenticity(name, payload) : null;
    const refused = verdict && !verdict.ok ? unauthenticated(verdict, state.stage) : refuseAct(name, payload, view());
    if (refused) {
      // An update gets here refused only unauthenticated (its validator refused anything else).
      if (via === 'update' && refused.code !== 'NOT_AUTHENTICATED') throw refusalFailure(refused);
      if (refused.code === 'ALREADY_APPLIED' && !verdict) return state;
      const actor = typeof payload?.actor === 'string' ? payload.actor : 'unknown';
      const problem = verdict && !verdict.ok ? verdict.problem : undefined;
      state.refusedActs.push({ act: name, actor, code: refused.code, at: iso(now()), ...(problem ? { problem } : {}) });
      await recordEvent('act_refused', `act:${++actSeq}:${name}:refused`, { act: name, via, code: refused.code, message: refused.message, ...(problem ? { problem } : {}) }, actor);
      if (via === 'update') throw refusalFailure(refused);
      return state;
    }
    if (payload.actId !== undefined) seenActIds.add(payload.actId);
    const seq = ++actSeq;
    const emergency = verdict?.ok ? verdict.emergency : null;
    if (emergency) flagEmergency(emergency);
    const data = apply(name, payload);
    // The answer is the state as this act left it: while the act is recorded, the main flow may
    // already move on (a withdrawal ends the run), and which of the two finishes first is a race.
    const answer = JSON.parse(JSON.stringify(state)) as LoanState;
    await recordEvent(name, `act:${seq}:${name}`, { via, actId: payload.actId ?? null, ...data, ...(emergency ? { emergency: { reasonCode: emergency } } : {}) }, payload.actor);
    await publish();
    return answer;
  }

  function refusalFailure(r: ActRefusal): ApplicationFailure {
    return ApplicationFailure.create({ type: ACT_REFUSED, message: r.message, details: [r], nonRetryable: true });
  }

  function validator<N extends ActName>(name: N) {
    return (payload: ActPayloads[N]): void => {
      // Validators run live only (never on replay), so every update needs its proof, old runs' too.
      const verdict = authenticity(name, payload);
      if (!verdict.ok) {
        // The API's own act out of its time: refused to the API, which audits it and retries signed anew.
        if (isLateProof(verdict)) throw refusalFailure(unauthenticated(verdict, state.stage));
        // Not signed by the API for this act: accepted only so that the handler refuses and records it.
        return;
      }
      const refused = refuseAct(name, payload, view());
      if (refused) throw refusalFailure(refused);
    };
  }

  setHandler(stateQuery, () => state);
  setHandler(documentsSubmittedSignal, (p) => handleAct('documentsSubmitted', p, 'signal').then(() => undefined));
  setHandler(phoneVerificationCompletedSignal, (p) => handleAct('phoneVerificationCompleted', p, 'signal').then(() => undefined));
  setHandler(approvalDecisionSignal, (p) => handleAct('approvalDecision', p, 'signal').then(() => undefined));
  setHandler(contractSignedSignal, (p) => handleAct('contractSigned', p, 'signal').then(() => undefined));
  setHandler(collateralRegisteredSignal, (p) => handleAct('collateralRegistered', p, 'signal').then(() => undefined));
  setHandler(withdrawSignal, (p) => handleAct('withdraw', p, 'signal').then(() => undefined));
  setHandler(documentsSubmittedUpdate, (p) => handleAct('documentsSubmitted', p, 'update'), { validator: validator('documentsSubmitted') });
  setHandler(phoneVerificationCompletedUpdate, (p) => handleAct('phoneVerificationCompleted', p, 'update'), {
    validator: validator('phoneVerificationCompleted'),
  });
  setHandler(approvalDecisionUpdate, (p) => handleAct('approvalDecision', p, 'update'), { validator: validator('approvalDecision') });
  setHandler(contractSignedUpdate, (p) => handleAct('contractSigned', p, 'update'), { validator: validator('contractSigned') });
  setHandler(collateralRegisteredUpdate, (p) => handleAct('collateralRegistered', p, 'update'), { validator: validator('collateralRegistered') });
  setHandler(withdrawUpdate, (p) => handleAct('withdraw', p, 'update'), { validator: validator('withdraw') });

  // ------------------------------------------------------------------ the stages

  async function intake(): Promise<void> {
    // Also set by loanApplicationStartOptions; repeated for runs started from the UI or the CLI.
    upsertSearchAttributes([
      { key: SA.LoanChannel, value: input.channel },
      { key: SA.BranchId, value: input.branchId },
      { key: SA.LoanAmountFen, value: input.amountFen },
    ]);
    await Promise.all([recordEvent('stage_entered', 'stage:1:intake', { channel: input.channel, branchId: input.branchId }), publish()]);
    const facts = await run(db.loadApplicationFacts, 'load the stored application (no personal data)', { applicationId });
    if (facts.amountFen !== input.amountFen || facts.termMonths !== input.termMonths || facts.vehicle?.condition !== input.vehicle.condition) {
      throw new StageExit('failed', 'INPUT_DOES_NOT_MATCH_STORED_APPLICATION');
    }
    const screen = await run(db.screenApplication, 'blacklist and duplicate-application screen', { applicationId });
    if (screen.outcome !== 'clear') {
      addFlag(screen.reasonCode as string);
      state.decisions.push({ actor: 'system', decision: 'reject', reasonCode: screen.reasonCode as string, at: iso(now()), counted: true });
      throw new StageExit('rejected', screen.reasonCode as string);
    }
  }

  /** OCR of every unread document, then the set judged complete and consistent or not. */
  async function readDocuments(): Promise<boolean> {
    const unread = await run(db.unreadDocuments, 'list documents OCR has not read', { applicationId });
    const asOfDate = shanghaiDate(now());
    const readings = await Promise.all(
      unread.map((documentId) => run(ocr.recognizeDocument, `OCR document ${documentId}`, { applicationId, documentId, asOfDate })),
    );
    const set = await run(db.evaluateDocumentSet, 'check the document set: present, consistent, unexpired', { applicationId });
    state.documents = { required: set.required, missing: set.missing, problems: set.problems };
    for (const code of set.reasonCodes) addFlag(code);
    if (set.complete) {
      for (const code of ['DOCUMENTS_MISSING', 'DOCUMENTS_INCONSISTENT', 'ID_CARD_EXPIRED', 'DRIVER_LICENSE_EXPIRED']) {
        const i = state.flags.indexOf(code);
        if (i >= 0) state.flags.splice(i, 1);
      }
    }
    await recordEvent('documents_checked', `documents:${++documentChecks}`, {
      read: readings.map((r) => ({ documentId: r.documentId, type: r.type, status: r.status, problems: r.problems })),
      missing: set.missing,
      problems: set.problems,
      complete: set.complete,
    });
    return set.complete;
  }

  async function documentCheck(afterRequestInfo: boolean): Promise<void> {
    await enter('document_check', afterRequestInfo ? { after: 'request_info' } : {});
    const deadlineAt = now() + POLICY.deadlines.documentSetMs;
    // After request_info the approver wants something new: wait for it before judging the set again.
    let needNew = afterRequestInfo;
    for (;;) {
      // Counted before reading: documents that arrive while OCR runs are not waited for again.
      const seen = documentArrivals;
      if (!needNew && (await readDocuments())) return;
      needNew = false;
      if (!state.pendingTask) {
        await setPending('submit_documents', 'officer', deadlineAt);
        if (state.documents.missing.length > 0) {
          await notify('documents_missing', `documents-missing/${state.stageHistory.length}`, { count: state.documents.missing.length });
        }
      }
      if (!(await waitUntil(() => documentArrivals > seen, deadlineAt, 'document set: expire after 7 days without a complete set'))) {
        throw new StageExit('expired', 'DOCUMENTS_INCOMPLETE');
      }
    }
  }

  async function phoneVerification(): Promise<void> {
    await enter('phone_verification');
    if (phoneVerified) {
      // Back here after request_info: the applicant was verified already; the call is not repeated.
      await recordEvent('phone_verification_reused', `phone-reused:${state.stageHistory.length}`);
      return;
    }
    const enteredAt = now();
    const { slaMs, expiryMs, maxUnreachableAttempts } = POLICY.deadlines.phoneVerification;
    const slaAt = enteredAt + slaMs;
    const expiryAt = enteredAt + expiryMs;
    let escalated = false;
    for (;;) {
      const attempt = ++state.phoneAttempts;
      let taskId: string;
      try {
        const task = await run(callCentre.openCallTask, `open verification call task, attempt ${attempt}`, {
          applicationId,
          idempotencyKey: `${workflowId}/phone-verification/${attempt}`,
          attempt,
        });
        taskId = task.taskId;
      } catch (err) {
        const code = providerRefusal(err, ProviderFailureType.CallTaskRefused);
        if (code === null) throw err;
        addFlag(`PHONE_${code.toUpperCase()}`);
        throw new StageExit('failed', 'PHONE_NOT_CALLABLE');
      }
      const step = `call-task-${attempt}`;
      addCompensation(step, async (reason) => {
        const r = await run(callCentre.cancelCallTask, `cancel call task ${taskId}`, { applicationId, taskId, reasonCode: reason });
        return r.status;
      });
      phoneOutcome = null;
      awaitingPhoneOutcome = true;
      const task = await setPending('phone_verification', 'verifier', expiryAt, { slaAt: iso(slaAt), attempt, escalated });
      await awaitHumanAct(() => phoneOutcome !== null, task, slaAt, expiryAt, `phone verification attempt ${attempt}`, 'PHONE_VERIFICATION_EXPIRED');
      escalated = task.escalated;
      awaitingPhoneOutcome = false;
      // The call was made: there is nothing left to cancel for this task.
      dropCompensation(step);
      const outcome = phoneOutcome as PhoneVerificationCompleted | null;
      if (!outcome) continue;
      if (outcome.outcome === 'passed') {
        for (const anomaly of outcome.checklist.anomalies ?? []) {
          addFlag(anomaly);
          if (isReasonCode(anomaly)) stageReasons.add(anomaly);
        }
        if (!outcome.checklist.incomeConfirmed) addFlag('INCOME_NOT_CONFIRMED_BY_PHONE');
        if (!outcome.checklist.purposeConfirmed) addFlag('PURPOSE_NOT_CONFIRMED_BY_PHONE');
        phoneVerified = true;
        await clearPending();
        return;
      }
      if (outcome.outcome === 'failed') {
        addFlag('PHONE_VERIFICATION_FAILED');
        throw new StageExit('rejected', 'PHONE_VERIFICATION_FAILED');
      }
      addFlag('PHONE_UNREACHABLE');
      if (attempt >= maxUnreachableAttempts) throw new StageExit('rejected', 'PHONE_UNREACHABLE');
    }
  }

  async function valuationStage(): Promise<number> {
    await enter('valuation');
    try {
      const v = await run(valuation.valueVehicle, 'value the vehicle (make, model, year, mileage)', { applicationId });
      for (const f of v.flags) {
        addFlag(f);
        if (isReasonCode(f)) stageReasons.add(f);
      }
      await recordEvent('vehicle_valued', `valuation:${state.stageHistory.length}`, {
        valuationId: v.valuationId,
        valuationFen: v.valuationFen,
        method: v.method,
        flags: v.flags,
      });
      return v.valuationFen;
    } catch (err) {
      const code = providerRefusal(err, ProviderFailureType.ValuationRefused);
      if (code === 'vehicle_reported_stolen') {
        addFlag('VEHICLE_REPORTED_STOLEN');
        throw new StageExit('rejected', 'COLLATERAL_UNACCEPTABLE');
      }
      if (code !== null) {
        addFlag(`VALUATION_${code.toUpperCase()}`);
        throw new StageExit('failed', 'VEHICLE_NOT_VALUED');
      }
      throw err;
    }
  }

  async function approval(valuationFen: number): Promise<'approved' | 'request_info'> {
    await enter('approval');
    const assessment: CreditAssessment = await run(creditBureau.assessCredit, 'pull the credit report and run the decision rules', {
      applicationId,
      asOfDate: shanghaiDate(now()),
      valuationFen,
      additionalReasonCodes: [...stageReasons],
    });
    state.riskGrade = assessment.grade;
    state.recommendation = assessment.recommendation;
    state.offer = assessment.offer;
    state.requiresFourEyes = assessment.offer ? requiresFourEyes(assessment.offer.amountFen, POLICY) : assessment.requiresFourEyes;
    maxLoanFen = assessment.maxLoanFen;
    for (const r of assessment.reasons) if (r.severity !== 'info' || r.code === 'FOUR_EYES_REQUIRED') addFlag(r.code);
    await recordEvent('credit_assessed', `credit:${state.stageHistory.length}`, {
      reportId: assessment.reportId,
      score: assessment.score,
      grade: assessment.grade,
      recommendation: assessment.recommendation,
      reasons: assessment.reasons.map((r) => r.code),
      dtiBps: assessment.dtiBps,
      maxLoanFen: assessment.maxLoanFen,
      offerAmountFen: assessment.offer?.amountFen ?? null,
    });
    await publish();

    if (assessment.recommendation === 'auto_decline') {
      const code = assessment.reasons.find((r) => POLICY.autoDeclineReasons.includes(r.code))?.code ?? 'CREDIT_SCORE_BELOW_FLOOR';
      state.decisions.push({ actor: 'system', decision: 'auto_decline', reasonCode: code, at: iso(now()), counted: true });
      // PIPL art. 24: an automated decision can be put before a person; the flag tells the API so.
      addFlag('HUMAN_REVIEW_AVAILABLE');
      await recordEvent('auto_declined', `auto-decline:${state.stageHistory.length}`, { reasonCode: code });
      throw new StageExit('rejected', code);
    }

    const enteredAt = now();
    const slaAt = enteredAt + POLICY.deadlines.approval.slaMs;
    const expiryAt = enteredAt + POLICY.deadlines.approval.expiryMs;
    approvals = [];
    approvalOutcome = null;
    awaitingApproval = true;
    const needed = state.requiresFourEyes ? 2 : 1;
    const task = await setPending('approval', 'approver', expiryAt, { slaAt: iso(slaAt), approvalsNeeded: needed, approvedBy: [] });
    await awaitHumanAct(() => approvalOutcome !== null, task, slaAt, expiryAt, 'approval', 'APPROVAL_EXPIRED');
    awaitingApproval = false;
    const outcome = currentApprovalOutcome() as ApprovalOutcome;
    if (outcome.kind === 'rejected') throw new StageExit('rejected', outcome.reasonCode);
    await clearPending();
    return outcome.kind === 'approved' ? 'approved' : 'request_info';
  }

  async function signing(round: number): Promise<void> {
    await enter('signing');
    const offer = state.offer as Offer;
    signature = null;
    let envelope;
    try {
      envelope = await run(esign.openEnvelope, 'render the contract and open the e-signature envelope', {
        applicationId,
        idempotencyKey: `${workflowId}/signing/${round}`,
        offer,
        asOfDate: shanghaiDate(now()),
      });
    } catch (err) {
      const code = providerRefusal(err, ProviderFailureType.EsignRefused);
      if (code === null) throw err;
      addFlag(`ESIGN_${code.toUpperCase()}`);
      throw new StageExit('failed', 'CONTRACT_NOT_SENT');
    }
    const envelopeId = envelope.envelopeId;
    state.envelopeId = envelopeId;
    addCompensation('envelope', async (reason) => {
      const r = await run(esign.voidEnvelope, `void envelope ${envelopeId}`, { applicationId, envelopeId, reasonCode: reason });
      // A contract signed (through the provider or on site) is not voided but cancelled, and the customer told.
      if (r.status === 'already_signed' || signature !== null) {
        await notify('contract_cancelled', `contract-cancelled/${envelopeId}`);
        return 'contract_cancelled';
      }
      return r.status;
    });
    await recordEvent('envelope_sent', `envelope:${round}`, { envelopeId, documentHash: envelope.documentHash });
    await notify('signing_link', `signing-link/${envelopeId}`, { url: envelope.signingUrl, days: Math.round(POLICY.deadlines.offerExpiryMs / 86_400_000) });

    const expiryAt = now() + POLICY.deadlines.offerExpiryMs;
    const signTask = await setPending('sign_contract', 'officer', expiryAt);
    await awaitHumanAct(() => signature !== null, signTask, null, expiryAt, 'offer', 'OFFER_EXPIRED');
    if (collateralRequiredBeforeDisbursement && !state.collateralRegistered) {
      // Used cars: the mortgage registration (抵押登记) comes before the money.
      const regTask = await setPending('register_collateral', 'officer', expiryAt);
      await awaitHumanAct(() => state.collateralRegistered, regTask, null, expiryAt, 'collateral registration', 'OFFER_EXPIRED');
    }
    await clearPending();
  }

  async function disbursement(): Promise<void> {
    await enter('disbursement');
    const offer = state.offer as Offer;
    const amountFen = offer.amountFen - offer.upfrontFeeFen;
    let paid;
    try {
      paid = await run(payments.disburseLoan, `pay out ${yuan(amountFen)} (exactly once, keyed by the application)`, { applicationId, amountFen });
    } catch (err) {
      const code = providerRefusal(err, ProviderFailureType.PaymentRefused);
      if (code === null && !(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === LoanActivityFailureType.PayeeAccountMissing)) {
        throw err;
      }
      addFlag(code ? `PAYMENT_${code.toUpperCase()}` : 'PAYEE_ACCOUNT_MISSING');
      throw new StageExit('failed', 'DISBURSEMENT_REFUSED');
    }
    state.transferId = paid.transferId;
    if (paid.sandboxFallbackAccount) addFlag('SANDBOX_PAYEE_ACCOUNT');
    const transferId = paid.transferId;
    addCompensation('payout', async (reason) => {
      const r = await run(payments.reverseDisbursement, `reverse transfer ${transferId}`, { applicationId, transferId, reasonCode: reason });
      return r.status;
    });
    let status = paid.status;
    while (status === 'pending') {
      await sleep(TRANSFER_POLL_MS, { summary: 'wait for the transfer to settle' });
      status = (await run(payments.transferStatus, `look at transfer ${transferId}`, { applicationId, transferId })).status;
    }
    await recordEvent('disbursed', 'disbursed', { transferId, payee: paid.payee, bankCode: paid.bankCode, accountLast4: paid.accountLast4, amountFen, replayed: paid.replayed });
    const disbursedAtMs = now();
    const { loanId } = await run(loans.createLoan, 'store the loan and its repayment schedule', { applicationId, offer, disbursedAtMs, transferId });
    state.loanId = loanId;
    // The loan is booked: from here nothing is undone, it is serviced.
    compensations.length = 0;
    await recordEvent('loan_created', 'loan-created', { loanId, transferId });
    await notify('loan_disbursed', 'loan-disbursed', { amountFen });
  }

  async function servicing(): Promise<LoanServicingResult> {
    await enter('servicing', { loanId: state.loanId });
    const loanId = state.loanId as string;
    servicingWorkflowId = loanServicingWorkflowId(loanId);
    const child = await startChild<(input: LoanServicingInput) => Promise<LoanServicingResult>>('loanServicing', {
      workflowId: servicingWorkflowId,
      args: [{ loanId, applicationId, collateralRegistrationOutstanding: !state.collateralRegistered }],
      // The loan outlives this run's fate: servicing goes on whatever happens to the application run.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Servicing of loan ${loanId} (application ${applicationId})`,
    });
    setCurrentDetails(currentDetails());
    return child.result();
  }

  async function finish(stage: TerminalStage, reason: string | null): Promise<LoanApplicationResult> {
    state.outcomeReason = reason;
    await enter(stage, { outcomeReason: reason });
    return { stage, outcomeReason: reason, loanId: state.loanId };
  }

  // ------------------------------------------------------------------ the pipeline

  async function pipeline(): Promise<LoanApplicationResult> {
    try {
      await intake();
      let afterRequestInfo = false;
      let round = 0;
      for (;;) {
        await documentCheck(afterRequestInfo);
        await phoneVerification();
        const valuationFen = await valuationStage();
        if ((await approval(valuationFen)) === 'approved') break;
        afterRequestInfo = true;
        round++;
      }
      await signing(round + 1);
      await disbursement();
      const closed = await servicing();
      return await finish('closed', closed.how === 'early_payoff' ? 'EARLY_PAYOFF' : null);
    } catch (err) {
      let exit: StageExit;
      if (err instanceof StageExit) exit = err;
      else if (failureReason(err) !== null && canTransition(state.stage, 'failed')) {
        // An external step that failed for good (a non-retryable failure): undo and end failed.
        addFlag(failureReason(err) as string);
        exit = new StageExit('failed', 'STEP_FAILED');
      } else throw err;
      log.info('application ending', { applicationId, stage: exit.stage, reason: exit.reason });
      await compensate(exit.reason);
      if (exit.stage === 'rejected') await notify('application_rejected', 'outcome');
      else if (exit.stage === 'expired') await notify('application_expired', 'outcome');
      else if (exit.stage === 'withdrawn') await notify('application_withdrawn', 'outcome');
      return finish(exit.stage, exit.reason);
    }
  }

  const result = await pipeline();
  // Acts being recorded when the run ended finish first; none is lost.
  await condition(allHandlersFinished);
  return result;
}
