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

  it('gives a create 20 s to start its workflow, and calls an application an orphan only well after that', () => {
    const c = loadConfig({});
    expect([c.APPLICATION_START_TIMEOUT_MS, c.ORPHAN_AFTER_MS, c.RECONCILE_EVERY_MS]).toEqual([20_000, 30_000, 60_000]);
    // An application whose create is still waiting for its start must not look like an orphan.
    expect(() => loadConfig({ APPLICATION_START_TIMEOUT_MS: '25000' })).toThrow(/ORPHAN_AFTER_MS: must be at least APPLICATION_START_TIMEOUT_MS \+ 10000 \(35000\)/);
    expect(loadConfig({ APPLICATION_START_TIMEOUT_MS: '25000', ORPHAN_AFTER_MS: '35000' }).ORPHAN_AFTER_MS).toBe(35_000);
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
