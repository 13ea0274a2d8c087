import fc from 'fast-check';
import {
  DomainValueError,
  applyBps,
  assertBps,
  assertFen,
  assertNonNegativeFen,
  assertPositiveFen,
  bpsToPercentString,
  ceilDiv,
  fenToYuanString,
  floorDiv,
  mulDivRoundHalfUp,
  roundHalfUp,
  sumFen,
  toFen,
  yuanToFen,
} from '../../../src/domain/money';

describe('money', () => {
  test('assertions accept whole fen and refuse the rest', () => {
    expect(assertFen(-5)).toBe(-5);
    expect(() => assertFen(1.5)).toThrow(DomainValueError);
    expect(() => assertFen('12')).toThrow(/whole number of fen/);
    expect(() => assertFen(Number.MAX_SAFE_INTEGER + 1)).toThrow();
    expect(assertNonNegativeFen(0)).toBe(0);
    expect(() => assertNonNegativeFen(-1, 'price')).toThrow(/price must not be negative/);
    expect(assertPositiveFen(1)).toBe(1);
    expect(() => assertPositiveFen(0)).toThrow(/positive/);
    expect(assertBps(650)).toBe(650);
    expect(() => assertBps(-1)).toThrow();
    expect(() => assertBps(6.5)).toThrow();
  });

  test('roundHalfUp rounds ties away from zero', () => {
    expect(roundHalfUp(5n, 2n)).toBe(3n);
    expect(roundHalfUp(-5n, 2n)).toBe(-3n);
    expect(roundHalfUp(5n, -2n)).toBe(-3n);
    expect(roundHalfUp(7n, 3n)).toBe(2n);
    expect(roundHalfUp(8n, 3n)).toBe(3n);
    expect(roundHalfUp(-7n, 3n)).toBe(-2n);
    expect(roundHalfUp(0n, 7n)).toBe(0n);
    expect(() => roundHalfUp(1n, 0n)).toThrow(/division by zero/);
  });

  test('roundHalfUp is within half of the exact quotient', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 15n }), (n, d) => {
        const q = roundHalfUp(n, d);
        // |n/d − q| ≤ 1/2  ⇔  |2n − 2qd| ≤ d, and ties go away from zero.
        const diff = 2n * n - 2n * q * d;
        expect(diff <= d && diff >= -d).toBe(true);
        if (diff === d) expect(n < 0n).toBe(true);
        if (diff === -d) expect(n > 0n).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('floorDiv and ceilDiv', () => {
    expect(floorDiv(7n, 2n)).toBe(3n);
    expect(floorDiv(-7n, 2n)).toBe(-4n);
    expect(floorDiv(-8n, 2n)).toBe(-4n);
    expect(floorDiv(7n, -2n)).toBe(-4n);
    expect(ceilDiv(7n, 2n)).toBe(4n);
    expect(ceilDiv(-7n, 2n)).toBe(-3n);
    expect(ceilDiv(8n, 2n)).toBe(4n);
    expect(() => floorDiv(1n, 0n)).toThrow();
  });

  test('toFen, mulDiv, applyBps, sumFen', () => {
    expect(toFen(12n)).toBe(12);
    expect(() => toFen(2n ** 60n)).toThrow(/out of range/);
    expect(() => toFen(-(2n ** 60n))).toThrow(/out of range/);
    expect(mulDivRoundHalfUp(10, 1, 4)).toBe(3); // 2.5 → 3
    expect(applyBps(10_000_000, 100)).toBe(100_000); // 1% of 100,000 CNY
    expect(applyBps(150, 5000)).toBe(75);
    expect(applyBps(1, 5000)).toBe(1); // 0.5 fen rounds up
    expect(sumFen([1, 2, 3])).toBe(6);
    expect(() => sumFen([Number.MAX_SAFE_INTEGER, 1])).toThrow();
  });

  test('fenToYuanString formats exactly', () => {
    expect(fenToYuanString(123456)).toBe('1234.56');
    expect(fenToYuanString(123456, { grouping: true })).toBe('1,234.56');
    expect(fenToYuanString(5)).toBe('0.05');
    expect(fenToYuanString(-5)).toBe('-0.05');
    expect(fenToYuanString(100_000_000_00, { grouping: true })).toBe('100,000,000.00');
    expect(fenToYuanString(0)).toBe('0.00');
  });

  test('yuanToFen parses exactly and refuses more than two decimals', () => {
    expect(yuanToFen('1234.56')).toBe(123456);
    expect(yuanToFen('1,234.5')).toBe(123450);
    expect(yuanToFen(' 8833.30 ')).toBe(883330);
    expect(yuanToFen(8833.3)).toBe(883330);
    expect(yuanToFen('-3')).toBe(-300);
    expect(yuanToFen('+7.01')).toBe(701);
    expect(yuanToFen(100000)).toBe(10_000_000);
    expect(() => yuanToFen('1.234')).toThrow(/at most two decimals/);
    expect(() => yuanToFen('12,34')).toThrow();
    expect(() => yuanToFen('abc')).toThrow();
    expect(() => yuanToFen(0.1 + 0.2)).toThrow(); // 0.30000000000000004 is not an amount
    expect(() => yuanToFen(Number.NaN)).toThrow(/finite/);
    expect(() => yuanToFen(1e21)).toThrow();
  });

  test('fen → yuan string → fen round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 1e13 }), fc.boolean(), (fen, grouping) => {
        expect(yuanToFen(fenToYuanString(fen, { grouping }))).toBe(fen);
      }),
      { numRuns: 2000 },
    );
  });

  test('bpsToPercentString', () => {
    expect(bpsToPercentString(1358)).toBe('13.58%');
    expect(bpsToPercentString(5)).toBe('0.05%');
    expect(bpsToPercentString(-250)).toBe('-2.50%');
  });
});
