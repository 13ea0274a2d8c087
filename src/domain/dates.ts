// Calendar dates as 'YYYY-MM-DD' strings in Asia/Shanghai, handled with integer arithmetic only.
// Asia/Shanghai has been UTC+8 without daylight saving since 1991, so a Shanghai calendar day is
// a fixed 24-hour window and no time-zone database is needed (workflows cannot read one anyway).
// The caller passes the current instant in: nothing here reads a clock.

import { DomainValueError } from './money';

/** A calendar date 'YYYY-MM-DD' (Asia/Shanghai when it denotes a business day). */
export type IsoDate = string;

export const MS_PER_DAY = 86_400_000;
export const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

export interface CivilDate {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses 'YYYY-MM-DD', or returns null if it is not a real calendar date. */
export function tryParseDate(text: string): CivilDate | null {
  const match = DATE_PATTERN.exec(text);
  if (!match) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

export function isValidDate(text: string): boolean {
  return tryParseDate(text) !== null;
}

/** Parses 'YYYY-MM-DD' and throws DomainValueError if it is not a real calendar date. */
export function parseDate(text: string, label = 'date'): CivilDate {
  const parsed = typeof text === 'string' ? tryParseDate(text) : null;
  if (!parsed) throw new DomainValueError(`${label} must be a real date 'YYYY-MM-DD', got ${JSON.stringify(text)}`);
  return parsed;
}

export function formatDate({ year, month, day }: CivilDate): IsoDate {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil).
export function daysFromCivil({ year, month, day }: CivilDate): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Day number (days since 1970-01-01) of a 'YYYY-MM-DD' date. */
export function dayNumber(date: IsoDate): number {
  return daysFromCivil(parseDate(date));
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return formatDate(civilFromDays(dayNumber(date) + days));
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: IsoDate, to: IsoDate): number {
  return dayNumber(to) - dayNumber(from);
}

export function compareDates(a: IsoDate, b: IsoDate): number {
  return Math.sign(dayNumber(a) - dayNumber(b));
}

/**
 * The date `months` calendar months after `date`, on `anchorDay` (default: the day of `date`)
 * or the last day of the month when that month is shorter. Anchoring on the original day is what
 * makes a 31 January loan fall due on 28/29 February and then on 31 March, not on the 28th forever.
 */
export function addMonths(date: IsoDate, months: number, anchorDay?: number): IsoDate {
  const { year, month, day } = parseDate(date);
  const index = year * 12 + (month - 1) + months;
  const y = Math.floor(index / 12);
  const m = index - y * 12 + 1;
  const want = anchorDay ?? day;
  return formatDate({ year: y, month: m, day: Math.min(want, daysInMonth(y, m)) });
}

/** The Asia/Shanghai calendar date of an instant given as epoch milliseconds by the caller. */
export function shanghaiDate(epochMs: number): IsoDate {
  if (!Number.isFinite(epochMs)) throw new DomainValueError(`not an instant: ${epochMs}`);
  return formatDate(civilFromDays(Math.floor((epochMs + SHANGHAI_OFFSET_MS) / MS_PER_DAY)));
}

/** An instant as people in the loan's time zone read it, to the minute: `2026-12-02 09:30 (Asia/Shanghai)`. */
export function shanghaiDateTime(epochMs: number): string {
  const date = shanghaiDate(epochMs);
  const minutes = Math.floor((((epochMs + SHANGHAI_OFFSET_MS) % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY / 60_000);
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${date} ${hh}:${mm} (Asia/Shanghai)`;
}

/** Epoch milliseconds of 00:00 Asia/Shanghai on `date` (the instant a Shanghai day begins). */
export function shanghaiStartOfDayMs(date: IsoDate): number {
  return dayNumber(date) * MS_PER_DAY - SHANGHAI_OFFSET_MS;
}

/** Whole years between `birthDate` and `asOf` (a person born on 29 Feb ages on 1 Mar in common years). */
export function ageInYears(birthDate: IsoDate, asOf: IsoDate): number {
  const b = parseDate(birthDate);
  const a = parseDate(asOf);
  let age = a.year - b.year;
  if (a.month < b.month || (a.month === b.month && a.day < b.day)) age -= 1;
  return age;
}
