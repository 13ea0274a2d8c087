import { CallCentreClient } from './callCentre';
import { CreditBureauClient } from './creditBureau';
import { EsignClient } from './esign';
import type { ProviderClientOptions } from './http';
import { OcrClient } from './ocr';
import { PaymentsClient } from './payments';
import { SmsClient } from './sms';
import { ValuationClient } from './valuation';
import { WithholdingClient } from './withholding';

export * from './callCentre';
export * from './creditBureau';
export * from './esign';
export * from './http';
export * from './ocr';
export * from './options';
export * from './payments';
export * from './sms';
export * from './valuation';
export * from './withholding';

export type ProviderBaseUrls = Record<
  'ocr' | 'creditBureau' | 'callCentre' | 'valuation' | 'esign' | 'payments' | 'sms' | 'withholding',
  string
>;

export interface ProviderClients {
  ocr: OcrClient;
  creditBureau: CreditBureauClient;
  callCentre: CallCentreClient;
  valuation: ValuationClient;
  esign: EsignClient;
  payments: PaymentsClient;
  sms: SmsClient;
  withholding: WithholdingClient;
}

/** Every client over its base URL (config.providers, or a running sandbox's `providers`). */
export function createProviderClients(
  baseUrls: ProviderBaseUrls,
  common: Omit<ProviderClientOptions, 'baseUrl' | 'timeoutMs'> = {},
): ProviderClients {
  return {
    ocr: new OcrClient({ ...common, baseUrl: baseUrls.ocr }),
    creditBureau: new CreditBureauClient({ ...common, baseUrl: baseUrls.creditBureau }),
    callCentre: new CallCentreClient({ ...common, baseUrl: baseUrls.callCentre }),
    valuation: new ValuationClient({ ...common, baseUrl: baseUrls.valuation }),
    esign: new EsignClient({ ...common, baseUrl: baseUrls.esign }),
    payments: new PaymentsClient({ ...common, baseUrl: baseUrls.payments }),
    sms: new SmsClient({ ...common, baseUrl: baseUrls.sms }),
    withholding: new WithholdingClient({ ...common, baseUrl: baseUrls.withholding }),
  };
}
