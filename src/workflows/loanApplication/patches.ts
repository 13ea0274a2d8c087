/**
 * The `patched()` ids of the application workflow: each names a change in the commands a run
 * issues. A run that started before a change replays its old branch; new runs, and old runs past
 * the point where they first meet the change, take the new one. A patch's old branch is removed
 * only once no open run can still be on it (the release procedure in docs/architecture.md).
 */
export const PATCH = {
  /** The applications row also mirrors the pending task's clock, escalation and approvals (decided once, at the start). */
  mirrorTaskDetail: 'mirror-task-detail',
  /** Every act taken live needs the API's signed proof (actProof.ts). */
  actProofs: 'act-proofs',
  /** An act for the stage shown, arriving before the step that takes it, waits for that step instead of being refused. */
  earlyActs: 'early-acts',
  /** An act that completes the pending task clears it as it is applied, so its answer and the work queue no longer show it. */
  actCompletesTask: 'act-completes-task',
  /** A pending payout is waited for by one activity retried at a fixed interval, not a timer and a look every 5 s. */
  transferSettlementActivity: 'transfer-settlement-activity',
  /**
   * The run ends once the loan's servicing run has started (result stage `servicing`, reason
   * HANDED_TO_SERVICING) instead of waiting years for it; the servicing run gets what it describes
   * the loan with and records the application's closure. Decided just before the child starts
   * (a lean run takes it without a marker).
   */
  handOverToServicing: 'hand-over-to-servicing',
  /** Bookkeeping leaves the history: each loan_events row and the applications row written together by one ordered local activity (decided once, at the start). */
  leanHistory: 'lean-history',
} as const;
