/**
 * Workflow interceptors that report every command a run issues through a sink, for
 * scripts/replay-commands/compare.ts: activities with their input, timers, child workflows,
 * signals to other workflows and continue-as-new. Each call passes straight to the next
 * interceptor, so the run issues the same commands as without it.
 */
import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export interface CommandLogSinks extends Sinks {
  commandLog: { record(command: unknown): void };
}

const { commandLog } = proxySinks<CommandLogSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        commandLog.record({ activity: input.activityType, summary: input.options.summary, args: input.args });
        return next(input);
      },
      scheduleLocalActivity(input, next) {
        commandLog.record({ localActivity: input.activityType, args: input.args });
        return next(input);
      },
      startTimer(input, next) {
        commandLog.record({ timer: input.durationMs, summary: input.options?.summary });
        return next(input);
      },
      startChildWorkflowExecution(input, next) {
        commandLog.record({ child: input.workflowType, id: input.options.workflowId, args: input.options.args });
        return next(input);
      },
      signalWorkflow(input, next) {
        commandLog.record({ signal: input.signalName, target: input.target, args: input.args });
        return next(input);
      },
      continueAsNew(input, next) {
        commandLog.record({ continueAsNew: input.options.workflowType, args: input.args });
        return next(input);
      },
    },
  ],
});
