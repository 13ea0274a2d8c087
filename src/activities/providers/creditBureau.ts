import { ProviderHttpClient, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export interface CreditReportRequest {
  idNumber: string;
  name: string;
  /** Reference of the applicant's signed consent to the pull (required by the bureau). */
  consentRef: string;
}

export interface CreditOpenDebt {
  type: 'credit_card' | 'mortgage' | 'auto_loan' | 'consumer_loan';
  lender: string;
  balanceFen: number;
  monthlyPaymentFen: number;
  overdue: boolean;
}

export type CreditFlag = 'court_enforcement_blacklist' | 'fraud_alert' | 'current_overdue';

export interface CreditReport {
  /** The same (ID number, consent) is the same report: a retried pull is not a second inquiry. */
  reportId: string;
  generatedAt: string;
  /** 300–900. */
  score: number;
  openDebts: CreditOpenDebt[];
  /** Sum of the open debts' monthly repayments, in fen. */
  monthlyDebtFen: number;
  inquiriesLast6Months: number;
  flags: CreditFlag[];
}

/** Codes of CreditReportRefused failures. */
export type CreditRefusalCode = 'no_credit_file' | 'invalid_id_number';

export class CreditBureauClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('creditBureau', FailureType.CreditReportRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.creditBureau,
    });
  }

  pullReport(req: CreditReportRequest): Promise<CreditReport> {
    return this.http.json({ operation: 'pullReport', method: 'POST', path: '/v1/reports', body: req });
  }
}
