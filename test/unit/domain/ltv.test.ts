import fc from 'fast-check';
import {
  DEFAULT_LTV_TABLE,
  type VehicleClass,
  assessLtv,
  collateralValueFen,
  ltvBps,
  ltvCapBps,
  maxLoanFen,
} from '../../../src/domain/ltv';

const personalNew: VehicleClass = { usage: 'personal', energy: 'conventional', condition: 'new' };

describe('LTV caps (SPEC defaults)', () => {
  test.each([
    ['personal', 'conventional', 'new', 8000],
    ['personal', 'new_energy', 'new', 8500],
    ['commercial', 'conventional', 'new', 7000],
    ['commercial', 'new_energy', 'new', 7500],
    ['personal', 'conventional', 'used', 7000],
    ['personal', 'new_energy', 'used', 7000],
    ['commercial', 'conventional', 'used', 7000],
    ['commercial', 'new_energy', 'used', 7000],
  ] as const)('%s %s %s → %d bps', (usage, energy, condition, cap) => {
    expect(ltvCapBps({ usage, energy, condition })).toBe(cap);
  });

  test('a lender can set its own table', () => {
    const table = { ...DEFAULT_LTV_TABLE, new: { ...DEFAULT_LTV_TABLE.new, personal: { conventional: 9000, new_energy: 9000 } } };
    expect(ltvCapBps(personalNew, table)).toBe(9000);
  });
});

describe('collateral and maximum loan', () => {
  test('collateral is the lower of price and valuation', () => {
    expect(collateralValueFen(25_000_000, 24_000_000)).toBe(24_000_000);
    expect(collateralValueFen(25_000_000, 26_000_000)).toBe(25_000_000);
    expect(collateralValueFen(25_000_000)).toBe(25_000_000);
    expect(collateralValueFen(25_000_000, null)).toBe(25_000_000);
    expect(() => collateralValueFen(-1)).toThrow();
  });

  test('max loan is collateral × cap, rounded down', () => {
    // 250,000 CNY BYD Han (new energy, personal): 85% = 212,500 CNY.
    expect(maxLoanFen({ priceFen: 25_000_000, vehicle: { ...personalNew, energy: 'new_energy' } })).toBe(21_250_000);
    expect(maxLoanFen({ priceFen: 25_000_000, valuationFen: 20_000_000, vehicle: personalNew })).toBe(16_000_000);
    expect(maxLoanFen({ priceFen: 101, vehicle: personalNew })).toBe(80); // 80.8 → 80
  });

  test('ltvBps rounds up', () => {
    expect(ltvBps(8_000, 10_000)).toBe(8000);
    expect(ltvBps(8_001, 10_000)).toBe(8001);
    expect(ltvBps(80_001, 100_000)).toBe(8001);
    expect(ltvBps(1, 0)).toBeNull();
  });
});

describe('assessLtv', () => {
  test('within the cap: no counter-offer', () => {
    expect(assessLtv({ requestedFen: 15_000_000, priceFen: 25_000_000, vehicle: personalNew })).toEqual({
      collateralValueFen: 25_000_000,
      capBps: 8000,
      maxLoanFen: 20_000_000,
      requestedLtvBps: 6000,
      withinCap: true,
      counterOfferFen: null,
    });
  });

  test('above the cap: counter-offer rounded down to the step', () => {
    const a = assessLtv({ requestedFen: 20_000_000, priceFen: 24_999_999, valuationFen: 24_555_555, vehicle: personalNew });
    expect(a.maxLoanFen).toBe(19_644_444);
    expect(a.withinCap).toBe(false);
    expect(a.counterOfferFen).toBe(19_640_000);
    expect(assessLtv({ requestedFen: 20_000_000, priceFen: 24_555_555, vehicle: personalNew }, { counterOfferStepFen: 100_000 }).counterOfferFen).toBe(19_600_000);
  });

  test('no counter-offer below the minimum or with nothing to lend against', () => {
    expect(assessLtv({ requestedFen: 5_000_000, priceFen: 1_000_000, vehicle: personalNew }, { minLoanFen: 1_000_000 }).counterOfferFen).toBeNull();
    const zero = assessLtv({ requestedFen: 5_000_000, priceFen: 1_000_000, valuationFen: 0, vehicle: personalNew });
    expect(zero).toMatchObject({ collateralValueFen: 0, maxLoanFen: 0, requestedLtvBps: null, withinCap: false, counterOfferFen: null });
  });

  test('property: the offer never exceeds the cap and the cap is tight', () => {
    const vehicle = fc.record({
      usage: fc.constantFrom('personal' as const, 'commercial' as const),
      energy: fc.constantFrom('conventional' as const, 'new_energy' as const),
      condition: fc.constantFrom('new' as const, 'used' as const),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e10 }), fc.integer({ min: 1, max: 1e10 }), fc.option(fc.integer({ min: 0, max: 1e10 })), vehicle, (requestedFen, priceFen, valuationFen, v) => {
        const a = assessLtv({ requestedFen, priceFen, valuationFen, vehicle: v });
        const collateral = Math.min(priceFen, valuationFen ?? priceFen);
        expect(a.collateralValueFen).toBe(collateral);
        // max × 10000 ≤ collateral × cap < (max + 1) × 10000
        expect(BigInt(a.maxLoanFen) * 10_000n <= BigInt(collateral) * BigInt(a.capBps)).toBe(true);
        expect((BigInt(a.maxLoanFen) + 1n) * 10_000n > BigInt(collateral) * BigInt(a.capBps)).toBe(true);
        expect(a.withinCap).toBe(requestedFen <= a.maxLoanFen);
        if (a.counterOfferFen !== null) {
          expect(a.withinCap).toBe(false);
          expect(a.counterOfferFen).toBeLessThanOrEqual(a.maxLoanFen);
          expect(a.counterOfferFen % 10_000).toBe(0);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
