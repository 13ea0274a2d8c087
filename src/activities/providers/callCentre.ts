import { ProviderHttpClient, seg, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export interface CreateCallTaskRequest {
  applicationId: string;
  /** The same key is the same task (derive it from the workflow id and step). */
  idempotencyKey: string;
  phone: string;
  /** Which verification script the verifier follows, e.g. 'loan_verification_v1'. */
  script: string;
  priority?: 'normal' | 'high';
}

export interface CallTask {
  taskId: string;
  applicationId: string;
  script: string;
  priority: 'normal' | 'high';
  status: 'queued' | 'completed' | 'cancelled';
  outcome: 'passed' | 'failed' | 'unreachable' | null;
  recordingRef: string | null;
  cancelReason: string | null;
  phoneMasked: string;
  createdAt: string;
  updatedAt: string;
}

/** Codes of CallTaskRefused failures; `task_already_completed` answers a cancel of a finished call. */
export type CallTaskRefusalCode = 'invalid_phone_number' | 'number_not_callable' | 'task_already_completed';

export class CallCentreClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('callCentre', FailureType.CallTaskRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.callCentre,
    });
  }

  createTask(req: CreateCallTaskRequest): Promise<CallTask> {
    return this.http.json({ operation: 'createTask', method: 'POST', path: '/v1/tasks', body: req });
  }

  getTask(taskId: string): Promise<CallTask> {
    return this.http.json({ operation: 'getTask', method: 'GET', path: `/v1/tasks/${seg(taskId)}` });
  }

  /** Idempotent; a task already completed is refused (CallTaskRefused, `task_already_completed`). */
  cancelTask(taskId: string, reason?: string): Promise<CallTask> {
    return this.http.json({
      operation: 'cancelTask',
      method: 'POST',
      path: `/v1/tasks/${seg(taskId)}/cancel`,
      body: reason === undefined ? {} : { reason },
    });
  }
}
