import { ConfigError, loadConfig } from '../../src/config';

describe('configuration', () => {
  it('works on a developer machine with no variables set', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.TEMPORAL_DEV_PORT).toBe(7233);
    expect(c.TEMPORAL_UI_PORT).toBe(8233);
    expect(c.TEMPORAL_TASK_QUEUE).toBe('car-loans');
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.TEMPORAL_ADDRESS).toBeUndefined();
    expect(c.providers.payments).toBe('http://127.0.0.1:4010/payments');
  });

  it('names every bad variable in one error', () => {
    expect(() => loadConfig({ PORT: 'eighty', PII_ENCRYPTION_KEY: 'short' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', PII_ENCRYPTION_KEY: 'short' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/PII_ENCRYPTION_KEY/);
    }
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', TEMPORAL_ADDRESS: ' ' }).DATABASE_URL).toBeUndefined();
  });

  it('refuses development secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/PII_ENCRYPTION_KEY: must be set in production/);
  });

  it('points a provider at its own base URL when configured', () => {
    expect(loadConfig({ PAYMENTS_BASE_URL: 'https://pay.example.test' }).providers.payments).toBe('https://pay.example.test');
  });
});
