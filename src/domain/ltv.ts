// Loan-to-value caps as data. The 2017 PBOC/CBRC auto-finance notice set them; since April 2024
// the self-use caps are each lender's own choice, so they are product policy, not constants.

import { type Bps, type Fen, BPS_PER_UNIT, assertBps, assertNonNegativeFen, assertPositiveFen, ceilDiv, floorDiv, toFen } from './money';

export const VEHICLE_USAGES = ['personal', 'commercial'] as const;
export type VehicleUsage = (typeof VEHICLE_USAGES)[number];
export const VEHICLE_ENERGIES = ['conventional', 'new_energy'] as const;
export type VehicleEnergy = (typeof VEHICLE_ENERGIES)[number];
export const VEHICLE_CONDITIONS = ['new', 'used'] as const;
export type VehicleCondition = (typeof VEHICLE_CONDITIONS)[number];

export interface VehicleClass {
  usage: VehicleUsage;
  energy: VehicleEnergy;
  condition: VehicleCondition;
}

/** Cap in basis points of the collateral value, by condition, usage and energy. */
export type LtvTable = Readonly<Record<VehicleCondition, Readonly<Record<VehicleUsage, Readonly<Record<VehicleEnergy, Bps>>>>>>;

/** SPEC defaults: self-use 80% / 85% (new energy), commercial 70% / 75%, used cars 70%. */
export const DEFAULT_LTV_TABLE: LtvTable = {
  new: {
    personal: { conventional: 8000, new_energy: 8500 },
    commercial: { conventional: 7000, new_energy: 7500 },
  },
  used: {
    personal: { conventional: 7000, new_energy: 7000 },
    commercial: { conventional: 7000, new_energy: 7000 },
  },
};

export function ltvCapBps(vehicle: VehicleClass, table: LtvTable = DEFAULT_LTV_TABLE): Bps {
  return assertBps(table[vehicle.condition][vehicle.usage][vehicle.energy], 'LTV cap');
}

/**
 * Collateral value = min(price, valuation). Before the vehicle has been valued (valuation
 * undefined) the price stands in.
 */
export function collateralValueFen(priceFen: Fen, valuationFen?: Fen | null): Fen {
  const price = assertNonNegativeFen(priceFen, 'priceFen');
  if (valuationFen === undefined || valuationFen === null) return price;
  return Math.min(price, assertNonNegativeFen(valuationFen, 'valuationFen'));
}

/** The largest loan the cap allows: collateral × cap, rounded down to the fen (never above the cap). */
export function maxLoanFen(input: { priceFen: Fen; valuationFen?: Fen | null; vehicle: VehicleClass }, table: LtvTable = DEFAULT_LTV_TABLE): Fen {
  const collateral = collateralValueFen(input.priceFen, input.valuationFen);
  return toFen(floorDiv(BigInt(collateral) * BigInt(ltvCapBps(input.vehicle, table)), BigInt(BPS_PER_UNIT)));
}

/** Requested amount over collateral value in bps, rounded up (so 80.001% reads 8001); null with no collateral. */
export function ltvBps(amountFen: Fen, collateralFen: Fen): Bps | null {
  const amount = assertNonNegativeFen(amountFen);
  const collateral = assertNonNegativeFen(collateralFen, 'collateral');
  if (collateral === 0) return null;
  return toFen(ceilDiv(BigInt(amount) * BigInt(BPS_PER_UNIT), BigInt(collateral)));
}

export interface LtvAssessmentInput {
  requestedFen: Fen;
  priceFen: Fen;
  valuationFen?: Fen | null;
  vehicle: VehicleClass;
}

export interface LtvOptions {
  table?: LtvTable;
  /** Counter-offers are rounded down to a multiple of this (default 100 CNY). */
  counterOfferStepFen?: Fen;
  /** No counter-offer below this amount (default 0: any positive amount). */
  minLoanFen?: Fen;
}

export interface LtvAssessment {
  collateralValueFen: Fen;
  capBps: Bps;
  maxLoanFen: Fen;
  /** Requested amount over collateral value (rounded up), null when the collateral is worth nothing. */
  requestedLtvBps: Bps | null;
  withinCap: boolean;
  /** When the request exceeds the cap: the largest offer that fits, or null if none is worth making. */
  counterOfferFen: Fen | null;
}

export function assessLtv(input: LtvAssessmentInput, options: LtvOptions = {}): LtvAssessment {
  const table = options.table ?? DEFAULT_LTV_TABLE;
  const step = assertPositiveFen(options.counterOfferStepFen ?? 10_000, 'counterOfferStepFen');
  const minLoan = assertNonNegativeFen(options.minLoanFen ?? 0, 'minLoanFen');
  const requested = assertPositiveFen(input.requestedFen, 'requestedFen');
  const collateral = collateralValueFen(input.priceFen, input.valuationFen);
  const cap = ltvCapBps(input.vehicle, table);
  const max = maxLoanFen(input, table);
  const withinCap = requested <= max;
  let counterOffer: Fen | null = null;
  if (!withinCap) {
    const rounded = Math.floor(max / step) * step;
    counterOffer = rounded > 0 && rounded >= minLoan ? rounded : null;
  }
  return {
    collateralValueFen: collateral,
    capBps: cap,
    maxLoanFen: max,
    requestedLtvBps: ltvBps(requested, collateral),
    withinCap,
    counterOfferFen: counterOffer,
  };
}
