import fc from 'fast-check';
import {
  addDays,
  addMonths,
  ageInYears,
  civilFromDays,
  compareDates,
  dayNumber,
  daysBetween,
  daysFromCivil,
  daysInMonth,
  formatDate,
  isLeapYear,
  isValidDate,
  parseDate,
  shanghaiDate,
  shanghaiDateTime,
  shanghaiStartOfDayMs,
  tryParseDate,
} from '../../../src/domain/dates';

describe('dates', () => {
  test('calendar facts', () => {
    expect(isLeapYear(2024)).toBe(true);
    expect(isLeapYear(2023)).toBe(false);
    expect(isLeapYear(1900)).toBe(false);
    expect(isLeapYear(2000)).toBe(true);
    expect(daysInMonth(2024, 2)).toBe(29);
    expect(daysInMonth(2023, 2)).toBe(28);
    expect(daysInMonth(2023, 4)).toBe(30);
    expect(daysInMonth(2023, 12)).toBe(31);
  });

  test('parsing refuses dates that do not exist', () => {
    expect(tryParseDate('2024-02-29')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(tryParseDate('2023-02-29')).toBeNull();
    expect(tryParseDate('2023-13-01')).toBeNull();
    expect(tryParseDate('2023-00-01')).toBeNull();
    expect(tryParseDate('0000-01-01')).toBeNull();
    expect(tryParseDate('2023-1-01')).toBeNull();
    expect(isValidDate('2023-04-31')).toBe(false);
    expect(() => parseDate('nope', 'dueDate')).toThrow(/dueDate must be a real date/);
    expect(() => parseDate(42 as unknown as string)).toThrow();
  });

  test('day numbers agree with the platform calendar', () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000, max: 200_000 }), (days) => {
        const civil = civilFromDays(days);
        expect(daysFromCivil(civil)).toBe(days);
        // The test may use Date; the domain code may not.
        expect(formatDate(civil)).toBe(new Date(days * 86_400_000).toISOString().slice(0, 10));
      }),
      { numRuns: 3000 },
    );
  });

  test('arithmetic', () => {
    expect(dayNumber('1970-01-01')).toBe(0);
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(daysBetween('2024-01-31', '2024-02-29')).toBe(29);
    expect(compareDates('2024-01-01', '2023-12-31')).toBe(1);
    expect(compareDates('2024-01-01', '2024-01-01')).toBe(0);
    expect(compareDates('2023-01-01', '2024-01-01')).toBe(-1);
  });

  test('addMonths is end-of-month safe and keeps the anchor day', () => {
    expect(addMonths('2024-01-31', 1)).toBe('2024-02-29');
    expect(addMonths('2023-01-31', 1)).toBe('2023-02-28');
    expect(addMonths('2024-01-31', 2)).toBe('2024-03-31');
    expect(addMonths('2024-01-31', 3)).toBe('2024-04-30');
    expect(addMonths('2024-11-30', 3)).toBe('2025-02-28');
    expect(addMonths('2024-12-15', 1)).toBe('2025-01-15');
    expect(addMonths('2024-03-15', -3)).toBe('2023-12-15');
    expect(addMonths('2024-02-29', 12)).toBe('2025-02-28');
    expect(addMonths('2024-02-28', 1, 31)).toBe('2024-03-31');
  });

  test('shanghaiDateTime reads an instant in Asia/Shanghai, to the minute', () => {
    expect(shanghaiDateTime(Date.UTC(2026, 11, 2, 1, 30, 59))).toBe('2026-12-02 09:30 (Asia/Shanghai)');
    expect(shanghaiDateTime(Date.UTC(2026, 11, 1, 16, 0))).toBe('2026-12-02 00:00 (Asia/Shanghai)');
    expect(shanghaiDateTime(Date.UTC(2026, 11, 1, 15, 59))).toBe('2026-12-01 23:59 (Asia/Shanghai)');
    expect(shanghaiDateTime(Date.UTC(1969, 11, 31, 12, 0))).toBe('1969-12-31 20:00 (Asia/Shanghai)');
    fc.assert(
      fc.property(fc.integer({ min: -2_000_000_000_000, max: 4_000_000_000_000 }), (ms) => {
        const [date, time] = shanghaiDateTime(ms).split(' ');
        expect(date).toBe(shanghaiDate(ms));
        expect(shanghaiStartOfDayMs(date as string) + Number(time!.slice(0, 2)) * 3_600_000 + Number(time!.slice(3, 5)) * 60_000).toBe(Math.floor(ms / 60_000) * 60_000);
      }),
    );
  });

  test('shanghaiDate is UTC+8', () => {
    expect(shanghaiDate(0)).toBe('1970-01-01');
    expect(shanghaiDate(Date.UTC(2024, 0, 31, 15, 59, 59, 999))).toBe('2024-01-31');
    expect(shanghaiDate(Date.UTC(2024, 0, 31, 16, 0, 0, 0))).toBe('2024-02-01');
    expect(shanghaiDate(Date.UTC(1969, 11, 31, 15, 0, 0))).toBe('1969-12-31');
    expect(() => shanghaiDate(Number.NaN)).toThrow();
    expect(shanghaiStartOfDayMs('2024-02-01')).toBe(Date.UTC(2024, 0, 31, 16));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        expect(shanghaiDate(ms)).toBe(new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10));
        const day = shanghaiDate(ms);
        expect(shanghaiStartOfDayMs(day) <= ms && ms < shanghaiStartOfDayMs(day) + 86_400_000).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('ageInYears counts whole birthdays', () => {
    expect(ageInYears('1949-12-31', '2024-12-30')).toBe(74);
    expect(ageInYears('1949-12-31', '2024-12-31')).toBe(75);
    expect(ageInYears('2004-02-29', '2022-02-28')).toBe(17);
    expect(ageInYears('2004-02-29', '2022-03-01')).toBe(18);
  });
});
