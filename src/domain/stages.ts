// The stages of a loan application (the `LoanStage` search attribute) and the one table of
// transitions between them. The workflow asserts every move against it and the API uses it to
// answer 409 for actions the current stage cannot take: an illegal move is an error, never ignored.

export const ACTIVE_STAGES = [
  'intake',
  'document_check',
  'phone_verification',
  'valuation',
  'approval',
  'signing',
  'disbursement',
  'servicing',
] as const;
export const TERMINAL_STAGES = ['closed', 'rejected', 'withdrawn', 'expired', 'failed'] as const;
export const STAGES = [...ACTIVE_STAGES, ...TERMINAL_STAGES] as const;
/**
 * Stages of an application still in origination: while a person has one, a second application of
 * theirs is a duplicate (SPEC §2, intake). A loan in servicing does not block a new application.
 */
export const OPEN_APPLICATION_STAGES = ACTIVE_STAGES.filter((s) => s !== 'servicing');

export type ActiveStage = (typeof ACTIVE_STAGES)[number];
export type TerminalStage = (typeof TERMINAL_STAGES)[number];
export type Stage = ActiveStage | TerminalStage;

/**
 * Every allowed move. `withdrawn` is reachable from each stage before disbursement; `failed` from
 * every stage that calls an external system; `approval → document_check` is `request_info`.
 * Once money has been sent (disbursement) the applicant can no longer withdraw.
 */
export const STAGE_TRANSITIONS: Readonly<Record<Stage, readonly Stage[]>> = {
  intake: ['document_check', 'rejected', 'withdrawn', 'failed'],
  document_check: ['phone_verification', 'rejected', 'expired', 'withdrawn', 'failed'],
  phone_verification: ['valuation', 'rejected', 'expired', 'withdrawn', 'failed'],
  valuation: ['approval', 'rejected', 'withdrawn', 'failed'],
  approval: ['signing', 'document_check', 'rejected', 'expired', 'withdrawn', 'failed'],
  signing: ['disbursement', 'expired', 'withdrawn', 'failed'],
  disbursement: ['servicing', 'failed'],
  servicing: ['closed'],
  closed: [],
  rejected: [],
  withdrawn: [],
  expired: [],
  failed: [],
};

/** Chinese labels for screens and the contract. */
export const STAGE_LABELS_ZH: Readonly<Record<Stage, string>> = {
  intake: '受理',
  document_check: '资料审核',
  phone_verification: '电话核实',
  valuation: '车辆评估',
  approval: '审批',
  signing: '签约',
  disbursement: '放款',
  servicing: '还款中',
  closed: '已结清',
  rejected: '已拒绝',
  withdrawn: '已撤回',
  expired: '已过期',
  failed: '失败',
};

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  /** A stable type string, e.g. for ApplicationFailure.type in a workflow. */
  static readonly type = 'IllegalTransition';
  constructor(
    readonly from: Stage,
    readonly to: Stage,
  ) {
    super(`illegal stage transition ${from} -> ${to}`);
  }
}

const STAGE_SET: ReadonlySet<string> = new Set(STAGES);

export function isStage(value: unknown): value is Stage {
  return typeof value === 'string' && STAGE_SET.has(value);
}

export function isTerminal(stage: Stage): stage is TerminalStage {
  return (TERMINAL_STAGES as readonly string[]).includes(stage);
}

export function canTransition(from: Stage, to: Stage): boolean {
  return STAGE_TRANSITIONS[from]?.includes(to) ?? false;
}

/** Returns `to` when the move is allowed, throws IllegalTransitionError otherwise. */
export function assertTransition(from: Stage, to: Stage): Stage {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
  return to;
}

/** The applicant may withdraw in any stage before disbursement. */
export function withdrawable(stage: Stage): boolean {
  return canTransition(stage, 'withdrawn');
}

/** The stages `from` can move to. */
export function nextStages(from: Stage): readonly Stage[] {
  return STAGE_TRANSITIONS[from] ?? [];
}
