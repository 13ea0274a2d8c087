import { condition, defineSignal, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { BranchId, LoanAmountFen, LoanChannel, LoanStage, PendingTask } from './searchAttributes';

/** Ids and non-personal figures only: personal data stays in PostgreSQL. */
export interface LoanApplicationInput {
  applicationId: string;
  channel: string;
  branchId: string;
  amountFen: number;
  termMonths: number;
  submittedBy: string;
}

export const withdrawSignal = defineSignal<[{ actor: string; reason?: string }]>('withdraw');

const { recordLoanEvent, mirrorStage } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

export function loanApplicationWorkflowId(applicationId: string): string {
  return `loan-application-${applicationId}`;
}

export async function loanApplication(input: LoanApplicationInput): Promise<{ stage: string }> {
  let withdrawn = false;
  setHandler(withdrawSignal, () => {
    withdrawn = true;
  });
  upsertSearchAttributes([
    { key: LoanStage, value: 'intake' },
    { key: LoanChannel, value: input.channel },
    { key: BranchId, value: input.branchId },
    { key: LoanAmountFen, value: input.amountFen },
    { key: PendingTask, value: 'none' },
  ]);
  const { workflowId } = workflowInfo();
  await recordLoanEvent({ eventKey: `${workflowId}:stage:intake`, applicationId: input.applicationId, kind: 'stage_entered', actor: 'system', stage: 'intake' });
  await condition(() => withdrawn);
  await mirrorStage({ applicationId: input.applicationId, stage: 'withdrawn', pendingTask: null });
  upsertSearchAttributes([{ key: LoanStage, value: 'withdrawn' }]);
  return { stage: 'withdrawn' };
}
