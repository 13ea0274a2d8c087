import { RECORDING, historyFromJson, historyToJson, storedHistories, type StoredHistory } from '../helpers/histories';
import { replayFailures } from '../helpers/replay';
import { describeUnless } from '../helpers/skips';
import { localActivitySplitPoints, withTaskBoundaryAfter, type HistoryJson } from '../helpers/taskBoundaries';
import { workflowBundle } from '../helpers/temporal';

// A lean application run's code after a local activity must not depend on which workflow task it
// runs in. A worker answering a query while a local activity is outstanding completes the task
// with the activity's marker and runs what the result wakes in the next task; on replay that code
// runs in the earlier one (test/helpers/taskBoundaries.ts). The upgrade test met it at random: a
// patched() after the servicing entry's write was true live and false on replay. Here every stored
// history of every release that has local activities is replayed with a task ended after each of
// its markers in turn, against the current code.

/** Every variant of every stored history with local activities: one per marker a task could have ended at. */
function variants(): StoredHistory[] {
  return storedHistories().flatMap(({ release, name, history }) => {
    const json = historyToJson(history) as HistoryJson;
    return localActivitySplitPoints(json).map((i) => ({
      release,
      name: `${name} (a task ended after event ${json.events[i]!.eventId})`,
      history: historyFromJson(withTaskBoundaryAfter(json, i)),
    }));
  });
}

describeUnless(RECORDING ? 'RECORD_HISTORIES=1 records the histories this suite replays' : undefined, 'a lean run whose workflow task ends after a local activity', () => {
  it('replays with a task ended after any of its local-activity markers, in every stored history', async () => {
    const all = variants();
    // The lean runs of every release since 0.2.0 have local activities to split at.
    expect(all.length).toBeGreaterThan(100);
    const { replayed, failures } = await replayFailures(await workflowBundle(), all);
    expect(failures).toEqual([]);
    expect(replayed).toBe(all.length);
  });
});
