import { loadConfig } from '../../../src/config';
import {
  disbursementKey,
  disbursementReference,
  loanApplicationWorkflowId,
  loanIdForApplication,
  loanServicingWorkflowId,
  REMINDERS_SCHEDULE_ID,
  TASK_QUEUE,
  WORKER_DEPLOYMENT_NAME,
} from '../../../src/domain/ids';

describe('ids', () => {
  it('derives every id from the application or the loan, the same every time', () => {
    expect(loanApplicationWorkflowId('app-1')).toBe('loan-application-app-1');
    expect(loanIdForApplication('app-1')).toBe('L-app-1');
    expect(loanServicingWorkflowId(loanIdForApplication('app-1'))).toBe('loan-servicing-L-app-1');
    // The payout's key names the application, so a retry or a second run pays nothing twice.
    expect(disbursementKey('app-1')).toBe('loan-application-app-1/disbursement');
    expect(disbursementReference('app-1')).toBe('loan-application-app-1');
    expect(REMINDERS_SCHEDULE_ID).toBe('repayment-reminders-daily');
  });

  it('gives the configuration its defaults', () => {
    const c = loadConfig({});
    expect(c.TEMPORAL_TASK_QUEUE).toBe(TASK_QUEUE);
    expect(c.WORKER_DEPLOYMENT_NAME).toBe(WORKER_DEPLOYMENT_NAME);
  });
});
