import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { newId, parseBody, refuse } from '../http';
import { VALUATION_LOW_VIN, VALUATION_NOT_FOUND_VIN, VALUATION_STOLEN_VIN } from '../test-values';

/**
 * Vehicle valuation (in the manner of 精真估 / 车300): a new car is worth its invoice price; a used car
 * is its new price taken down a depreciation curve by age, adjusted for mileage against 20,000 km a
 * year. The new price comes from the request (`newPriceFen`), a small guide-price catalogue, or —
 * for a used car the catalogue does not know — the asking price is taken as the market reference.
 * All arithmetic is integer (basis points, fen); valuations are rounded down to 100 CNY.
 */
const valuationSchema = z.object({
  vin: z.string().regex(/^[A-HJ-NPR-Z0-9]{17}$/, 'a VIN is 17 characters without I, O or Q'),
  make: z.string().min(1).max(64),
  model: z.string().min(1).max(64),
  year: z.number().int().min(1980).max(2100),
  mileageKm: z.number().int().min(0).max(2_000_000),
  condition: z.enum(['new', 'used']),
  priceFen: z.number().int().positive(),
  newPriceFen: z.number().int().positive().optional(),
  energy: z.enum(['conventional', 'new_energy']).optional(),
  firstRegistrationDate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});

/** Guide prices (fen) of a few common models, keyed by lower-case make and model without spaces. */
const GUIDE_PRICES: Record<string, number> = {
  'byd/han': 25_000_000,
  'byd/qinplus': 13_000_000,
  'tesla/model3': 23_190_000,
  'tesla/modely': 26_390_000,
  'toyota/camry': 17_180_000,
  'volkswagen/lavida': 12_000_000,
  'honda/accord': 16_990_000,
  'nissan/sylphy': 11_990_000,
};

const key = (s: string) => s.toLowerCase().replace(/[\s-]+/g, '');

/** Share of the new price kept at an age, in basis points: −15% the first year, −12% a year after, floor 10%. */
export function ageFactorBps(ageMonths: number): number {
  if (ageMonths <= 0) return 10_000;
  if (ageMonths <= 12) return 10_000 - Math.floor((1_500 * ageMonths) / 12);
  let bps = 8_500;
  const years = Math.floor(ageMonths / 12);
  for (let y = 1; y < years; y++) bps = Math.floor((bps * 88) / 100);
  const next = Math.floor((bps * 88) / 100);
  bps -= Math.floor(((bps - next) * (ageMonths % 12)) / 12);
  return Math.max(bps, 1_000);
}

/** Mileage adjustment in basis points: 1.5% per 10,000 km off the 20,000 km/year norm, within −25%…+5%. */
export function mileageAdjustmentBps(ageMonths: number, mileageKm: number): number {
  const expectedKm = Math.floor((Math.max(ageMonths, 1) * 20_000) / 12);
  const adj = -Math.trunc(((mileageKm - expectedKm) * 150) / 10_000);
  return Math.min(500, Math.max(-2_500, adj));
}

function ageInMonths(now: Date, year: number, firstRegistrationDate: string | undefined): number {
  if (firstRegistrationDate) {
    const [y, m] = firstRegistrationDate.split('-').map(Number);
    return Math.max(0, (now.getUTCFullYear() - (y ?? year)) * 12 + (now.getUTCMonth() + 1 - (m ?? 1)));
  }
  return Math.max(0, (now.getUTCFullYear() - year) * 12 + now.getUTCMonth());
}

const roundDown100Cny = (fen: number) => Math.floor(fen / 10_000) * 10_000;

export function valuationRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/valuations', (req, res) => {
    const body = parseBody(valuationSchema, req, res);
    if (!body) return;
    const valuationId = newId('val');
    if (body.vin === VALUATION_STOLEN_VIN) {
      ctx.logger.warn({ valuationId }, 'valuation: vehicle reported stolen');
      return refuse(res, 422, 'vehicle_reported_stolen', 'the vehicle is reported stolen; it cannot be valued or pledged');
    }
    if (body.vin === VALUATION_NOT_FOUND_VIN) {
      return refuse(res, 422, 'vehicle_not_found', 'no vehicle with this VIN is known');
    }

    const now = ctx.now();
    const flags: string[] = [];
    let method: 'new_vehicle_invoice' | 'depreciation_curve' | 'market_comparables' | 'damage_adjusted';
    let valuationFen: number;
    let confidence: number;
    let ageMonths = 0;
    let factors: { ageBps: number; mileageBps: number; energyBps: number } | null = null;

    if (body.condition === 'new') {
      method = 'new_vehicle_invoice';
      valuationFen = Math.floor(body.priceFen / 100) * 100;
      confidence = 0.95;
    } else {
      ageMonths = ageInMonths(now, body.year, body.firstRegistrationDate);
      const mileageBps = mileageAdjustmentBps(ageMonths, body.mileageKm);
      const newPrice = body.newPriceFen ?? GUIDE_PRICES[`${key(body.make)}/${key(body.model)}`];
      if (newPrice) {
        const ageBps = ageFactorBps(ageMonths);
        // New-energy cars lose value faster on the Chinese used market (battery ageing).
        const energyBps = body.energy === 'new_energy' ? 9_000 : 10_000;
        factors = { ageBps, mileageBps, energyBps };
        const bps = Math.floor((Math.floor((ageBps * (10_000 + mileageBps)) / 10_000) * energyBps) / 10_000);
        method = 'depreciation_curve';
        valuationFen = roundDown100Cny(Math.floor((newPrice * bps) / 10_000));
        confidence = body.newPriceFen ? 0.85 : 0.9;
      } else {
        method = 'market_comparables';
        valuationFen = roundDown100Cny(Math.floor((body.priceFen * (10_000 + Math.min(0, mileageBps))) / 10_000));
        confidence = 0.7;
      }
    }
    if (body.vin === VALUATION_LOW_VIN) {
      method = 'damage_adjusted';
      valuationFen = roundDown100Cny(Math.floor((valuationFen * 35) / 100));
      confidence = 0.8;
      flags.push('flood_damage');
    }
    ctx.logger.info({ valuationId, method, valuationFen }, 'valuation: vehicle valued');
    res.json({
      valuationId,
      vin: body.vin,
      valuationFen,
      currency: 'CNY',
      method,
      confidence,
      ageMonths,
      factors,
      flags,
      validUntil: new Date(now.getTime() + 30 * 86_400_000).toISOString(),
    });
  });

  return router;
}
