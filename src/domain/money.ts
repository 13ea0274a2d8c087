// Money is an integer number of fen (0.01 CNY); rates are integer basis points (1 bp = 0.01%).
// Amounts never pass through floating point: where a product or quotient is needed we use BigInt
// and round the exact rational once, half away from zero (the usual banking "half-up").

/** An amount in fen (0.01 CNY). Always a safe integer. */
export type Fen = number;
/** A rate in basis points: 1 bp = 0.01%, so 650 bps = 6.50%. Always a safe integer. */
export type Bps = number;

export const FEN_PER_YUAN = 100;
export const BPS_PER_UNIT = 10_000;

/** Thrown when an amount or rate is not what the domain accepts. */
export class DomainValueError extends Error {
  override readonly name = 'DomainValueError';
  constructor(message: string) {
    super(message);
  }
}

/** Asserts a safe integer number of fen (of any sign) and returns it. */
export function assertFen(value: unknown, label = 'amount'): Fen {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new DomainValueError(`${label} must be a whole number of fen, got ${String(value)}`);
  }
  return value;
}

/** Asserts a safe, non-negative integer number of fen and returns it. */
export function assertNonNegativeFen(value: unknown, label = 'amount'): Fen {
  const fen = assertFen(value, label);
  if (fen < 0) throw new DomainValueError(`${label} must not be negative, got ${fen}`);
  return fen;
}

/** Asserts a safe, strictly positive integer number of fen and returns it. */
export function assertPositiveFen(value: unknown, label = 'amount'): Fen {
  const fen = assertFen(value, label);
  if (fen <= 0) throw new DomainValueError(`${label} must be positive, got ${fen}`);
  return fen;
}

/** Asserts a non-negative integer rate in basis points and returns it. */
export function assertBps(value: unknown, label = 'rate'): Bps {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DomainValueError(`${label} must be a non-negative whole number of basis points, got ${String(value)}`);
  }
  return value;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/**
 * Rounds the rational numerator/denominator to the nearest integer, ties away from zero
 * ("half-up" as banks use it: 2.5 -> 3, -2.5 -> -3).
 */
export function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new DomainValueError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = abs(numerator);
  const d = abs(denominator);
  const q = (2n * n + d) / (2n * d);
  return negative ? -q : q;
}

/** Floor of numerator/denominator (BigInt division truncates toward zero). */
export function floorDiv(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new DomainValueError('division by zero');
  const q = numerator / denominator;
  const exact = q * denominator === numerator;
  return !exact && numerator < 0n !== denominator < 0n ? q - 1n : q;
}

/** Ceiling of numerator/denominator. */
export function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return -floorDiv(-numerator, denominator);
}

/** Converts a BigInt result back to a number of fen, refusing anything outside the safe range. */
export function toFen(value: bigint, label = 'amount'): Fen {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new DomainValueError(`${label} is out of range: ${value}`);
  }
  return Number(value);
}

/** a·b/c rounded half-up, computed exactly. */
export function mulDivRoundHalfUp(a: Fen, b: number, c: number): Fen {
  return toFen(roundHalfUp(BigInt(assertFen(a)) * BigInt(assertFen(b, 'multiplier')), BigInt(assertFen(c, 'divisor'))));
}

/** fen × bps / 10,000, rounded half-up: a fee or interest amount at a rate. */
export function applyBps(fen: Fen, bps: Bps): Fen {
  return mulDivRoundHalfUp(fen, bps, BPS_PER_UNIT);
}

/** Sum of amounts in fen, checked to stay a safe integer. */
export function sumFen(amounts: readonly Fen[]): Fen {
  let total = 0n;
  for (const a of amounts) total += BigInt(assertFen(a));
  return toFen(total, 'sum');
}

/**
 * Formats fen as yuan with exactly two decimals: 123456 -> "1234.56", or "1,234.56" with grouping.
 * Locale-free on purpose: Intl is not something a workflow should depend on.
 */
export function fenToYuanString(fen: Fen, options: { grouping?: boolean } = {}): string {
  const value = assertFen(fen);
  const negative = value < 0;
  const absolute = Math.abs(value);
  const yuan = Math.floor(absolute / FEN_PER_YUAN);
  const cents = absolute % FEN_PER_YUAN;
  let yuanText = String(yuan);
  if (options.grouping) yuanText = yuanText.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${yuanText}.${String(cents).padStart(2, '0')}`;
}

const YUAN_PATTERN = /^([+-])?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/;

/**
 * Parses a yuan amount ("1234.56", "1,234.5", "-3", or the number 8833.3) into fen exactly.
 * More than two decimals is an error rather than a silent rounding.
 */
export function yuanToFen(yuan: string | number): Fen {
  let text: string;
  if (typeof yuan === 'number') {
    if (!Number.isFinite(yuan)) throw new DomainValueError(`not a finite amount: ${yuan}`);
    // A JS number prints as the shortest decimal that round-trips, so 8833.3 reads as "8833.3".
    text = String(yuan);
  } else {
    text = yuan.trim();
  }
  const match = YUAN_PATTERN.exec(text);
  if (!match) throw new DomainValueError(`not a yuan amount with at most two decimals: ${JSON.stringify(text)}`);
  const [, sign, whole = '0', decimals = ''] = match;
  const fen = BigInt(whole.replace(/,/g, '')) * 100n + BigInt(decimals.padEnd(2, '0') || '0');
  return toFen(sign === '-' ? -fen : fen);
}

/** Formats basis points as a percentage with two decimals: 1358 -> "13.58%". */
export function bpsToPercentString(bps: Bps): string {
  const value = assertFen(bps, 'rate');
  const negative = value < 0;
  const a = Math.abs(value);
  return `${negative ? '-' : ''}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}%`;
}
