import { bundleWorkflowCode } from '@temporalio/worker';
import { validateResidentId } from '../../src/domain';
import { RECORDING, historyToJson, readableText, storedHistories } from '../helpers/histories';
import { replayFailures } from '../helpers/replay';
import { describeUnless } from '../helpers/skips';
import { workflowBundle } from '../helpers/temporal';

// The stored histories of every release (test/workflow/histories/<version>/, recorded with
// `npm run histories:record`) replayed against the current workflow code: a change that would
// break a loan still open from any release fails here, naming the run and the event, before it
// reaches a worker. Every release's histories stay: a servicing run lives for years.

const histories = storedHistories();
/** The paths every release records: each application path, and servicing across a continue-as-new. */
const PATHS = [
  'happy-new-branch',
  'happy-used-branch',
  'happy-closed-early-payoff',
  'rejected-auto-decline',
  'rejected-by-approver',
  'request-info-loop',
  'four-eyes',
  'phone-unreachable-then-passed',
  'expired-documents',
  'expired-phone-verification',
  'expired-approval',
  'expired-offer',
  'withdrawn-intake',
  'withdrawn-signing',
  'failed-disbursement',
  'forged-acts-refused',
  'servicing-first-run-continued-as-new',
  'servicing-last-run-carried-over-repaid',
  // Servicing on the ledger (patch servicing-ledger-v2).
  'servicing-ledger-buckets-cure-payoff-run1',
  'servicing-ledger-buckets-cure-payoff-run3',
  'servicing-ledger-repaid-refund-first-run',
  'servicing-ledger-repaid-refund-last-run',
  'servicing-ledger-reversal-waiver-run1',
  'servicing-ledger-prepayment-run1',
  // Acts taken early (patched('early-acts')) and answered with the state as it now is
  // (patched('act-completes-task')).
  'early-phone-verification',
  'early-approval',
  'early-signature',
  'answer-phone-failed',
  'answer-used-car',
  // A pending payout waited for by one activity (patched('transfer-settlement-activity')).
  'disbursement-pending-transfer',
];
/**
 * Paths only one release could record: servicing runs of the code before the ledger, which must
 * keep replaying until every such run has continued as new on the ledger's code.
 */
const RELEASE_ONLY_PATHS: Record<string, string[]> = {
  '0.1.0': [
    'servicing-v1-first-run-collateral-and-payments',
    'servicing-v1-buckets-and-cure',
    'servicing-v1-early-payoff-closed',
    'servicing-v1-refused-and-partial',
    'servicing-v1-repaid-closed',
    'servicing-v1-signals-continue-as-new',
  ],
};

describeUnless(RECORDING ? 'RECORD_HISTORIES=1 records the histories this suite replays' : undefined, 'replay of the stored histories of every release', () => {
  const releases = [...new Set(histories.map((h) => h.release))];

  it('files every history under the release that wrote it, each release with every path', () => {
    expect(histories.filter((h) => h.release === '').map((h) => `${h.name}.json`)).toEqual([]);
    expect(releases).toContain('0.1.0');
    for (const release of releases) {
      const names = histories.filter((h) => h.release === release).map((h) => h.name);
      const expected = [...PATHS, ...(RELEASE_ONLY_PATHS[release] ?? [])];
      expect({ release, missing: expected.filter((p) => !names.includes(p)) }).toEqual({ release, missing: [] });
    }
  });

  it('carry no personal data: no ID number, mobile number, bank account or name', () => {
    for (const { release, name, history } of histories) {
      const text = readableText(historyToJson(history));
      const ids = (text.match(/(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])/g) ?? []).filter((id) => validateResidentId(id, '2099-12-31').valid);
      // Bounded like the ID numbers: a hex signature (an act proof) can hold an 11-digit run.
      const phones = text.match(/(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])/g) ?? [];
      const accounts = text.match(/(?<![0-9A-Za-z])62\d{14,17}(?![0-9A-Za-z])/g) ?? [];
      const file = `${release}/${name}`;
      expect({ file, ids, phones, accounts, names: text.includes('张三') }).toEqual({ file, ids: [], phones: [], accounts: [], names: false });
    }
  });

  it('replays every history of every release with the current workflow code', async () => {
    const { replayed, failures } = await replayFailures(await workflowBundle(), histories);
    expect(failures).toEqual([]);
    expect(replayed).toBe(histories.length);
  });

  it('fails a deliberately non-deterministic change, naming the run and the event', async () => {
    const altered = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/nonDeterministicLoanApplication'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
    });
    const happy = histories.filter((h) => h.name === 'happy-new-branch');
    const { failures } = await replayFailures(altered, happy);
    expect(failures).toHaveLength(happy.length);
    // A timer before intake: the first command the history holds is the intake's search attributes.
    expect(failures[0]).toMatch(/^0\.1\.0\/happy-new-branch: workflow loan-application-app-[0-9a-f]+ \(loanApplication\) parts from its history at event 5 UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: \[TMPRL1100\] Nondeterminism error/);
  });

  it('names the event when the SDK does not: another activity where the history has one', async () => {
    const altered = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/nonDeterministicLoanServicing'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
    });
    const continued = histories.filter((h) => h.release === '0.1.0' && h.name === 'servicing-last-run-carried-over-repaid');
    const { failures } = await replayFailures(altered, continued);
    // The SDK names the two activity types only; the replay of ever longer prefixes finds the event.
    expect(failures).toEqual([
      expect.stringMatching(/^0\.1\.0\/servicing-last-run-carried-over-repaid: workflow loan-servicing-L-svc-c \(loanServicing\) parts from its history at event \d+ ACTIVITY_TASK_SCHEDULED loadServicingSnapshot: \[TMPRL1100\] Nondeterminism error: Activity type of scheduled event 'loadServicingSnapshot' does not match activity type of activity command 'recordLoanEvent'/),
    ]);
  });
});
