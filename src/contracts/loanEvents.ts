/**
 * The kinds of entry in the append-only audit trail (`loan_events`), one list for every writer:
 * the API (acts as staff made them, with the state before and after), the application and
 * servicing workflows (what the process did, through the recordLoanEvent activity). Plain data:
 * workflow code imports it.
 */
export const LOAN_EVENT_KINDS = [
  // Staff acts, as the API audits them (the workflow records the same act as it applies it).
  'application_created',
  'application_refused',
  'task_claimed',
  'task_released',
  'documents_submitted',
  'phone_verification_completed',
  'approval_decision',
  'contract_signed',
  'collateral_registered',
  'withdrawal',
  'act_refused',
  'emergency_act',
  'repayment_recorded',
  'prepayment_recorded',
  // Servicing's four-eyes acts: asked by one finance user, approved or rejected by another.
  'reversal_requested',
  'reversal_approved',
  'reversal_rejected',
  'waiver_requested',
  'waiver_approved',
  'waiver_rejected',
  'refund_requested',
  'refund_approved',
  'refund_rejected',
  'esign_event',
  'pii_read',
  // The application workflow.
  'stage_entered',
  'escalated',
  'compensated',
  'documents_checked',
  'phone_verification_reused',
  'vehicle_valued',
  'credit_assessed',
  'auto_declined',
  'envelope_sent',
  'disbursed',
  'loan_created',
  // The servicing workflow.
  'servicing_started',
  'repayment_refused',
  'early_payoff_quoted',
  'early_payoff_refused',
  'overdue_bucket_entered',
  'overdue_cured',
  'collections_call_refused',
  'collections_handoff',
  'collections_action_failed',
  'collateral_reminder_failed',
  'schedule_text_failed',
  'refund_refused',
  'refund_failed',
  'closed_with_credit',
  'loan_closed',
] as const;
export type LoanEventKind = (typeof LOAN_EVENT_KINDS)[number];

/**
 * The kind of each act of the application workflow (its message name, `approvalDecision`): the API
 * audits the request under it and the workflow records under it how it applied the act. Acts the
 * workflow recorded before it used these kinds keep the message name; `loanEventKind` reads both.
 */
export const WORKFLOW_ACT_EVENT_KINDS = {
  documentsSubmitted: 'documents_submitted',
  phoneVerificationCompleted: 'phone_verification_completed',
  approvalDecision: 'approval_decision',
  contractSigned: 'contract_signed',
  collateralRegistered: 'collateral_registered',
  withdraw: 'withdrawal',
} as const satisfies Record<string, LoanEventKind>;
export type WorkflowActEventName = keyof typeof WORKFLOW_ACT_EVENT_KINDS;

/** The kind an entry of either spelling stands for (to read the trail across both). */
export function loanEventKind(recorded: string): LoanEventKind | null {
  if (recorded in WORKFLOW_ACT_EVENT_KINDS) return WORKFLOW_ACT_EVENT_KINDS[recorded as WorkflowActEventName];
  return (LOAN_EVENT_KINDS as readonly string[]).includes(recorded) ? (recorded as LoanEventKind) : null;
}
