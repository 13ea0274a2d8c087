import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes of a loan run: what an engineer filters by in the Temporal UI.
 * Never personal data: stage, channel, branch, amount, the waiting task and the risk grade only.
 */
export const LoanStage = defineSearchAttributeKey('LoanStage', SearchAttributeType.KEYWORD);
export const LoanChannel = defineSearchAttributeKey('LoanChannel', SearchAttributeType.KEYWORD);
export const BranchId = defineSearchAttributeKey('BranchId', SearchAttributeType.KEYWORD);
export const LoanAmountFen = defineSearchAttributeKey('LoanAmountFen', SearchAttributeType.INT);
export const PendingTask = defineSearchAttributeKey('PendingTask', SearchAttributeType.KEYWORD);
export const RiskGrade = defineSearchAttributeKey('RiskGrade', SearchAttributeType.KEYWORD);
/** Servicing: the loan's overdue bucket (M1, M2, M3, M3+) or `none`. */
export const OverdueBucket = defineSearchAttributeKey('OverdueBucket', SearchAttributeType.KEYWORD);
/** Set (to the reason code) when an engineer acted on the emergency path: `EmergencyAct IS NOT NULL`. */
export const EmergencyAct = defineSearchAttributeKey('EmergencyAct', SearchAttributeType.KEYWORD);

export const LOAN_SEARCH_ATTRIBUTES = [LoanStage, LoanChannel, BranchId, LoanAmountFen, PendingTask, RiskGrade, OverdueBucket, EmergencyAct] as const;
