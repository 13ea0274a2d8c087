import { ApplicationFailure } from '@temporalio/common';
import { count, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { screenApplicant } from '../db/openApplications';
import type { PiiCipher } from '../db/pii';
import { applicants, applications, documents, vehicles } from '../db/schema';
import { FailureType } from '../contracts/failures';
import { type ApplicationFacts, type ApplicationRef, type ScreenResult } from './contracts';

export type ApplicationRow = typeof applications.$inferSelect;
export type ApplicantRow = typeof applicants.$inferSelect;
export type VehicleRow = typeof vehicles.$inferSelect;

export interface ApplicationRecord {
  application: ApplicationRow;
  applicant: ApplicantRow;
  vehicle: VehicleRow | null;
}

/** The applicant's personal data in clear: for the activity's own HTTP call, never returned. */
export interface ApplicantPii {
  name: string;
  idNumber: string;
  phone: string;
  bankAccount: string | null;
}

/** The application with its applicant and vehicle; a missing row is a non-retryable ApplicationNotFound. */
export async function loadApplicationRecord(db: Db, applicationId: string): Promise<ApplicationRecord> {
  const rows = await db
    .select({ application: applications, applicant: applicants, vehicle: vehicles })
    .from(applications)
    .innerJoin(applicants, eq(applications.applicantId, applicants.id))
    .leftJoin(vehicles, eq(vehicles.applicationId, applications.id))
    .where(eq(applications.id, applicationId))
    .limit(1);
  const row = rows[0];
  if (!row) {
    throw ApplicationFailure.nonRetryable(`application ${applicationId} not found`, FailureType.ApplicationNotFound);
  }
  return { application: row.application, applicant: row.applicant, vehicle: row.vehicle };
}

export function decryptApplicant(cipher: PiiCipher, applicant: ApplicantRow): ApplicantPii {
  return {
    name: cipher.decrypt(applicant.nameEnc),
    idNumber: cipher.decrypt(applicant.idNumberEnc),
    phone: cipher.decrypt(applicant.phoneEnc),
    bankAccount: applicant.bankAccountEnc ? cipher.decrypt(applicant.bankAccountEnc) : null,
  };
}

export function createApplicationActivities(deps: { db: Db; orphanAfterMs: number }) {
  const { db, orphanAfterMs } = deps;
  return {
    /**
     * Intake screen, the authority: the applicant's ID number on the blacklist, or another
     * application of the same person holding the person's open-application claim (by the keyed
     * hash, never the number). The application the API claimed the person for holds it already and
     * confirms it here; one whose claim was taken over (it was an orphan when the person was
     * submitted again) is the duplicate. Of two racing for one person exactly one holds the claim.
     */
    async screenApplication({ applicationId }: ApplicationRef): Promise<ScreenResult> {
      const { applicant } = await loadApplicationRecord(db, applicationId);
      const { blacklisted, holder } = await screenApplicant(db, { idNumberHash: applicant.idNumberHash, applicationId, orphanAfterMs, workflowSeen: true });
      if (blacklisted) return { outcome: 'blacklisted', reasonCode: 'BLACKLISTED', duplicateOfApplicationId: null };
      if (holder !== applicationId) return { outcome: 'duplicate', reasonCode: 'DUPLICATE_APPLICATION', duplicateOfApplicationId: holder };
      return { outcome: 'clear', reasonCode: null, duplicateOfApplicationId: null };
    },

    /** The stored application as the workflow may see it: no personal data. */
    async loadApplicationFacts({ applicationId }: ApplicationRef): Promise<ApplicationFacts> {
      const { application: a, applicant, vehicle: v } = await loadApplicationRecord(db, applicationId);
      const [docs] = await db.select({ n: count() }).from(documents).where(eq(documents.applicationId, applicationId));
      return {
        applicationId: a.id,
        channel: a.channel,
        branchId: a.branchId,
        dealerId: a.dealerId,
        submittedBy: a.submittedBy,
        amountFen: a.amountFen,
        termMonths: a.termMonths,
        repaymentMethod: a.repaymentMethod,
        vehicle: v
          ? { condition: v.condition, energy: v.energy, usage: v.usage, priceFen: v.priceFen, year: v.year, mileageKm: v.mileageKm }
          : null,
        documentCount: Number(docs?.n ?? 0),
        hasBankAccount: applicant.bankAccountEnc !== null,
      };
    },
  };
}
