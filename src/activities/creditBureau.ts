import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import {
  DEFAULT_POLICY,
  decide,
  isReasonCode,
  reason,
  validateResidentId,
  type DecisionReason,
  type RepaymentMethod,
  type VehicleCondition,
  type VehicleEnergy,
  type VehicleUsage,
} from '../domain';
import { decryptApplicant, loadApplicationRecord } from './applications';
import type { AssessCreditInput, CreditAssessment } from './contracts';
import { FailureType, refusalCode } from '../contracts/failures';
import type { CreditBureauClient, CreditFlag } from './providers';

/** What a bureau flag means for the decision, as a domain reason code. */
const FLAG_REASON: Partial<Record<CreditFlag, 'BLACKLISTED' | 'FRAUD_SUSPECTED'>> = {
  court_enforcement_blacklist: 'BLACKLISTED',
  fraud_alert: 'FRAUD_SUSPECTED',
};

/** The consent the applicant signed at application, referenced by the application id. */
export const creditConsentRef = (applicationId: string) => `consent-${applicationId}`;

export function createCreditBureauActivities(deps: { db: Db; cipher: PiiCipher; creditBureau: CreditBureauClient }) {
  const { db, cipher, creditBureau } = deps;
  return {
    /**
     * Pulls the applicant's credit report and runs the domain decision rules over it, the stored
     * income, the vehicle's valuation and the reasons earlier stages found. The income, birth date
     * and debts stay here; the workflow gets the grade, the price, the reasons and the offer. The
     * bureau answers the same (ID number, consent) with the same report, so a retry is not a second
     * inquiry on the applicant's file.
     */
    async assessCredit(input: AssessCreditInput): Promise<CreditAssessment> {
      const { application, applicant, vehicle } = await loadApplicationRecord(db, input.applicationId);
      const pii = decryptApplicant(cipher, applicant);

      let report: Awaited<ReturnType<CreditBureauClient['pullReport']>> | null = null;
      try {
        report = await creditBureau.pullReport({ idNumber: pii.idNumber, name: pii.name, consentRef: creditConsentRef(application.id) });
      } catch (err) {
        // A thin file is a fact about the applicant, not a failure: it is graded for human review.
        if (refusalCode(err, FailureType.CreditReportRefused) !== 'no_credit_file') throw err;
      }

      const additional: DecisionReason[] = [];
      for (const code of input.additionalReasonCodes) if (isReasonCode(code)) additional.push(reason(code));
      for (const flag of report?.flags ?? []) {
        const code = FLAG_REASON[flag];
        if (code) additional.push(reason(code, `credit bureau flag ${flag}`));
      }
      const id = validateResidentId(pii.idNumber, input.asOfDate);
      const priceFen = vehicle?.priceFen ?? application.amountFen;
      const d = decide(
        {
          creditScore: report?.score ?? null,
          monthlyIncomeFen: applicant.monthlyIncomeFen,
          existingMonthlyDebtFen: report?.monthlyDebtFen ?? 0,
          requestedAmountFen: application.amountFen,
          termMonths: application.termMonths,
          method: application.repaymentMethod as RepaymentMethod,
          priceFen,
          valuationFen: input.valuationFen,
          vehicle: {
            condition: (vehicle?.condition ?? 'new') as VehicleCondition,
            energy: (vehicle?.energy ?? 'conventional') as VehicleEnergy,
            usage: (vehicle?.usage ?? 'personal') as VehicleUsage,
          },
          ...(id.valid ? { applicantBirthDate: id.birthDate, asOfDate: input.asOfDate } : {}),
          additionalReasons: additional,
        },
        DEFAULT_POLICY,
      );
      return {
        reportId: report?.reportId ?? null,
        score: report?.score ?? null,
        bureauFlags: report?.flags ?? [],
        inquiriesLast6Months: report?.inquiriesLast6Months ?? null,
        recommendation: d.recommendation,
        grade: d.grade,
        annualRateBps: d.annualRateBps,
        reasons: d.reasons.map((r) => ({ code: r.code, severity: r.severity, message: r.message })),
        collateralValueFen: d.ltv.collateralValueFen,
        maxLoanFen: d.ltv.maxLoanFen,
        ltvCapBps: d.ltv.capBps,
        dtiBps: d.dtiBps,
        offer: d.offer,
        requiresFourEyes: d.requiresFourEyes,
      };
    },
  };
}
