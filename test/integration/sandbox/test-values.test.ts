import { validateResidentId, validateVin } from '../../../src/domain/validators';
import { SANDBOX_TEST_VALUES } from '../../../src/sandbox/test-values';

// The adverse test values must pass the system's own validation, or they would never reach the
// provider they are meant to trigger.
const luhnOk = (digits: string) =>
  digits
    .split('')
    .reverse()
    .map(Number)
    .reduce((sum, d, i) => sum + (i % 2 === 1 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d), 0) %
    10 ===
  0;

it.each(Object.entries(SANDBOX_TEST_VALUES.idNumbers))('%s is a valid resident ID number', (_name, id) => {
  expect(validateResidentId(id, '2026-01-01')).toMatchObject({ valid: true });
});

it.each(Object.entries(SANDBOX_TEST_VALUES.vins))('%s is a valid VIN with a correct check digit', (_name, vin) => {
  expect(validateVin(vin)).toMatchObject({ valid: true, checkDigitOk: true });
});

it.each(Object.entries(SANDBOX_TEST_VALUES.accounts))('%s is a Luhn-valid account number', (_name, account) => {
  expect(luhnOk(account)).toBe(true);
});

it.each(Object.entries(SANDBOX_TEST_VALUES.cards))('%s is a Luhn-valid card number', (_name, card) => {
  expect(luhnOk(card)).toBe(true);
});

it.each(Object.entries(SANDBOX_TEST_VALUES.phones))('%s is a valid mainland mobile number', (_name, phone) => {
  expect(phone).toMatch(/^1[3-9]\d{9}$/);
});

it('uses every value once', () => {
  const all = [
    ...Object.values(SANDBOX_TEST_VALUES.idNumbers),
    ...Object.values(SANDBOX_TEST_VALUES.vins),
    ...Object.values(SANDBOX_TEST_VALUES.accounts),
    ...Object.values(SANDBOX_TEST_VALUES.cards),
    ...Object.values(SANDBOX_TEST_VALUES.phones),
  ];
  expect(new Set(all).size).toBe(all.length);
});
