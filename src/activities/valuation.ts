import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/client';
import { validateVin } from '../domain';
import { loadApplicationRecord } from './applications';
import { FailureType } from '../contracts/failures';
import { type ApplicationRef, type VehicleValuation } from './contracts';
import type { ValuationClient } from './providers';

export function createValuationActivities(deps: { db: Db; valuation: ValuationClient }) {
  const { db, valuation } = deps;
  return {
    /**
     * Values the application's vehicle (make, model, year, mileage, new or used) and checks its VIN.
     * A wrong check digit is a flag for the approvers (imports), not a refusal. `vehicle_not_found`
     * and `vehicle_reported_stolen` stay non-retryable ValuationRefused failures for the workflow.
     */
    async valueVehicle({ applicationId }: ApplicationRef): Promise<VehicleValuation> {
      const { vehicle } = await loadApplicationRecord(db, applicationId);
      if (!vehicle) throw ApplicationFailure.nonRetryable(`application ${applicationId} has no vehicle`, FailureType.VehicleMissing);
      const vin = validateVin(vehicle.vin);
      const v = await valuation.valueVehicle({
        vin: vin.normalized,
        make: vehicle.make,
        model: vehicle.model,
        year: vehicle.year,
        mileageKm: vehicle.mileageKm,
        condition: vehicle.condition as 'new' | 'used',
        priceFen: vehicle.priceFen,
        energy: vehicle.energy as 'conventional' | 'new_energy',
        ...(vehicle.firstRegistrationDate ? { firstRegistrationDate: vehicle.firstRegistrationDate } : {}),
      });
      const flags: string[] = v.flags.map(String);
      if (!vin.valid) flags.push('VIN_INVALID');
      else if (!vin.checkDigitOk) flags.push('VIN_CHECK_DIGIT_MISMATCH');
      return { valuationId: v.valuationId, valuationFen: v.valuationFen, method: v.method, confidence: v.confidence, flags };
    },
  };
}
