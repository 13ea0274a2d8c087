import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { mintDevToken } from '../../src/api/auth';
import { preflight, runDemo, SCENARIOS, SystemNotRunning, type ScenarioName, type ScenarioResult } from '../../src/cli/demoScenarios';
import { loadConfig } from '../../src/config';
import { loanEvents } from '../../src/db/schema';
import { createLogger } from '../../src/logger';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import { startSystem, type RunningSystem } from '../../src/system';
import { freePort } from '../../src/temporal/devServer';
import { LoanStage } from '../../src/workflows/searchAttributes';
import { ROOT, runCommand } from '../helpers/cli';
import { API_PATIENCE, PATIENCE_MS, sleep } from '../helpers/wait';
import { ownDatabaseEnv } from '../helpers/db';

/**
 * `npm run demo` against the whole system as `npm start` runs it (dev server, worker, API, sandbox,
 * PGlite or DATABASE_URL), on free ports of 127.0.0.1: every scenario must end in its stage, and a
 * scenario that does not (or takes too long) must say so and fail the run.
 */
const EXPECTED: Record<ScenarioName, string> = {
  'happy-path': 'servicing',
  'auto-decline': 'rejected',
  'request-info': 'servicing',
  'four-eyes': 'servicing',
  withdrawal: 'withdrawn',
};

describe('npm run demo', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-demo-'));
  let system: RunningSystem;
  let env: Record<string, string>;

  let database: Awaited<ReturnType<typeof ownDatabaseEnv>> | undefined;

  beforeAll(async () => {
    database = await ownDatabaseEnv('system');
    env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      SANDBOX_PORT: String(await freePort()),
      WORKER_METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      ...API_PATIENCE,
      ...database.env,
    };
    system = await startSystem(loadConfig(env), createLogger('warn'));
  });

  afterAll(async () => {
    await system?.stop();
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const demoOptions = () => ({
    apiUrl: system.apiUrl,
    token: (sub: string, roles: Parameters<typeof mintDevToken>[1]['roles']) => mintDevToken(system.config, { sub, roles }),
    esignUrl: system.config.providers.esign,
    temporalUiUrl: system.temporalUiUrl!,
    namespace: system.config.TEMPORAL_NAMESPACE,
    pollMs: 250,
  });

  it('plays every scenario to the stage it should end in, stage by stage, with the Temporal UI link of each run', async () => {
    await preflight(demoOptions());
    const lines: string[] = [];
    const results = await runDemo({ ...demoOptions(), timeoutMs: 420_000, print: (l) => lines.push(l) });
    const output = lines.join('\n');

    expect(results.map((r) => ({ name: r.name, stage: r.stage, ok: r.ok, error: r.error }))).toEqual(
      SCENARIOS.map((name) => ({ name, stage: EXPECTED[name], ok: true, error: undefined })),
    );
    const by = Object.fromEntries(results.map((r) => [r.name, r])) as Record<ScenarioName, ScenarioResult>;

    // The stages each went through, from the workflow's own history.
    const ORIGINATION = ['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing', 'disbursement', 'servicing'];
    expect(by['happy-path'].stages).toEqual(ORIGINATION);
    expect(by['four-eyes'].stages).toEqual(ORIGINATION);
    expect(by['request-info'].stages).toEqual([
      'intake', 'document_check', 'phone_verification', 'valuation', 'approval',
      'document_check', 'phone_verification', 'valuation', 'approval', 'signing', 'disbursement', 'servicing',
    ]);
    expect(by['auto-decline'].stages).toEqual(['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'rejected']);
    expect(by.withdrawal.stages).toEqual(['intake', 'document_check', 'phone_verification', 'withdrawn']);

    for (const r of results) {
      // One terminal line per stage change, and the UI link of the run, which the dev server's UI serves.
      const stageLines = lines.filter((l) => l.startsWith(`[${r.name.padEnd(12)}] stage → `));
      expect(stageLines).toHaveLength(r.stages.length);
      expect(r.workflowId).toBe(`loan-application-${r.applicationId}`);
      expect(r.uiUrl).toBe(`${system.temporalUiUrl}/namespaces/default/workflows/${r.workflowId}`);
      expect(output).toContain(`Temporal UI: ${r.uiUrl}`);
      // What an engineer filters by in the UI agrees with what the demo saw.
      // An application that reached servicing has handed its loan over and ended (the loan's own
      // servicing run says servicing); every other ended in its stage.
      const run = system.client.workflow.getHandle(r.workflowId!);
      // (The stage reads servicing a moment before the servicing run has started and the hand-over ends the run.)
      if (EXPECTED[r.name] === 'servicing') expect(await run.result()).toMatchObject({ stage: 'servicing', outcomeReason: 'HANDED_TO_SERVICING' });
      const described = await run.describe();
      expect(described.typedSearchAttributes.get(LoanStage)).toBe(EXPECTED[r.name] === 'servicing' ? 'handed_over' : EXPECTED[r.name]);
      expect(described.status.name).toBe('COMPLETED');
    }
    expect((await fetch(by['happy-path'].uiUrl!)).status).toBe(200);

    // How each was acted on: the customer signed at the provider (webhook) or the officer on site.
    const signedBy = async (id: string) =>
      (await system.db.db.select().from(loanEvents).where(and(eq(loanEvents.applicationId, id), eq(loanEvents.kind, 'contract_signed'))))[0]?.actor;
    expect(await signedBy(by['happy-path'].applicationId!)).toBe('esign-provider');
    expect(await signedBy(by['four-eyes'].applicationId!)).toBe('esign-provider');
    expect(await signedBy(by['request-info'].applicationId!)).toBe('demo-officer-1');
    const approvals = await system.db.db
      .select()
      .from(loanEvents)
      .where(and(eq(loanEvents.applicationId, by['four-eyes'].applicationId!), eq(loanEvents.kind, 'approval_decision')));
    expect(new Set(approvals.map((e) => e.actor))).toEqual(new Set(['demo-approver-1', 'demo-approver-2']));

    // Sample data is fake but valid, and no full ID number or phone is printed.
    expect(output).not.toMatch(/\b\d{17}[\dX]\b/);
    expect(output).not.toMatch(/\b1[3-9]\d{9}\b/);
  });

  it('fails a scenario that ends in another stage, and one that runs out of time (withdrawing what it left open)', async () => {
    const sandbox = new SandboxAdminClient(system.sandbox!.url);
    // The bank refuses every payout: the happy path ends failed at disbursement instead of servicing.
    await sandbox.setFault({ provider: 'payments', mode: 'refusal', status: 422, code: 'account_closed' });
    try {
      const [wrong] = await runDemo({ ...demoOptions(), scenarios: ['happy-path'], timeoutMs: 300_000, print: () => undefined });
      expect(wrong).toMatchObject({ name: 'happy-path', ok: false, stage: 'failed', error: expect.stringMatching(/^ended in failed \(DISBURSEMENT_REFUSED\)/) });
    } finally {
      await sandbox.clearFaults();
    }

    // The valuation provider holds every request: the scenario cannot get past valuation, so it runs
    // out of time whatever the machine's speed (the minute only has to cover submitting it).
    const lines: string[] = [];
    await sandbox.setFault({ provider: 'valuation', mode: 'timeout', latencyMs: 600_000 });
    let slow: ScenarioResult | undefined;
    try {
      [slow] = await runDemo({ ...demoOptions(), scenarios: ['four-eyes'], timeoutMs: 60_000, print: (l) => lines.push(l) });
    } finally {
      await sandbox.clearFaults();
    }
    expect(slow).toMatchObject({ ok: false, error: 'timed out after 60 s' });
    expect(lines.join('\n')).toMatch(/withdrew the unfinished application \(20[02]\)/);
    // With valuation answering again, the withdrawal takes effect at the workflow's next stage.
    const token = await mintDevToken(system.config, { sub: 'test-watcher', roles: ['admin'] });
    for (const deadline = Date.now() + PATIENCE_MS; ; ) {
      const res = await fetch(`${system.apiUrl}/applications/${slow!.applicationId}`, { headers: { authorization: `Bearer ${token}` } });
      const stage = ((await res.json()) as { stage: string }).stage;
      if (stage === 'withdrawn') break;
      if (Date.now() > deadline) throw new Error(`the timed-out application is still ${stage}`);
      await sleep(250);
    }
  });

  const runCli = (args: string[], extraEnv: Record<string, string>) => runCommand('src/cli/demo.ts', args, extraEnv);

  it('the command plays a scenario against the running system, configured like npm start, and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['--only', 'withdrawal', '--timeout', '300'], {
      PORT: env.PORT!,
      SANDBOX_PORT: env.SANDBOX_PORT!,
      TEMPORAL_UI_PORT: env.TEMPORAL_UI_PORT!,
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/\[withdrawal {2}\] stage → withdrawn/);
    expect(stdout).toMatch(/ok {3}withdrawal {3}withdrawn/);
    expect(stdout).toContain(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}/namespaces/default/workflows/loan-application-`);
  });

  it('Ctrl-C withdraws every application it opened that is still open', async () => {
    // The call centre down: every scenario stops in phone_verification, its application open.
    const sandbox = new SandboxAdminClient(system.sandbox!.url);
    await sandbox.setFault({ provider: 'callCentre', mode: 'error_5xx', durationMs: 600_000 });
    try {
      // As a terminal runs it: its own process group, which Ctrl-C signals as a whole.
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts', '--timeout', '600'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), PORT: env.PORT!, SANDBOX_PORT: env.SANDBOX_PORT!, TEMPORAL_UI_PORT: env.TEMPORAL_UI_PORT! },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const waiting = () => SCENARIOS.filter((name) => stdout.includes(`[${name.padEnd(12)}] stage → phone_verification`));
      for (let i = 0; waiting().length < SCENARIOS.length; i++) {
        if (child.exitCode !== null || i > 1_200) throw new Error(`the demo never had every application waiting:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const opened = [...stdout.matchAll(/submitted application (\S+) /g)].map((m) => m[1] as string);
      expect(opened).toHaveLength(SCENARIOS.length);

      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toBe(1);
      expect(stderr).toBe('');
      expect(stdout).toContain('Interrupted: withdrawing the unfinished applications');
      expect(stdout.match(/withdrew the unfinished application \(200\)/g)).toHaveLength(SCENARIOS.length);

      // With the call centre back, each withdrawal takes effect at the application's next wait.
      await sandbox.clearFaults();
      const token = await mintDevToken(system.config, { sub: 'test-watcher', roles: ['admin'] });
      for (const id of opened) {
        for (let i = 0; ; i++) {
          const res = await fetch(`${system.apiUrl}/applications/${id}`, { headers: { authorization: `Bearer ${token}` } });
          const stage = ((await res.json()) as { stage: string }).stage;
          if (stage === 'withdrawn') break;
          if (i > 1_200) throw new Error(`${id} is still ${stage}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await sandbox.clearFaults();
    }
  });

  it('says clearly that no system is running, and exits 2', async () => {
    const port = await freePort();
    await expect(preflight({ apiUrl: `http://127.0.0.1:${port}`, token: async () => 'x' })).rejects.toThrow(SystemNotRunning);
    const { code, stdout, stderr } = await runCli([], { PORT: String(port) });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`No car-loans API answers at http://127.0.0.1:${port}`);
    expect(stderr).toContain('npm start');
  });

  it('refuses to play when the API does not take its tokens (another JWT secret)', async () => {
    const { code, stderr } = await runCli(['--only', 'withdrawal'], { PORT: env.PORT!, JWT_SECRET: 'another-secret-that-is-long-enough-0123456789' });
    expect(code).toBe(2);
    expect(stderr).toContain('refused the demo');
  });
});
