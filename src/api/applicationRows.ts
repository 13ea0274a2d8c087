import type { PiiCipher } from '../db/pii';
import type { applicants, applications, documents, vehicles } from '../db/schema';
import { validateVin } from '../domain';
import { loanApplicationWorkflowId } from '../domain/ids';
import { loanApplicationInput, type LoanApplicationInput } from '../contracts/applicationInput';
import { deterministicUuid } from './idempotency';
import type { CreateApplicationBody } from './schemas/applications';

/**
 * The rows a new application is stored as, and the workflow input that goes with them: personal
 * data encrypted, with keyed hashes beside it for the duplicate and blacklist screens; every key
 * derived from the application id, so a retried create writes the same rows. POST /applications
 * writes these; the tests' seeding helpers call the same function, so they cannot drift from it.
 */
export interface NewApplicationRows {
  applicant: typeof applicants.$inferInsert;
  application: typeof applications.$inferInsert;
  vehicle: typeof vehicles.$inferInsert;
  documents: (typeof documents.$inferInsert)[];
  input: LoanApplicationInput;
  /** Problems found on the way in that do not refuse the application (a VIN check digit). */
  flags: string[];
}

type DocumentInput = NonNullable<CreateApplicationBody['documents']>[number];

export function newApplicationRows(
  cipher: PiiCipher,
  o: { id: string; body: CreateApplicationBody; submittedBy: string; submittedAtMs: number },
): NewApplicationRows {
  const { id, body } = o;
  const vin = validateVin(body.vehicle.vin);
  const idNumber = body.applicant.idNumber.trim().toUpperCase();
  const applicantId = deterministicUuid(`applicant\n${id}`);
  const v = body.vehicle;
  return {
    applicant: {
      id: applicantId,
      nameEnc: cipher.encrypt(body.applicant.name),
      idNumberEnc: cipher.encrypt(idNumber),
      phoneEnc: cipher.encrypt(body.applicant.phone),
      idNumberHash: cipher.lookupHash('id_number', idNumber),
      phoneHash: cipher.lookupHash('phone', body.applicant.phone),
      monthlyIncomeFen: body.applicant.monthlyIncomeFen,
    },
    application: {
      id,
      workflowId: loanApplicationWorkflowId(id),
      applicantId,
      channel: body.channel,
      branchId: body.branchId,
      dealerId: body.dealerId ?? null,
      submittedBy: o.submittedBy,
      amountFen: body.loan.amountFen,
      termMonths: body.loan.termMonths,
      repaymentMethod: body.loan.repaymentMethod,
      stage: 'intake',
    },
    vehicle: {
      id: deterministicUuid(`vehicle\n${id}`),
      applicationId: id,
      vin: vin.normalized,
      make: v.make,
      model: v.model,
      year: v.year,
      condition: v.condition,
      energy: v.energy,
      usage: v.usage,
      priceFen: v.priceFen,
      mileageKm: v.mileageKm,
      firstRegistrationDate: v.firstRegistrationDate ?? null,
    },
    documents: (body.documents ?? []).map((d, i) => documentRow(id, deterministicUuid(`document\n${id}\n${i}`), d, o.submittedBy)),
    // The same function the reconciler rebuilds an orphan's input with, from the stored rows.
    input: loanApplicationInput(
      {
        id,
        channel: body.channel,
        branchId: body.branchId,
        dealerId: body.dealerId ?? null,
        submittedBy: o.submittedBy,
        amountFen: body.loan.amountFen,
        termMonths: body.loan.termMonths,
        repaymentMethod: body.loan.repaymentMethod,
        vehicle: { condition: v.condition, energy: v.energy, usage: v.usage, priceFen: v.priceFen, year: v.year, mileageKm: v.mileageKm },
      },
      o.submittedAtMs,
    ),
    flags: vin.checkDigitOk ? [] : ['VIN_CHECK_DIGIT_MISMATCH'],
  };
}

/** One stored document (at creation or through POST /applications/:id/documents). */
export function documentRow(applicationId: string, documentId: string, d: DocumentInput, submittedBy: string): typeof documents.$inferInsert {
  return { id: documentId, applicationId, type: d.type, uri: d.uri, sha256: d.sha256.toLowerCase(), submittedBy };
}
