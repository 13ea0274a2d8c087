import { ProviderHttpClient, type ProviderClientOptions } from './http';
import { FailureType } from '../../contracts/failures';
import { PROVIDER_CALL_TIMEOUT_MS } from './options';

export interface ValuationRequest {
  vin: string;
  make: string;
  model: string;
  year: number;
  mileageKm: number;
  condition: 'new' | 'used';
  /** The price of this purchase. */
  priceFen: number;
  /** The model's new (guide) price, when known; otherwise the provider's catalogue is used. */
  newPriceFen?: number;
  energy?: 'conventional' | 'new_energy';
  /** YYYY-MM-DD; ages a used car more precisely than the model year. */
  firstRegistrationDate?: string;
}

export interface Valuation {
  valuationId: string;
  vin: string;
  valuationFen: number;
  currency: 'CNY';
  method: 'new_vehicle_invoice' | 'depreciation_curve' | 'market_comparables' | 'damage_adjusted';
  /** 0–1 */
  confidence: number;
  ageMonths: number;
  factors: { ageBps: number; mileageBps: number; energyBps: number } | null;
  flags: Array<'flood_damage' | (string & {})>;
  validUntil: string;
}

/** Codes of ValuationRefused failures. */
export type ValuationRefusalCode = 'vehicle_not_found' | 'vehicle_reported_stolen';

export class ValuationClient {
  private readonly http: ProviderHttpClient;
  constructor(opts: ProviderClientOptions) {
    this.http = new ProviderHttpClient('valuation', FailureType.ValuationRefused, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? PROVIDER_CALL_TIMEOUT_MS.valuation,
    });
  }

  valueVehicle(req: ValuationRequest): Promise<Valuation> {
    return this.http.json({ operation: 'valueVehicle', method: 'POST', path: '/v1/valuations', body: req });
  }
}
