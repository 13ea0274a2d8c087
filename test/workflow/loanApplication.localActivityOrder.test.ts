import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import { documentsSubmittedUpdate } from '../../src/workflows/messages';
import { signAct } from '../helpers/acts';
import { useLoanWorld, waitForTask, type LoanWorld } from '../helpers/loanWorld';
import { addDocuments } from '../helpers/seed';
import { workflowBundle } from '../helpers/temporal';

// A lean run's database steps are local activities, and two of them can be asked for in the same
// reaction: an act's bookkeeping (mirrorStage) and the main flow's next read (unreadDocuments, as
// the document check looks again). Live, local activities resolve in the order they finish; on
// replay, from their markers, in another. Whichever finishes first, the run must issue the same
// commands when it replays (a query to a run no longer cached replays it; so does a worker
// restart). Here the read is held back until the act's bookkeeping has been written (for at most
// HOLD_MS): the order that made the update's completion come before the OCR activity live and after
// it on replay, until a run's local activities ran one at a time. Now the bookkeeping waits for the
// read, and no two of the run's local activities are ever in flight together.

let env: TestWorkflowEnvironment;
let w: LoanWorld;
const EventType = temporal.api.enums.v1.EventType;

/** Holds an application's next unreadDocuments until its documents_submitted act has been written (at most HOLD_MS). */
const HOLD_MS = 5_000;
const hold: { applicationId: string | null; reading: boolean; written: Promise<void>; release: () => void } = { applicationId: null, reading: false, written: Promise.resolve(), release: () => undefined };
function arm(applicationId: string) {
  hold.applicationId = applicationId;
  hold.reading = true;
  hold.written = new Promise((resolve) => (hold.release = resolve));
}
/** The most of the run's database steps (local activities) in flight at once. */
const inFlight = { now: 0, most: 0 };
async function counted<T>(step: () => Promise<T>): Promise<T> {
  inFlight.most = Math.max(inFlight.most, ++inFlight.now);
  try {
    return await step();
  } finally {
    inFlight.now--;
  }
}
function holdingTheRead(a: Activities): Activities {
  return {
    ...a,
    loadApplicationFacts: (ref) => counted(() => a.loadApplicationFacts(ref)),
    screenApplication: (ref) => counted(() => a.screenApplication(ref)),
    evaluateDocumentSet: (ref) => counted(() => a.evaluateDocumentSet(ref)),
    mirrorStage: (row) =>
      counted(async () => {
        await a.mirrorStage(row);
        if (row.applicationId === hold.applicationId && row.events?.some((e) => e.kind === 'documents_submitted')) hold.release();
      }),
    unreadDocuments: (ref) => counted(() => read(ref)),
  };
  async function read(ref: Parameters<Activities['unreadDocuments']>[0]) {
    if (ref.applicationId === hold.applicationId && hold.reading) {
      hold.reading = false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([hold.written, new Promise((r) => (timer = setTimeout(r, HOLD_MS)))]);
      clearTimeout(timer);
    }
    return a.unreadDocuments(ref);
  }
}

useLoanWorld((world) => ({ env, w } = world), undefined, { wrapActivities: holdingTheRead });

it('an act whose bookkeeping finishes before the main flow’s read replays as it ran', async () => {
  const seeded = await w.seed({ documents: ['id_card', 'driver_license', 'purchase_contract'] });
  const handle = await w.start(seeded);
  await waitForTask(handle, 'submit_documents');
  const [docId] = await addDocuments(w.h.db, seeded.applicationId, [{ type: 'income_proof' }]);
  arm(seeded.applicationId);
  await handle.executeUpdate(documentsSubmittedUpdate, { args: [await signAct('documentsSubmitted', handle.workflowId, { actor: 'officer-1', documentIds: [docId!] })] });
  const s = await waitForTask(handle, 'phone_verification');
  expect(s.documents.missing).toEqual([]);

  const history = await handle.fetchHistory();
  const failed = (history.events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
  expect(failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message)).toEqual([]);
  await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId)).resolves.toBeUndefined();
  expect(inFlight.most).toBe(1);
});
