import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { validateResidentId } from '../../src/domain';
import { RECORDING, historyToJson, readableText, workflowIdOf, storedHistories } from '../helpers/histories';
import { describeUnless } from '../helpers/skips';
import { workflowBundle } from '../helpers/temporal';

// The stored histories of every loan-application path and of the servicing runs (test/workflow/histories/, regenerated with
// RECORD_HISTORIES=1) replayed against the current workflow code: a change that would break the
// applications already running fails here, before it reaches a worker.

const histories = storedHistories();
describeUnless(RECORDING ? 'RECORD_HISTORIES=1 rewrites the histories this suite replays' : undefined, 'replay of stored loan-application histories', () => {
  it('has a history for each path', () => {
    const names = histories.map(([name]) => name);
    for (const expected of [
      'happy-new-branch',
      'happy-used-branch',
      'happy-closed-early-payoff',
      'rejected-auto-decline',
      'rejected-by-approver',
      'request-info-loop',
      'four-eyes',
      'phone-unreachable-then-passed',
      'expired-phone-verification',
      'expired-offer',
      'withdrawn-signing',
      'failed-disbursement',
      'forged-acts-refused',
      // Servicing runs of the release before the ledger: a servicing run lives for years, so a
      // run of that shape must keep replaying until it has continued as new on the new code.
      'servicing-v1-first-run-collateral-and-payments',
      'servicing-v1-buckets-and-cure',
      'servicing-v1-early-payoff-closed',
      'servicing-v1-refused-and-partial',
      'servicing-v1-repaid-closed',
      'servicing-v1-signals-continue-as-new',
      // Servicing on the ledger (patch servicing-ledger-v2).
      'servicing-ledger-buckets-cure-payoff-run1',
      'servicing-ledger-buckets-cure-payoff-run3',
      'servicing-ledger-repaid-refund-first-run',
      'servicing-ledger-repaid-refund-last-run',
      'servicing-ledger-reversal-waiver-run1',
      'servicing-ledger-prepayment-run1',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('carry no personal data: no ID number, mobile number, bank account or name', () => {
    for (const [name, history] of histories) {
      const text = readableText(historyToJson(history));
      const ids = (text.match(/(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])/g) ?? []).filter((id) => validateResidentId(id, '2099-12-31').valid);
      const phones = text.match(/(?<!\d)1[3-9]\d{9}(?!\d)/g) ?? [];
      const accounts = text.match(/(?<!\d)62\d{14,17}(?!\d)/g) ?? [];
      expect({ name, ids, phones, accounts, names: text.includes('张三') }).toEqual({ name, ids: [], phones: [], accounts: [], names: false });
    }
  });

  it('replays every stored history with the current workflow code', async () => {
    const bundle = await workflowBundle();
    // Runs of one loan share its workflow id: a failure names each history that ran under it.
    const names = new Map<string, string[]>();
    for (const [name, history] of histories) names.set(workflowIdOf(history), [...(names.get(workflowIdOf(history)) ?? []), name]);
    const failures: string[] = [];
    const results = Worker.runReplayHistories(
      { workflowBundle: bundle },
      // Under the ids they ran with: the act proofs in them are signed for those ids.
      histories.map(([, history]) => ({ workflowId: workflowIdOf(history), history })),
    );
    let replayed = 0;
    for await (const r of results) {
      replayed++;
      if (r.error) failures.push(`${names.get(r.workflowId)?.join(' or ') ?? r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(histories.length);
  });

  it('fails a deliberately non-deterministic change of the workflow', async () => {
    const altered = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/nonDeterministicLoanApplication'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
    });
    const [name, history] = histories.find(([n]) => n === 'happy-new-branch')!;
    await expect(Worker.runReplayHistory({ workflowBundle: altered }, history, name)).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
