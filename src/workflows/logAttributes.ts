import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { LoanStage } from './searchAttributes';

/**
 * Workflow interceptor module (bundled with the workflows, registered in src/worker.ts): every log
 * line a loan workflow writes also carries its current stage, read from the LoanStage search
 * attribute the workflow publishes at each move. The SDK already adds workflowId, runId and type.
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      getLogAttributes(attributes, next) {
        const stage = workflowInfo().typedSearchAttributes.get(LoanStage);
        return next(stage ? { ...attributes, stage } : attributes);
      },
    },
  ],
});
