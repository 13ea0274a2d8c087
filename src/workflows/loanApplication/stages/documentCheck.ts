import { call, ocr } from '../activities';
import { shanghaiDate } from '../../../domain';
import { waitUntil } from '../humanWaits';
import { StageExit, type ApplicationRun } from '../run';

const RESOLVED_WHEN_COMPLETE = ['DOCUMENTS_MISSING', 'DOCUMENTS_INCONSISTENT', 'ID_CARD_EXPIRED', 'DRIVER_LICENSE_EXPIRED'];

/** OCR of every unread document, then the set judged complete and consistent or not. */
async function readDocuments(run: ApplicationRun): Promise<boolean> {
  const { applicationId, state } = run;
  const unread = await call(run.db.unreadDocuments, 'list documents OCR has not read', { applicationId });
  const asOfDate = shanghaiDate(run.now());
  const readings = await Promise.all(
    unread.map((documentId) => call(ocr.recognizeDocument, `OCR document ${documentId}`, { applicationId, documentId, asOfDate })),
  );
  const set = await call(run.db.evaluateDocumentSet, 'check the document set: present, consistent, unexpired', { applicationId });
  state.documents = { required: set.required, missing: set.missing, problems: set.problems };
  for (const code of set.reasonCodes) run.addFlag(code);
  if (set.complete) {
    for (const code of RESOLVED_WHEN_COMPLETE) {
      const i = state.flags.indexOf(code);
      if (i >= 0) state.flags.splice(i, 1);
    }
  }
  await run.recordEvent('documents_checked', `documents:${++run.documentChecks}`, {
    read: readings.map((r) => ({ documentId: r.documentId, type: r.type, status: r.status, problems: r.problems })),
    missing: set.missing,
    problems: set.problems,
    complete: set.complete,
  });
  return set.complete;
}

/** document_check: read what is there; until the set is complete, ask the officer and wait (7 days). */
export async function documentCheck(run: ApplicationRun, afterRequestInfo: boolean): Promise<void> {
  const { state } = run;
  await run.enter('document_check', afterRequestInfo ? { after: 'request_info' } : {});
  const deadlineAt = run.now() + run.policy.deadlines.documentSetMs;
  // After request_info the approver wants something new: wait for it before judging the set again.
  let needNew = afterRequestInfo;
  for (;;) {
    // Counted before reading: documents that arrive while OCR runs are not waited for again.
    const seen = run.documentArrivals;
    if (!needNew && (await readDocuments(run))) return;
    needNew = false;
    if (!state.pendingTask) {
      await run.setPending('submit_documents', 'officer', deadlineAt);
      if (state.documents.missing.length > 0) {
        await run.notify('documents_missing', `documents-missing/${state.stageHistory.length}`, { count: state.documents.missing.length });
      }
    }
    if (!(await waitUntil(run, () => run.documentArrivals > seen, deadlineAt, 'document set: expire after 7 days without a complete set'))) {
      throw new StageExit('expired', 'DOCUMENTS_INCOMPLETE');
    }
  }
}
