/**
 * The `patched()` ids of the servicing workflow, which is auto-upgrade (a run moves to the current
 * build at its next task): every change in the commands a run issues goes behind one of these, new
 * branch first. Retired as the release procedure in docs/architecture.md says.
 */
export const PATCH = {
  /** The marker of runs on the ledger (runs without it are the previous release's, loanServicingLegacy/). */
  ledger: 'servicing-ledger-v2',
  /** Every act taken live needs the API's signed proof (shared with the application workflow). */
  actProofs: 'act-proofs',
  /**
   * A run the application handed its loan to (input `handedOver`) records the application's
   * closure when it closes the loan: the applications row and a `stage_entered` closed event.
   */
  closesApplication: 'servicing-closes-application',
} as const;
