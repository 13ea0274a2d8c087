import {
  ALLOWED_TERM_MONTHS,
  isAllowedTermMonths,
  isValidMobile,
  isValidResidentId,
  maskIdNumber,
  maskMobile,
  maskName,
  missingDocuments,
  normalizeMobile,
  requiredDocuments,
  residentIdCheckChar,
  validateResidentId,
  validateVin,
  vinCheckDigit,
} from '../../../src/domain/validators';
import fc from 'fast-check';

const today = '2026-01-01';

describe('resident ID numbers (GB 11643, ISO 7064 MOD 11-2)', () => {
  test('11010519491231002X is valid: Beijing Chaoyang, born 1949-12-31, female', () => {
    // Check: Σ digit·weight over 11010519491231002 = 167, 167 mod 11 = 2 → "X".
    expect(residentIdCheckChar('11010519491231002')).toBe('X');
    expect(validateResidentId('11010519491231002X', today)).toEqual({
      valid: true,
      normalized: '11010519491231002X',
      birthDate: '1949-12-31',
      gender: 'female',
      regionCode: '110105',
    });
    expect(validateResidentId('11010519491231002x', today)).toMatchObject({ valid: true, normalized: '11010519491231002X' });
  });

  test('other valid numbers', () => {
    // Bodies made up for the test; the check character is computed, not remembered.
    const body = '44030119900101001';
    const id = body + residentIdCheckChar(body);
    expect(validateResidentId(id, today)).toMatchObject({ valid: true, birthDate: '1990-01-01', gender: 'male', regionCode: '440301' });
    // Born on 29 Feb of a leap year: Σ digit·weight over 32010220000229002 = 143, 143 mod 11 = 0 → "1".
    const leap = '320102200002290021';
    expect(validateResidentId(leap, today)).toMatchObject({ valid: true, birthDate: '2000-02-29', gender: 'female' });
    expect(validateResidentId('320102200102290020', today)).toMatchObject({ valid: false, error: 'BIRTH_DATE' }); // 2001 not leap
  });

  test.each([
    ['11010519491231002', 'FORMAT'], // 17 characters
    ['11010519491231002XX', 'FORMAT'],
    ['1101051949123100X2', 'FORMAT'], // X not last
    ['11010519491231002Y', 'FORMAT'],
    ['110105194912310021', 'CHECK_DIGIT'],
    ['11010519491231003X', 'CHECK_DIGIT'],
    ['99010519491231002X', 'REGION'],
    ['110105194902300023', 'BIRTH_DATE'], // 30 February
    ['110105189912310020', 'BIRTH_DATE'], // before 1900
    ['110105203001010020', 'BIRTH_DATE_IN_FUTURE'],
  ])('%s is invalid (%s)', (id, error) => {
    expect(validateResidentId(id, today)).toMatchObject({ valid: false, error });
  });

  test('a birth date after asOf is refused; asOf itself must be a date', () => {
    expect(validateResidentId('11010519491231002X', '1949-12-30')).toMatchObject({ valid: false, error: 'BIRTH_DATE_IN_FUTURE' });
    expect(validateResidentId('11010519491231002X', '1949-12-31')).toMatchObject({ valid: true });
    expect(() => validateResidentId('11010519491231002X', '2026/01/01')).toThrow(/asOf/);
    expect(validateResidentId(undefined as unknown as string, today)).toMatchObject({ valid: false, error: 'FORMAT' });
    expect(() => residentIdCheckChar('123')).toThrow();
  });

  test('property: exactly one check character makes a number valid', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: 999 }), (dayOffset, serial) => {
        const birth = new Date(Date.UTC(1940, 0, 1) + dayOffset * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
        const body = `310104${birth}${String(serial).padStart(3, '0')}`;
        const valid = '0123456789X'.split('').filter((c) => isValidResidentId(body + c, today));
        expect(valid).toEqual([residentIdCheckChar(body)]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('mobile numbers', () => {
  test.each(['13800138000', '19912345678', '15000000000'])('%s is valid', (p) => expect(isValidMobile(p)).toBe(true));
  test.each(['12800138000', '1380013800', '138001380001', '23800138000', '1380013800a', ''])('%s is invalid', (p) => expect(isValidMobile(p)).toBe(false));
  test('normalises common forms', () => {
    expect(normalizeMobile('+86 138-0013-8000')).toBe('13800138000');
    expect(normalizeMobile('008613800138000')).toBe('13800138000');
    expect(normalizeMobile('010-12345678')).toBeNull();
    expect(normalizeMobile(7 as unknown as string)).toBeNull();
    expect(isValidMobile(13800138000 as unknown as string)).toBe(false);
  });
});

describe('VINs (ISO 3779 position-9 check digit)', () => {
  test('1M8GDM9AXKP042788: the classic check-digit example (X)', () => {
    expect(vinCheckDigit('1M8GDM9AXKP042788')).toBe('X');
    expect(validateVin('1M8GDM9AXKP042788')).toEqual({ valid: true, checkDigitOk: true, normalized: '1M8GDM9AXKP042788', expectedCheckDigit: 'X' });
  });

  test('LFV2A21K2A3010006 from the SPEC passes its check digit (2)', () => {
    // L=3·8 F=6·7 V=5·6 2·5 A=1·4 2·3 1·2 K=2·10 (2·0) A=1·9 3·8 0·7 1·6 0·5 0·4 0·3 6·2 = 189; 189 mod 11 = 2.
    expect(validateVin('LFV2A21K2A3010006')).toMatchObject({ valid: true, checkDigitOk: true, expectedCheckDigit: '2' });
  });

  test('more known-good VINs', () => {
    expect(validateVin('1HGCM82633A004352').checkDigitOk).toBe(true);
    expect(validateVin('11111111111111111').checkDigitOk).toBe(true);
    expect(validateVin(' lfv2a21k2a3010006 ')).toMatchObject({ valid: true, normalized: 'LFV2A21K2A3010006' });
  });

  test('a wrong check digit is flagged, not rejected (imports go to manual review)', () => {
    expect(validateVin('1M8GDM9A1KP042788')).toEqual({ valid: true, checkDigitOk: false, normalized: '1M8GDM9A1KP042788', expectedCheckDigit: 'X' });
    // A typical European VIN without a meaningful check digit.
    expect(validateVin('WVWZZZ1JZXW000001')).toMatchObject({ valid: true, checkDigitOk: false, expectedCheckDigit: '0' });
  });

  test.each([
    ['1M8GDM9AXKP04278', 'LENGTH'],
    ['1M8GDM9AXKP0427888', 'LENGTH'],
    ['1M8GDM9AXKP04278O', 'CHARACTERS'],
    ['IM8GDM9AXKP042788', 'CHARACTERS'],
    ['1M8GDQ9AXKP042788', 'CHARACTERS'],
    ['1M8GDM9AXKP04278-', 'CHARACTERS'],
  ])('%s is invalid (%s)', (vin, error) => {
    expect(validateVin(vin)).toMatchObject({ valid: false, checkDigitOk: false, error, expectedCheckDigit: null });
  });

  test('non-strings are invalid; the raw check-digit helper insists on a well-formed VIN', () => {
    expect(validateVin(null as unknown as string)).toMatchObject({ valid: false, error: 'LENGTH' });
    expect(() => vinCheckDigit('SHORT')).toThrow();
  });
});

describe('terms and documents', () => {
  test('allowed terms', () => {
    expect(ALLOWED_TERM_MONTHS).toEqual([12, 24, 36, 48, 60]);
    expect(isAllowedTermMonths(36)).toBe(true);
    expect(isAllowedTermMonths(18)).toBe(false);
    expect(isAllowedTermMonths(18, [18])).toBe(true);
  });

  test('document sets by condition and channel', () => {
    expect(requiredDocuments({ condition: 'new', channel: 'branch' })).toEqual(['id_card', 'driver_license', 'income_proof', 'purchase_contract']);
    expect(requiredDocuments({ condition: 'used', channel: 'door_to_door' })).toEqual(['id_card', 'driver_license', 'income_proof', 'vehicle_registration']);
    expect(requiredDocuments({ condition: 'new', channel: 'online' })).toEqual(['id_card', 'driver_license', 'income_proof', 'purchase_contract', 'bank_statement']);
    expect(requiredDocuments({ condition: 'used', channel: 'dealer', married: true })).toEqual([
      'id_card',
      'driver_license',
      'income_proof',
      'vehicle_registration',
      'marriage_certificate',
    ]);
    expect(requiredDocuments({ condition: 'new', channel: 'branch' }, { always: ['id_card'], byCondition: {}, byChannel: {}, ifMarried: [] })).toEqual(['id_card']);
  });

  test('missing documents', () => {
    const required = requiredDocuments({ condition: 'new', channel: 'branch' });
    expect(missingDocuments(required, [{ type: 'id_card' }, { type: 'income_proof' }])).toEqual(['driver_license', 'purchase_contract']);
    expect(missingDocuments(required, ['id_card', 'driver_license', 'income_proof', 'purchase_contract', 'bank_statement'])).toEqual([]);
  });
});

describe('masking', () => {
  test('masks personal data', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('110105********002X');
    expect(maskIdNumber('12345')).toBe('*****');
    expect(maskMobile('13800138000')).toBe('138****8000');
    expect(maskMobile('123')).toBe('***');
    expect(maskName('张三')).toBe('张*');
    expect(maskName('欧阳娜娜')).toBe('欧**娜');
    expect(maskName('张')).toBe('*');
  });
});
