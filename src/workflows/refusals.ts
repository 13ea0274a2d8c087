/**
 * The one shape in which the loan workflows refuse a message (an act of the application, a
 * repayment or payoff request of servicing): a code the API maps to its answer, the stage the run
 * was in, a message for people, and for an unauthenticated act what was wrong with its proof. It
 * travels as the only detail of a non-retryable ApplicationFailure of the workflow's refusal type
 * (src/contracts/failures.ts), which the API reads back with `refusalDetails`.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { FailureType } from '../contracts/failures';

export interface WorkflowRefusal<C extends string = string> {
  code: C;
  /** The application's stage, or `servicing`. */
  stage: string;
  message: string;
  /** NOT_AUTHENTICATED only: the proof's problem (missing, bad_signature, expired, ...). */
  problem?: string | undefined;
}

export function refusalFailure(type: FailureType, refusal: WorkflowRefusal): ApplicationFailure {
  return ApplicationFailure.create({ type, message: refusal.message, details: [refusal], nonRetryable: true });
}
