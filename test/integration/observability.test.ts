import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { freePort } from '../../src/temporal/devServer';
import { API_PATIENCE, PATIENCE_MS, sleep } from '../helpers/wait';
import { ownDatabaseEnv } from '../helpers/db';

/**
 * What the people who run the system see, on the whole system as `npm start` runs it: JSON log
 * lines with request ids (API) and workflow ids and stages (worker), and no personal data in any
 * of them; Prometheus metrics on the API's /metrics (requests by route pattern and status, loans by
 * stage from the database) and the Temporal SDK's worker metrics on WORKER_METRICS_PORT.
 */

// The test setup installs a quiet Temporal runtime in this module registry; a fresh registry lets
// the system install its own, as `npm start` does: the SDK's logs through pino, metrics on their port.
jest.resetModules();
/* eslint-disable @typescript-eslint/no-require-imports */
import { count } from 'drizzle-orm';
import { applications } from '../../src/db/schema';
import { STAGES } from '../../src/domain';
const { startSystem } = require('../../src/system') as typeof import('../../src/system');
const { loadConfig } = require('../../src/config') as typeof import('../../src/config');
const { createLogger } = require('../../src/logger') as typeof import('../../src/logger');
const { mintDevToken } = require('../../src/api/auth') as typeof import('../../src/api/auth');
const { residentIdCheckChar } = require('../../src/domain') as typeof import('../../src/domain');
/* eslint-enable @typescript-eslint/no-require-imports */

type RunningSystem = Awaited<ReturnType<typeof startSystem>>;
type Line = Record<string, unknown> & { msg?: string };

const ID_17 = `11010819880808${String(100 + Math.floor(Math.random() * 800))}`;
const PERSON = { name: '观测测试员', idNumber: `${ID_17}${residentIdCheckChar(ID_17)}`, phone: '13000017777' };

describe('logs and metrics of the running system', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-obs-'));
  const raw: string[] = [];
  let system: RunningSystem;
  let workerMetricsPort: number;
  let applicationId: string;

  const lines = (): Line[] => raw.map((l) => JSON.parse(l) as Line);
  const auth = async (sub: string, role: 'officer' | 'admin') => `Bearer ${await mintDevToken(system.config, { sub, roles: [role] })}`;
  const scrape = async (url: string) => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return res.text();
  };
  /** The value of one sample, by exact name and labels in the exposition's order. */
  const sample = (text: string, series: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  let database: Awaited<ReturnType<typeof ownDatabaseEnv>> | undefined;

  beforeAll(async () => {
    database = await ownDatabaseEnv('system');
    workerMetricsPort = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      SANDBOX_PORT: String(await freePort()),
      WORKER_METRICS_PORT: String(workerMetricsPort),
      ...API_PATIENCE,
      ...database.env,
    };
    const sink = new Writable({
      write(chunk, _enc, done) {
        raw.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    // Debug, so the SDK's own workflow and activity lines are there to be checked too.
    system = await startSystem(loadConfig(env), createLogger('debug', 'car-loans', sink));
  });

  afterAll(async () => {
    await system?.stop();
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function stageOf(id: string): Promise<string> {
    const res = await fetch(`${system.apiUrl}/applications/${id}`, { headers: { authorization: await auth('obs-watcher', 'admin') } });
    return ((await res.json()) as { stage: string }).stage;
  }

  async function waitForStage(id: string, stage: string): Promise<void> {
    for (const deadline = Date.now() + PATIENCE_MS; (await stageOf(id)) !== stage; ) {
      if (Date.now() > deadline) throw new Error(`${id} never reached ${stage}`);
      await sleep(250);
    }
  }

  it('an application submitted and withdrawn through the API', async () => {
    const body = {
      channel: 'branch',
      branchId: 'OBS-001',
      applicant: { ...PERSON, monthlyIncomeFen: 2_500_000 },
      vehicle: { vin: 'LFV2A21K2A3010006', make: 'BYD', model: 'Han', year: 2025, condition: 'new', energy: 'new_energy', usage: 'personal', priceFen: 25_000_000, mileageKm: 0 },
      loan: { amountFen: 12_000_000, termMonths: 24, repaymentMethod: 'equal_principal' },
      documents: ['id_card', 'driver_license', 'income_proof', 'purchase_contract'].map((type, i) => ({ type, uri: `s3://obs/${type}.jpg`, sha256: String(i).repeat(64) })),
    };
    const created = await fetch(`${system.apiUrl}/applications`, {
      method: 'POST',
      headers: { authorization: await auth('obs-officer', 'officer'), 'content-type': 'application/json', 'x-request-id': 'obs-request-0001' },
      body: JSON.stringify(body),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-request-id')).toBe('obs-request-0001');
    applicationId = ((await created.json()) as { id: string }).id;
    await waitForStage(applicationId, 'phone_verification');
    const withdrawn = await fetch(`${system.apiUrl}/applications/${applicationId}/withdraw`, {
      method: 'POST',
      headers: { authorization: await auth('obs-officer', 'officer'), 'content-type': 'application/json' },
      body: JSON.stringify({ reason: `客户${PERSON.name}来电撤回`, reasonCode: 'CUSTOMER_CHANGED_MIND' }),
    });
    expect([200, 202]).toContain(withdrawn.status);
    await waitForStage(applicationId, 'withdrawn');
    // The run ends once its last acts and compensations are recorded: wait for that, not just the stage.
    expect(await system.client.workflow.getHandle(`loan-application-${applicationId}`).result()).toMatchObject({ stage: 'withdrawn' });
    const unknown = await fetch(`${system.apiUrl}/applications/no-such-application`, { headers: { authorization: await auth('obs-watcher', 'admin') } });
    expect(unknown.status).toBe(404);
  });

  it('API metrics: requests by route pattern and status, latencies, and loans by stage from the database', async () => {
    const text = await scrape(`${system.apiUrl}/metrics`);
    expect(sample(text, 'http_requests_total{method="POST",route="/applications",status="201"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="POST",route="/applications/:id/withdraw",status="200"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="GET",route="/applications/:id",status="404"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="GET",route="/applications/:id",status="200"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'http_request_duration_seconds_count{method="POST",route="/applications",status="201"}')).toBe(1);
    // Route patterns, never raw paths: no id in any label.
    expect(text).not.toContain(applicationId);
    expect(text).not.toContain('no-such-application');

    // Every stage has a series, counted from the applications table; this test's one is withdrawn.
    const stages = Object.fromEntries([...text.matchAll(/^car_loans_applications\{stage="([a-z_]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    const rows = await system.db.db.select({ stage: applications.stage, n: count() }).from(applications).groupBy(applications.stage);
    const expected: Record<string, number> = Object.fromEntries(STAGES.map((st) => [st, 0]));
    for (const r of rows) expected[r.stage] = Number(r.n);
    expect(stages).toEqual(expected);
    expect(stages.withdrawn).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^# TYPE car_loans_applications gauge$/m);
  });

  it("the Temporal SDK's worker metrics on WORKER_METRICS_PORT", async () => {
    // The SDK counts a completion as it reports it to the server: give the counter a moment.
    let text = '';
    for (const deadline = Date.now() + PATIENCE_MS; !/^temporal_workflow_completed\{/m.test(text) && Date.now() < deadline; ) {
      if (text) await sleep(250);
      text = await scrape(`http://127.0.0.1:${workerMetricsPort}/metrics`);
    }
    expect(text).toMatch(/^temporal_workflow_completed\{.*task_queue="car-loans".*workflow_type="loanApplication".*\} 1$/m);
    expect(text).toMatch(/^temporal_activity_execution_latency(_seconds)?_count\{.*activity_type="openCallTask".*\} \d+$/m);
    // The database steps are local activities (issue 17), counted apart.
    expect(text).toMatch(/^temporal_local_activity_execution_latency(_seconds)?_count\{.*activity_type="screenApplication".*\} \d+$/m);
  });

  it('JSON log lines: request ids from the API, workflow ids and stages from the worker, no personal data anywhere', async () => {
    const all = lines();
    const workflowId = `loan-application-${applicationId}`;

    // The API's access log carries the caller's request id, the route pattern and the status.
    expect(all).toContainEqual(expect.objectContaining({ msg: 'request', requestId: 'obs-request-0001', method: 'POST', route: '/applications', status: 201 }));
    expect(all).toContainEqual(expect.objectContaining({ msg: 'application created', requestId: 'obs-request-0001', applicationId }));
    const generated = all.find((l) => l.msg === 'request' && l.route === '/applications/:id/withdraw');
    expect(generated?.requestId).toMatch(/^[0-9a-f-]{36}$/);

    // The workflow's lines (through the SDK's logger) carry its id and its stage at the time.
    const workflowLines = all.filter((l) => l.sdkComponent === 'workflow' && l.workflowId === workflowId);
    expect(workflowLines.map((l) => l.stage)).toEqual(expect.arrayContaining(['document_check', 'phone_verification', 'withdrawn']));
    expect(workflowLines.filter((l) => l.msg === 'stage entered').map((l) => l.stage)).toEqual(['document_check', 'phone_verification', 'withdrawn']);
    // Lines the SDK writes itself get the stage from the interceptor (no stage in their own metadata).
    expect(all).toContainEqual(expect.objectContaining({ msg: 'Workflow completed', workflowId, stage: 'withdrawn' }));
    // Activities' lines carry the workflow they work for.
    expect(all).toContainEqual(expect.objectContaining({ msg: 'Activity completed', workflowId, activityType: 'screenApplication' }));

    // Nothing personal in any line: not the name, the ID number, the phone, nor the typed reason.
    const text = raw.join('\n');
    for (const secret of [PERSON.name, PERSON.idNumber, PERSON.phone, PERSON.phone.slice(-8), PERSON.idNumber.slice(6, 14)]) expect(text).not.toContain(secret);
    // Nor key material: at debug the SDK logs the worker's options, payload codec included (dev key: 32 bytes of 13).
    expect(text).not.toMatch(/13,\s*13,\s*13/);
    expect(all).toContainEqual(expect.objectContaining({ msg: 'Creating worker' }));
    expect(all.length).toBeGreaterThan(50);
  });

  it('the whole path, from submission through e-signature, payment and SMS to a repayment in servicing: no personal data in any line', async () => {
    const ID2 = `11010819900909${String(100 + Math.floor(Math.random() * 800))}`;
    const person = { name: '全程测试员', idNumber: `${ID2}${residentIdCheckChar(ID2)}`, phone: '13000018888' };
    const call = async (method: 'GET' | 'POST', url: string, sub: string, role: 'officer' | 'verifier' | 'approver' | 'finance' | 'admin', body?: unknown) => {
      const res = await fetch(`${system.apiUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${await mintDevToken(system.config, { sub, roles: [role] })}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const waitFor = async (id: string, until: (s: Record<string, any>) => boolean, what: string) => {
      for (let i = 0; ; i++) {
        const { body } = await call('GET', `/applications/${id}`, 'obs-watcher', 'admin');
        if (until(body)) return body;
        if (i > 480) throw new Error(`${id} never reached ${what}: ${body.stage} ${JSON.stringify(body.pendingTask)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const task = (kind: string) => (s: Record<string, any>) => s.pendingTask?.kind === kind;

    const created = await call('POST', '/applications', 'obs-officer', 'officer', {
      channel: 'branch',
      branchId: 'OBS-002',
      applicant: { ...person, monthlyIncomeFen: 3_000_000 },
      vehicle: { vin: 'LFV2A21K2A3010006', make: 'BYD', model: 'Han', year: 2025, condition: 'new', energy: 'new_energy', usage: 'personal', priceFen: 25_000_000, mileageKm: 0 },
      loan: { amountFen: 10_000_000, termMonths: 12, repaymentMethod: 'equal_installment' },
      documents: ['id_card', 'driver_license', 'income_proof', 'purchase_contract'].map((type, i) => ({ type, uri: `s3://obs-2/${type}.jpg`, sha256: String(i + 4).repeat(64) })),
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await waitFor(id, task('phone_verification'), 'phone verification');
    const verified = await call('POST', `/applications/${id}/phone-verification`, 'obs-verifier', 'verifier', {
      outcome: 'passed',
      recordingRef: 'rec-obs-2',
      checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true },
      notes: `与${person.name}本人通话，电话${person.phone}`,
    });
    expect(verified.status).toBe(200);
    await waitFor(id, task('approval'), 'approval');
    expect((await call('POST', `/applications/${id}/decision`, 'obs-approver', 'approver', { decision: 'approve', comment: `${person.name}收入稳定` })).status).toBe(200);
    const signing = await waitFor(id, task('sign_contract'), 'signing');
    // The customer signs at the e-signature provider, whose webhook tells the API.
    const signed = await fetch(`${system.config.providers.esign}/v1/envelopes/${signing.envelopeId}/sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(signed.status).toBe(200);
    const serviced = await waitFor(id, (s) => s.stage === 'servicing' && Boolean(s.loanId), 'servicing');
    const loanId = serviced.loanId as string;
    const schedule = await call('GET', `/loans/${loanId}/schedule`, 'obs-finance', 'finance');
    const first = schedule.body.installments[0] as { totalFen: number };
    const paid = await call('POST', `/loans/${loanId}/repayments`, 'obs-finance', 'finance', { amountFen: first.totalFen, paidAt: new Date().toISOString(), reference: `obs-bank-${id}` });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ outcome: 'applied' });

    const all = lines();
    // The path was logged: the sandbox's e-signature, payment and SMS lines, the worker's activities
    // for each, and the servicing workflow applying the repayment.
    for (const msg of ['esign: envelope sent', 'esign: envelope signed', 'payments: transfer accepted', 'sms: accepted', 'call centre: task created', 'credit bureau: report issued', 'ocr: document recognised']) {
      expect(all).toContainEqual(expect.objectContaining({ component: 'sandbox', msg }));
    }
    for (const activityType of ['openEnvelope', 'disburseLoan', 'notifyApplicant', 'createLoan']) {
      expect(all).toContainEqual(expect.objectContaining({ msg: 'Activity completed', activityType }));
    }
    expect(all).toContainEqual(expect.objectContaining({ msg: 'request', route: '/webhooks/esign', status: 200 }));
    expect(all).toContainEqual(expect.objectContaining({ msg: 'request', route: '/loans/:id/repayments', status: 200 }));
    expect(all).toContainEqual(expect.objectContaining({ msg: 'Activity completed', activityType: 'bookServicingTransaction', workflowType: 'loanServicing', workflowId: expect.stringMatching(/^loan-servicing-/) }));

    // And nothing personal in any line of the run: name, ID number (or its birth date), phone, nor what staff typed.
    const text = raw.join('\n');
    for (const secret of [person.name, person.idNumber, person.phone, person.phone.slice(-8), person.idNumber.slice(6, 14), '收入稳定', '本人通话']) {
      expect(text).not.toContain(secret);
    }
  });
});
