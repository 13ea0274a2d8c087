import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { FailureType, activityFailureReason, refusalCode, refusalDetails } from '../../src/contracts/failures';

/** The one decoder of refusals: what activities, workflows and the API each read from a failure. */
describe('refusals', () => {
  const refused = (type: string, details?: unknown) => ApplicationFailure.nonRetryable('refused', type, ...(details === undefined ? [] : [details]));
  const fromActivity = (cause?: Error) => new ActivityFailure('activity failed', 'disburseLoan', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', cause);

  it('reads the code of a refusal of the asked type, raised by a provider client or wrapped by an activity', () => {
    const payment = refused(FailureType.PaymentRefused, { provider: 'payments', operation: 'createTransfer', status: 422, code: 'account_closed' });
    expect(refusalCode(payment, FailureType.PaymentRefused)).toBe('account_closed');
    expect(refusalCode(fromActivity(payment), FailureType.PaymentRefused)).toBe('account_closed');
    expect(refusalCode(fromActivity(payment), FailureType.EsignRefused)).toBeNull();
    expect(refusalCode(new Error('boom'), FailureType.PaymentRefused)).toBeNull();
    expect(refusalCode(undefined, FailureType.PaymentRefused)).toBeNull();
    // A refusal that names no code is still a refusal.
    expect(refusalCode(refused(FailureType.PayeeAccountMissing), FailureType.PayeeAccountMissing)).toBe('refused');
  });

  it("reads a workflow's refusal of an update the way the API receives it", () => {
    const act = new WorkflowUpdateFailedError('update failed', refused(FailureType.ActRefused, { code: 'NOT_WAITING', stage: 'approval', message: 'not waiting' }));
    expect(refusalDetails(act, FailureType.ActRefused)).toEqual({ code: 'NOT_WAITING', stage: 'approval', message: 'not waiting' });
    expect(refusalDetails(act, FailureType.ServicingRequestRefused)).toBeNull();
    const servicing = new WorkflowUpdateFailedError('update failed', refused(FailureType.ServicingRequestRefused, { code: 'LOAN_CLOSED' }));
    expect(refusalCode(servicing, FailureType.ServicingRequestRefused)).toBe('LOAN_CLOSED');
  });

  it('names an activity that failed for good by its failure type and code, and nothing else', () => {
    expect(activityFailureReason(fromActivity(refused(FailureType.PaymentRefused, { code: 'account_closed' })))).toBe('PaymentRefused:account_closed');
    expect(activityFailureReason(fromActivity(refused(FailureType.LoanTermsConflict)))).toBe('LoanTermsConflict');
    expect(activityFailureReason(fromActivity(new Error('timeout')))).toBe('ActivityFailed');
    // A bug in workflow code is not an activity's outcome.
    expect(activityFailureReason(new TypeError('x is undefined'))).toBeNull();
    expect(activityFailureReason(refused(FailureType.PaymentRefused))).toBeNull();
  });
});

/** The registry is the one place a failure type is spelled: code raises them by FailureType. */
describe('the registry of failure types', () => {
  const src = join(__dirname, '..', '..', 'src');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });

  it('has no ApplicationFailure in src that names its type by a string of its own', () => {
    const spelled: string[] = [];
    for (const file of files(src)) {
      if (file.endsWith(join('contracts', 'failures.ts'))) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/ApplicationFailure\.(?:nonRetryable|retryable)\([^;]*?,\s*'([A-Za-z]+)'/g)) spelled.push(`${file}: ${m[1]}`);
      for (const m of text.matchAll(/ApplicationFailure\.create\(\{[^}]*?type:\s*'([A-Za-z]+)'/g)) spelled.push(`${file}: ${m[1]}`);
    }
    expect(spelled).toEqual([]);
  });
});
