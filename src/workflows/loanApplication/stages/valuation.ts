import { FailureType, refusalCode } from '../../../contracts/failures';
import { isReasonCode } from '../../../domain';
import { call, valuation } from '../activities';
import { StageExit, type ApplicationRun } from '../run';

/** valuation: the vehicle valued by the provider (a stolen vehicle rejects the application); answers the valuation. */
export async function valuationStage(run: ApplicationRun): Promise<number> {
  await run.enter('valuation');
  try {
    const v = await call(valuation.valueVehicle, 'value the vehicle (make, model, year, mileage)', { applicationId: run.applicationId });
    for (const f of v.flags) {
      run.addFlag(f);
      if (isReasonCode(f)) run.stageReasons.add(f);
    }
    await run.recordEvent('vehicle_valued', `valuation:${run.state.stageHistory.length}`, {
      valuationId: v.valuationId,
      valuationFen: v.valuationFen,
      method: v.method,
      flags: v.flags,
    });
    return v.valuationFen;
  } catch (err) {
    const code = refusalCode(err, FailureType.ValuationRefused);
    if (code === 'vehicle_reported_stolen') {
      run.addFlag('VEHICLE_REPORTED_STOLEN');
      throw new StageExit('rejected', 'COLLATERAL_UNACCEPTABLE');
    }
    if (code !== null) {
      run.addFlag(`VALUATION_${code.toUpperCase()}`);
      throw new StageExit('failed', 'VEHICLE_NOT_VALUED');
    }
    throw err;
  }
}
