import { eq } from 'drizzle-orm';
import { applications } from '../../src/db/schema';
import { keepHistory } from '../helpers/histories';
import { decide, phoneOutcome, registerCollateral, signOnSite, useLoanWorld, walkToApproval, waitForState, waitForTask, type LoanWorld } from '../helpers/loanWorld';
import { eventually } from '../helpers/servicing';

// An accepted act is answered with the state as it now is (issue 22, item 5): the state after the
// act was applied and the workflow reacted to it in the same workflow task: the task the act
// completed is gone, the task the workflow set next is there. Never the task just done. An act that
// ends its stage answers with the stage it moved the run to (the run's reaction goes through the
// next stage entry, whose bookkeeping is one write with the act's: issue 17).

let w: LoanWorld;
useLoanWorld((world) => ({ w } = world));

/** The work queue's row (the mirror): what a person's queue shows. */
async function queued(applicationId: string) {
  const [row] = await w.h.db.select({ stage: applications.stage, pendingTask: applications.pendingTask }).from(applications).where(eq(applications.id, applicationId));
  return row!;
}

describe('the answer to an accepted act', () => {
  it('a failed phone verification: the call task is gone from the answer and the queue while the rejection is sent', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    const answer = await phoneOutcome(handle, 'failed');
    expect(answer.stage).toBe('phone_verification');
    expect(answer.pendingTask).toBeNull();
    // The workflow's reaction in the same task is in the answer: the outcome flagged.
    expect(answer.flags).toContain('PHONE_VERIFICATION_FAILED');
    await waitForState(handle, (s) => s.stage === 'rejected', 'rejected');
    expect(await queued(seeded.applicationId)).toEqual({ stage: 'rejected', pendingTask: null });
    await keepHistory(handle, 'answer-phone-failed');
  });

  it('unreachable: no task in the answer (the next call is being set up, attempt 2), then the next attempt waits', async () => {
    const seeded = await w.seed();
    const handle = await w.start(seeded);
    await waitForTask(handle, 'phone_verification');
    const answer = await phoneOutcome(handle, 'unreachable');
    expect(answer).toMatchObject({ stage: 'phone_verification', pendingTask: null, phoneAttempts: 2 });
    expect(answer.flags).toContain('PHONE_UNREACHABLE');
    await waitForTask(handle, 'phone_verification', (s) => s.pendingTask?.attempt === 2);
    const passed = await phoneOutcome(handle, 'passed');
    expect(passed.pendingTask).toBeNull();
    await waitForTask(handle, 'approval');
    await keepHistory(handle, 'answer-phone-unreachable-then-passed');
  });

  it('four eyes: the first approval answers with one of two, the second with no task; the signature of a new car with none', async () => {
    const seeded = await w.seed({ vehicle: { priceFen: 40_000_000 }, loan: { amountFen: 25_000_000 }, applicant: { monthlyIncomeFen: 6_000_000 } });
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    const first = await decide(handle, 'approver-1');
    expect(first.pendingTask).toMatchObject({ kind: 'approval', approvalsNeeded: 2, approvedBy: ['approver-1'] });
    const second = await decide(handle, 'approver-2');
    expect(second).toMatchObject({ stage: 'signing', pendingTask: null });
    await waitForTask(handle, 'sign_contract');
    const signed = await signOnSite(handle);
    expect(signed).toMatchObject({ stage: 'disbursement', pendingTask: null });
    await waitForState(handle, (s) => s.stage === 'servicing', 'servicing');
    await keepHistory(handle, 'answer-four-eyes');
  });

  it('a used car: the signature answers with the mortgage registration owed, the registration with nothing', async () => {
    const seeded = await w.seed({ vehicle: { condition: 'used' } });
    const handle = await w.start(seeded);
    await walkToApproval(handle);
    await decide(handle, 'approver-1');
    await waitForTask(handle, 'sign_contract');
    const signed = await signOnSite(handle);
    expect(signed.pendingTask).toMatchObject({ kind: 'register_collateral', role: 'officer' });
    await eventually(async () => expect(await queued(seeded.applicationId)).toEqual({ stage: 'signing', pendingTask: 'register_collateral' }), 120_000);
    const registered = await registerCollateral(handle);
    expect(registered).toMatchObject({ stage: 'disbursement', pendingTask: null, collateralRegistered: true });
    await waitForState(handle, (s) => s.stage === 'servicing', 'servicing');
    await keepHistory(handle, 'answer-used-car');
  });
});
