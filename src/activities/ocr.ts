import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { documents } from '../db/schema';
import { compareDates, type DocumentType } from '../domain';
import { decryptApplicant, loadApplicationRecord } from './applications';
import { FailureType } from '../contracts/failures';
import type { DocumentProblem, DocumentReading, RecognizeDocumentInput } from './contracts';
import type { OcrClient, OcrRecognition, OcrRecognizeRequest } from './providers';

/** Below this confidence a reading is not trusted: the officer rescans the document. */
export const MIN_OCR_CONFIDENCE = 0.8;

/** What we keep of a reading: codes and figures, never the fields read (they are personal data). */
export interface StoredReading {
  recognitionId: string | null;
  minConfidence: number | null;
  warnings: string[];
  problems: DocumentProblem[];
}

export function createOcrActivities(deps: { db: Db; cipher: PiiCipher; ocr: OcrClient }) {
  const { db, cipher, ocr } = deps;
  return {
    /**
     * Reads one document with the OCR provider and compares it with the application: name, ID
     * number, VIN, expiry and confidence. Stores the outcome on the document row; a document
     * already read answers from that row, so a retry or a replay of the stage calls OCR once.
     */
    async recognizeDocument(input: RecognizeDocumentInput): Promise<DocumentReading> {
      const [doc] = await db
        .select()
        .from(documents)
        .where(and(eq(documents.id, input.documentId), eq(documents.applicationId, input.applicationId)))
        .limit(1);
      if (!doc) {
        throw ApplicationFailure.nonRetryable(`document ${input.documentId} not found`, FailureType.DocumentNotFound);
      }
      const type = doc.type as DocumentType;
      if (doc.ocrStatus !== 'pending') return toReading(doc.id, type, doc.ocrStatus, doc.ocrResult as StoredReading | null);

      const { applicant, vehicle } = await loadApplicationRecord(db, input.applicationId);
      const pii = decryptApplicant(cipher, applicant);
      const expected: NonNullable<OcrRecognizeRequest['expected']> = { name: pii.name, idNumber: pii.idNumber };
      if (vehicle && (type === 'purchase_contract' || type === 'vehicle_registration')) expected.vin = vehicle.vin;
      if (vehicle && type === 'purchase_contract') expected.priceFen = vehicle.priceFen;
      if (type === 'income_proof') expected.monthlyIncomeFen = applicant.monthlyIncomeFen;

      let stored: StoredReading;
      let status: 'read' | 'unreadable';
      try {
        const r = await ocr.recognize({ documentId: doc.id, type, uri: doc.uri, sha256: doc.sha256, expected });
        stored = {
          recognitionId: r.recognitionId,
          minConfidence: r.minConfidence,
          warnings: r.warnings.map(String),
          problems: compare(r, type, { name: pii.name, idNumber: pii.idNumber, vin: vehicle?.vin ?? null }, input.asOfDate),
        };
        status = 'read';
      } catch (err) {
        if (!(err instanceof ApplicationFailure) || err.type !== FailureType.OcrRefused) throw err;
        stored = { recognitionId: null, minConfidence: null, warnings: [], problems: ['UNREADABLE'] };
        status = 'unreadable';
      }
      await db
        .update(documents)
        .set({ ocrStatus: status, ocrResult: stored })
        .where(and(eq(documents.id, doc.id), eq(documents.ocrStatus, 'pending')));
      return toReading(doc.id, type, status, stored);
    },
  };
}

function toReading(documentId: string, type: DocumentType, status: string, stored: StoredReading | null): DocumentReading {
  return {
    documentId,
    type,
    status: status === 'unreadable' ? 'unreadable' : 'read',
    recognitionId: stored?.recognitionId ?? null,
    minConfidence: stored?.minConfidence ?? null,
    problems: stored?.problems ?? [],
  };
}

const norm = (v: unknown) => String(v ?? '').trim().toUpperCase();

/** The problems of one reading against what the application says. */
export function compare(
  r: OcrRecognition,
  type: DocumentType,
  expected: { name: string; idNumber: string; vin: string | null },
  asOfDate: string,
): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  const f = r.fields;
  if (r.minConfidence < MIN_OCR_CONFIDENCE) problems.push('LOW_CONFIDENCE');
  if (f.name !== undefined && norm(f.name.value) !== norm(expected.name)) problems.push('NAME_MISMATCH');
  const idRead = type === 'id_card' ? f.idNumber : type === 'driver_license' ? f.licenceNumber : undefined;
  if (idRead !== undefined && norm(idRead.value) !== norm(expected.idNumber)) problems.push('ID_NUMBER_MISMATCH');
  if (expected.vin !== null && f.vin !== undefined && norm(f.vin.value) !== norm(expected.vin)) problems.push('VIN_MISMATCH');
  const expiry = f.expiryDate?.value;
  if ((type === 'id_card' || type === 'driver_license') && typeof expiry === 'string' && compareDates(expiry, asOfDate) < 0) {
    problems.push(type === 'id_card' ? 'ID_CARD_EXPIRED' : 'DRIVER_LICENSE_EXPIRED');
  }
  return problems;
}
