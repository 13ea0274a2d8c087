import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { decryptApplicant, loadApplicationRecord } from './applications';
import type { CallTaskRef, CancelCallTaskInput, CancelCallTaskResult, OpenCallTaskInput } from './contracts';
import { FailureType, refusalCode } from '../contracts/failures';
import type { CallCentreClient } from './providers';

/** The verification script the verifier follows (identity, income, purpose, anomalies). */
export const VERIFICATION_SCRIPT = 'loan_verification_v1';

export function createCallCentreActivities(deps: { db: Db; cipher: PiiCipher; callCentre: CallCentreClient }) {
  const { db, cipher, callCentre } = deps;
  return {
    /** Opens the verification call task of one attempt; the same key is the same task. */
    async openCallTask(input: OpenCallTaskInput): Promise<CallTaskRef> {
      const { applicant } = await loadApplicationRecord(db, input.applicationId);
      const { phone } = decryptApplicant(cipher, applicant);
      const task = await callCentre.createTask({
        applicationId: input.applicationId,
        idempotencyKey: input.idempotencyKey,
        phone,
        script: VERIFICATION_SCRIPT,
        // A retry after an unanswered call goes to the front of the verifiers' queue.
        priority: input.attempt > 1 ? 'high' : 'normal',
      });
      return { taskId: task.taskId, status: task.status };
    },

    /** Compensation: cancels an open call task; a call already made or a task unknown is no error. */
    async cancelCallTask(input: CancelCallTaskInput): Promise<CancelCallTaskResult> {
      try {
        await callCentre.cancelTask(input.taskId, input.reasonCode);
        return { taskId: input.taskId, status: 'cancelled' };
      } catch (err) {
        if (refusalCode(err, FailureType.CallTaskRefused) === 'task_already_completed') {
          return { taskId: input.taskId, status: 'already_completed' };
        }
        if (refusalCode(err, FailureType.ProviderResourceNotFound) !== null) return { taskId: input.taskId, status: 'not_found' };
        throw err;
      }
    },
  };
}
