import { ProviderHttpClient, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export type OcrDocumentType =
  | 'id_card'
  | 'driver_license'
  | 'income_proof'
  | 'purchase_contract'
  | 'vehicle_registration'
  | 'bank_statement'
  | 'marriage_certificate';

export interface OcrRecognizeRequest {
  documentId: string;
  type: OcrDocumentType;
  uri: string;
  sha256: string;
  /** What the application says the document shows; the sandbox reads these back. */
  expected?: { name?: string; idNumber?: string; vin?: string; monthlyIncomeFen?: number; priceFen?: number };
}

/**
 * Fields by document type: id_card name, idNumber, sex, birthDate, address, issuingAuthority,
 * validFrom, expiryDate; driver_license name, licenceNumber, vehicleClass, firstIssueDate,
 * validFrom, expiryDate; income_proof name, employer, monthlyIncomeFen, issueDate; purchase_contract
 * name, vin, priceFen, dealerName, contractDate; vehicle_registration name, vin, plateNumber,
 * registrationDate; bank_statement name, averageMonthlyInflowFen, periodFrom, periodTo;
 * marriage_certificate name, spouseName, certificateNumber, registrationDate. Dates YYYY-MM-DD.
 */
export type OcrFieldName =
  | 'name'
  | 'idNumber'
  | 'sex'
  | 'birthDate'
  | 'address'
  | 'issuingAuthority'
  | 'validFrom'
  | 'expiryDate'
  | 'licenceNumber'
  | 'vehicleClass'
  | 'firstIssueDate'
  | 'employer'
  | 'monthlyIncomeFen'
  | 'issueDate'
  | 'vin'
  | 'priceFen'
  | 'dealerName'
  | 'contractDate'
  | 'plateNumber'
  | 'registrationDate'
  | 'averageMonthlyInflowFen'
  | 'periodFrom'
  | 'periodTo'
  | 'spouseName'
  | 'certificateNumber';

export interface OcrField {
  value: string | number;
  /** 0–1; the sandbox reads clean scans at 0.95 or more. */
  confidence: number;
}

export interface OcrRecognition {
  recognitionId: string;
  documentId: string;
  type: OcrDocumentType;
  fields: Partial<Record<OcrFieldName, OcrField>>;
  minConfidence: number;
  warnings: Array<'low_confidence' | 'document_expired' | (string & {})>;
}

/** Codes of OcrRefused failures. */
export type OcrRefusalCode = 'document_unreadable' | 'unsupported_document_type';

export class OcrClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('ocr', FailureType.OcrRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.ocr,
    });
  }

  /** Reads one document. Idempotent by nature (a pure reading). */
  recognize(req: OcrRecognizeRequest): Promise<OcrRecognition> {
    return this.http.json({ operation: 'recognize', method: 'POST', path: '/v1/documents/recognize', body: req });
  }
}
