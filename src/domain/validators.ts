// Validators for what an applicant and a vehicle bring: resident ID, mobile number, VIN, term,
// and the document set a file needs. Each returns data (never throws on bad input) so the API can
// name the field and the workflow can turn a soft failure into a manual-review flag.

import { type IsoDate, compareDates, formatDate, isValidDate, tryParseDate } from './dates';
import type { VehicleCondition } from './ltv';
import { DomainValueError } from './money';

// ---------------------------------------------------------------------------------------------
// Resident identity number (居民身份证号码, GB 11643-1999)

export type ResidentIdError = 'FORMAT' | 'REGION' | 'BIRTH_DATE' | 'BIRTH_DATE_IN_FUTURE' | 'CHECK_DIGIT';

export type ResidentIdResult =
  | {
      valid: true;
      /** Upper-case form (a lower-case x check character is accepted and normalised). */
      normalized: string;
      birthDate: IsoDate;
      /** The 17th digit: odd for men, even for women. */
      gender: 'male' | 'female';
      /** First six digits: the administrative division where the number was issued. */
      regionCode: string;
    }
  | { valid: false; error: ResidentIdError; message: string };

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK_CHARS = '10X98765432';
// Province-level division codes (first two digits), plus 81/82/83 used by residence permits for
// residents of Hong Kong, Macao and Taiwan.
const PROVINCE_CODES: ReadonlySet<string> = new Set([
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37',
  '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65',
  '71', '81', '82', '83',
]);
const EARLIEST_BIRTH_DATE = '1900-01-01';

/** The ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID number. */
export function residentIdCheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new DomainValueError('expected 17 digits');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * (ID_WEIGHTS[i] as number);
  return ID_CHECK_CHARS[sum % 11] as string;
}

/**
 * Validates an 18-character resident ID number: format, province, a real birth date between
 * 1900-01-01 and `asOf` (the caller's today, 'YYYY-MM-DD'), and the check character.
 */
export function validateResidentId(idNumber: string, asOf: IsoDate): ResidentIdResult {
  const normalized = typeof idNumber === 'string' ? idNumber.trim().toUpperCase() : '';
  if (!/^\d{17}[\dX]$/.test(normalized)) {
    return { valid: false, error: 'FORMAT', message: 'a resident ID number is 17 digits followed by a digit or X' };
  }
  if (!PROVINCE_CODES.has(normalized.slice(0, 2))) {
    return { valid: false, error: 'REGION', message: `no province has code ${normalized.slice(0, 2)}` };
  }
  const birth = tryParseDate(`${normalized.slice(6, 10)}-${normalized.slice(10, 12)}-${normalized.slice(12, 14)}`);
  if (!birth || compareDates(formatDate(birth), EARLIEST_BIRTH_DATE) < 0) {
    return { valid: false, error: 'BIRTH_DATE', message: 'digits 7-14 are not a real birth date' };
  }
  const birthDate = formatDate(birth);
  if (!isValidDate(asOf)) throw new DomainValueError(`asOf must be 'YYYY-MM-DD', got ${JSON.stringify(asOf)}`);
  if (compareDates(birthDate, asOf) > 0) {
    return { valid: false, error: 'BIRTH_DATE_IN_FUTURE', message: `birth date ${birthDate} is after ${asOf}` };
  }
  const expected = residentIdCheckChar(normalized.slice(0, 17));
  if (normalized[17] !== expected) {
    return { valid: false, error: 'CHECK_DIGIT', message: `check character should be ${expected}` };
  }
  return {
    valid: true,
    normalized,
    birthDate,
    gender: Number(normalized[16]) % 2 === 1 ? 'male' : 'female',
    regionCode: normalized.slice(0, 6),
  };
}

export function isValidResidentId(idNumber: string, asOf: IsoDate): boolean {
  return validateResidentId(idNumber, asOf).valid;
}

// ---------------------------------------------------------------------------------------------
// Mobile number

export const MOBILE_PATTERN = /^1[3-9]\d{9}$/;

/** A mainland mobile number: 11 digits starting 13-19. */
export function isValidMobile(phone: string): boolean {
  return typeof phone === 'string' && MOBILE_PATTERN.test(phone);
}

/** Strips spaces, dashes and a +86 / 0086 prefix; returns null unless a valid mobile remains. */
export function normalizeMobile(phone: string): string | null {
  if (typeof phone !== 'string') return null;
  const digits = phone.replace(/[\s-]/g, '').replace(/^(\+86|0086)/, '');
  return isValidMobile(digits) ? digits : null;
}

// ---------------------------------------------------------------------------------------------
// Vehicle identification number (ISO 3779; GB 16735 in China)

export interface VinCheck {
  /** 17 characters from 0-9 and A-Z without I, O and Q. A VIN that is not valid is rejected. */
  valid: boolean;
  /** Position 9 matches the computed check digit. When false the VIN goes to manual review. */
  checkDigitOk: boolean;
  normalized: string;
  /** The check digit the other 16 characters imply, or null if the VIN is not valid. */
  expectedCheckDigit: string | null;
  error?: 'LENGTH' | 'CHARACTERS';
}

const VIN_VALUES: Readonly<Record<string, number>> = {
  A: 1, B: 2, C: 3, D: 4, E: 5, F: 6, G: 7, H: 8, J: 1, K: 2, L: 3, M: 4, N: 5, P: 7, R: 9,
  S: 2, T: 3, U: 4, V: 5, W: 6, X: 7, Y: 8, Z: 9,
};
const VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2] as const;

/** The position-9 check digit ('0'-'9' or 'X') of a 17-character VIN (position 9 itself is ignored). */
export function vinCheckDigit(vin: string): string {
  if (!/^[A-HJ-NPR-Z0-9]{17}$/.test(vin)) throw new DomainValueError('expected 17 VIN characters');
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const c = vin[i] as string;
    const value = c >= '0' && c <= '9' ? Number(c) : (VIN_VALUES[c] as number);
    sum += value * (VIN_WEIGHTS[i] as number);
  }
  const remainder = sum % 11;
  return remainder === 10 ? 'X' : String(remainder);
}

export function validateVin(vin: string): VinCheck {
  const normalized = typeof vin === 'string' ? vin.trim().toUpperCase() : '';
  if (normalized.length !== 17) return { valid: false, checkDigitOk: false, normalized, expectedCheckDigit: null, error: 'LENGTH' };
  if (!/^[A-HJ-NPR-Z0-9]{17}$/.test(normalized)) {
    return { valid: false, checkDigitOk: false, normalized, expectedCheckDigit: null, error: 'CHARACTERS' };
  }
  const expected = vinCheckDigit(normalized);
  return { valid: true, checkDigitOk: normalized[8] === expected, normalized, expectedCheckDigit: expected };
}

// ---------------------------------------------------------------------------------------------
// Term

export const ALLOWED_TERM_MONTHS = [12, 24, 36, 48, 60] as const;

export function isAllowedTermMonths(termMonths: number, allowed: readonly number[] = ALLOWED_TERM_MONTHS): boolean {
  return allowed.includes(termMonths);
}

// ---------------------------------------------------------------------------------------------
// Document sets

export const DOCUMENT_TYPES = [
  'id_card',
  'driver_license',
  'income_proof',
  'purchase_contract',
  'vehicle_registration',
  'bank_statement',
  'marriage_certificate',
] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export const CHANNELS = ['branch', 'door_to_door', 'online', 'dealer'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Which documents a file needs, as data: the union of every rule that applies. */
export interface DocumentRules {
  always: readonly DocumentType[];
  byCondition: Readonly<Partial<Record<VehicleCondition, readonly DocumentType[]>>>;
  byChannel: Readonly<Partial<Record<Channel, readonly DocumentType[]>>>;
  /** When the applicant is married (the spouse shares the debt). */
  ifMarried: readonly DocumentType[];
}

export const DEFAULT_DOCUMENT_RULES: DocumentRules = {
  always: ['id_card', 'driver_license', 'income_proof'],
  byCondition: { new: ['purchase_contract'], used: ['vehicle_registration'] },
  // Online applicants are never seen in person, so income is evidenced by the bank statement too.
  byChannel: { online: ['bank_statement'] },
  ifMarried: ['marriage_certificate'],
};

/** The required document types in DOCUMENT_TYPES order, without duplicates. */
export function requiredDocuments(
  input: { condition: VehicleCondition; channel: Channel; married?: boolean },
  rules: DocumentRules = DEFAULT_DOCUMENT_RULES,
): DocumentType[] {
  const wanted = new Set<DocumentType>([
    ...rules.always,
    ...(rules.byCondition[input.condition] ?? []),
    ...(rules.byChannel[input.channel] ?? []),
    ...(input.married ? rules.ifMarried : []),
  ]);
  return DOCUMENT_TYPES.filter((t) => wanted.has(t));
}

/** The required types that are not among the submitted ones. */
export function missingDocuments(required: readonly DocumentType[], submitted: readonly { type: DocumentType }[] | readonly DocumentType[]): DocumentType[] {
  const have = new Set<string>(submitted.map((d) => (typeof d === 'string' ? d : d.type)));
  return required.filter((t) => !have.has(t));
}

// ---------------------------------------------------------------------------------------------
// Masking personal data for roles that do not need it

/** 110105********002X: region and check part kept. */
export function maskIdNumber(idNumber: string): string {
  if (idNumber.length <= 10) return '*'.repeat(idNumber.length);
  return `${idNumber.slice(0, 6)}${'*'.repeat(idNumber.length - 10)}${idNumber.slice(-4)}`;
}

/** 138****8000 */
export function maskMobile(phone: string): string {
  if (phone.length <= 7) return '*'.repeat(phone.length);
  return `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}`;
}

/** 张* for two characters, 张*三 for three or more: the family name and, if long enough, the last character. */
export function maskName(name: string): string {
  const chars = Array.from(name);
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}
