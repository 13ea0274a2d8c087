import { testValues } from '../../src/sandbox';
import { keepHistory } from '../helpers/histories';
import { signOnSite, useLoanWorld, waitForState, walkToSigning, type LoanWorld } from '../helpers/loanWorld';
import { eventually } from '../helpers/servicing';

// A payout the bank answers `pending` is waited for by one activity that fails (retryably) while
// the transfer is pending and is retried every 5 s: the attempts are the activity's, not the
// history's, so however long the bank takes the run adds one activity and no timer (issue 16).
// The sandbox's clock is the test's: the transfer stays pending until the test moves it on.

let clockOffsetMs = 0;
let w: LoanWorld;
useLoanWorld(
  (world) => ({ w } = world),
  undefined,
  { paymentPendingMs: 24 * 3_600_000, now: () => new Date(Date.now() + clockOffsetMs) },
);

describe('disbursement', () => {
  it('waits for a pending transfer with one activity retried until it settles, then books the loan', async () => {
    const seeded = await w.seed({ channel: 'branch', applicant: { bankAccount: testValues.PAYMENTS_PENDING_ACCOUNT } });
    const handle = await w.start(seeded);
    await walkToSigning(handle);
    await signOnSite(handle);
    // The transfer is pending and the activity has already been turned away at least once.
    const waiting = await eventually(async () => {
      const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'awaitTransferSettled');
      expect(pending?.attempt).toBeGreaterThan(1);
      return pending!;
    }, 180_000);
    expect(waiting.lastFailure?.message).toMatch(/still pending/);
    // A day later (the sandbox's clock), the bank has settled it.
    clockOffsetMs += 24 * 3_600_000;
    const s = await waitForState(handle, (x) => x.stage === 'servicing' || x.stage === 'failed', 'servicing', 180_000);
    expect(s.stage).toBe('servicing');

    const events = (await handle.fetchHistory()).events ?? [];
    const at = (type: string) => events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type);
    // The loan's booking is a local activity (issue 17): its marker, found by its summary.
    const summary = (e: (typeof events)[number]) => Buffer.from(e.userMetadata?.summary?.data ?? new Uint8Array()).toString('utf8');
    const booking = events.findIndex((e) => e.markerRecordedEventAttributes && summary(e) === JSON.stringify('store the loan and its repayment schedule'));
    const [payout, settled, booked] = [at('disburseLoan'), at('awaitTransferSettled'), booking];
    expect(payout).toBeGreaterThan(0);
    expect(settled).toBeGreaterThan(payout);
    expect(booked).toBeGreaterThan(settled);
    const between = events.slice(payout, booked);
    // Between the payout and the loan: no timer, no look at the transfer but the one activity.
    expect(between.filter((e) => e.timerStartedEventAttributes)).toEqual([]);
    expect(between.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'transferStatus')).toEqual([]);
    const done = between.find((e) => e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === String(events[settled]!.eventId));
    expect(JSON.parse(Buffer.from(done!.activityTaskCompletedEventAttributes!.result!.payloads![0]!.data!).toString('utf8'))).toMatchObject({ status: 'succeeded' });
    await keepHistory(handle, 'disbursement-pending-transfer');
  });
});
