import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { applications, documents, vehicles } from '../db/schema';
import { type Channel, type DocumentType, type VehicleCondition, missingDocuments, requiredDocuments, DEFAULT_POLICY } from '../domain';
import type { ApplicationRef, DocumentProblem, DocumentSetEvaluation } from './contracts';
import type { StoredReading } from './ocr';

/** What each document problem amounts to as a domain reason code. */
const PROBLEM_REASON: Record<DocumentProblem, string> = {
  UNREADABLE: 'DOCUMENTS_INCONSISTENT',
  LOW_CONFIDENCE: 'DOCUMENTS_INCONSISTENT',
  NAME_MISMATCH: 'DOCUMENTS_INCONSISTENT',
  ID_NUMBER_MISMATCH: 'DOCUMENTS_INCONSISTENT',
  VIN_MISMATCH: 'DOCUMENTS_INCONSISTENT',
  ID_CARD_EXPIRED: 'ID_CARD_EXPIRED',
  DRIVER_LICENSE_EXPIRED: 'DRIVER_LICENSE_EXPIRED',
};

export function createDocumentActivities(deps: { db: Db }) {
  const { db } = deps;
  return {
    /** Ids of the application's documents OCR has not read yet, oldest first. */
    async unreadDocuments({ applicationId }: ApplicationRef): Promise<string[]> {
      const rows = await db
        .select({ id: documents.id })
        .from(documents)
        .where(and(eq(documents.applicationId, applicationId), eq(documents.ocrStatus, 'pending')))
        .orderBy(asc(documents.submittedAt), asc(documents.id));
      return rows.map((r) => r.id);
    },

    /**
     * Whether the application's documents make a complete, consistent set: every required type
     * present (by vehicle condition and channel), and the latest document of each type read
     * without problems (a newer scan of a type supersedes an older one).
     */
    async evaluateDocumentSet({ applicationId }: ApplicationRef): Promise<DocumentSetEvaluation> {
      const [app] = await db
        .select({ channel: applications.channel, condition: vehicles.condition })
        .from(applications)
        .leftJoin(vehicles, eq(vehicles.applicationId, applications.id))
        .where(eq(applications.id, applicationId))
        .limit(1);
      const required = requiredDocuments(
        { condition: (app?.condition ?? 'new') as VehicleCondition, channel: (app?.channel ?? 'branch') as Channel },
        DEFAULT_POLICY.documents,
      );
      const rows = await db
        .select()
        .from(documents)
        .where(eq(documents.applicationId, applicationId))
        .orderBy(asc(documents.submittedAt), asc(documents.id));
      const latest = new Map<DocumentType, (typeof rows)[number]>();
      for (const row of rows) latest.set(row.type as DocumentType, row);

      const missing = missingDocuments(required, [...latest.keys()]);
      const problems: string[] = [];
      const reasonCodes = new Set<string>();
      let unread = 0;
      for (const [type, row] of latest) {
        if (row.ocrStatus === 'pending') {
          unread++;
          continue;
        }
        for (const p of (row.ocrResult as StoredReading | null)?.problems ?? []) {
          problems.push(`${type}:${p}`);
          reasonCodes.add(PROBLEM_REASON[p]);
        }
      }
      if (missing.length > 0) reasonCodes.add('DOCUMENTS_MISSING');
      return {
        required,
        missing,
        problems,
        reasonCodes: [...reasonCodes].sort(),
        complete: missing.length === 0 && problems.length === 0 && unread === 0,
        unread,
      };
    },
  };
}
