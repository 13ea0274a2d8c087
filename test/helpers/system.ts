import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintDevToken } from '../../src/api/auth';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startSystem, type RunningSystem } from '../../src/system';
import { freePort } from '../../src/temporal/devServer';
import type { StaffRole } from '../../src/workflows/messages';
import { ownDatabaseEnv } from './db';

/**
 * The system exactly as `npm start` runs it (dev server with its Web UI and the codec endpoint,
 * worker, API, sandbox, payloads encrypted), on free ports of 127.0.0.1 and a temporary DATA_DIR,
 * with a database of its own on the DATABASE_URL server when there is one.
 */
export interface TestSystem {
  system: RunningSystem;
  config: Config;
  apiUrl: string;
  uiUrl: string;
  token(sub: string, ...roles: StaffRole[]): Promise<string>;
  /** JSON over HTTP to the API, as staff would call it. */
  api(method: 'GET' | 'POST', url: string, token: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startTestSystem(extra: Record<string, string> = {}): Promise<TestSystem> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-test-system-'));
  const database = await ownDatabaseEnv('system');
  const config = loadConfig({
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    TEMPORAL_DEV_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    SANDBOX_PORT: String(await freePort()),
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    ...database.env,
    ...(process.env.TEMPORAL_CLI_PATH ? { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH } : {}),
    ...extra,
  });
  const system = await startSystem(config, createLogger('warn'));
  if (!system.temporalUiUrl) throw new Error('the dev server came up without its Web UI');
  return {
    system,
    config,
    apiUrl: system.apiUrl,
    uiUrl: system.temporalUiUrl,
    token: (sub, ...roles) => mintDevToken(config, { sub, roles }),
    async api(method, url, token, body) {
      const res = await fetch(`${system.apiUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      await system.stop();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `ok` holds (the workflow moves on its own), for at most `timeoutMs`. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
