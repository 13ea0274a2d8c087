import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { inArray } from 'drizzle-orm';
import postgres from 'postgres';
import { loadConfig } from '../../src/config';
import { applications } from '../../src/db/schema';
import { dataConverterFromConfig, ensureSearchAttributes } from '../../src/temporal/connection';
import { REMINDERS_SCHEDULE } from '../../src/temporal/schedules';
import { loanIdForApplication, loanServicingWorkflowId, REMINDERS_SCHEDULE_ID } from '../../src/domain/ids';
import { LOAN_SEARCH_ATTRIBUTES } from '../../src/workflows/searchAttributes';
import { checkApplications, newTally, rawClient, summaryLine, type Tally } from '../reliability/checks';
import { done, LoanDriver, sleep, type AppState } from '../reliability/driver';
import { startTopology, type Topology } from './selfHosted';

/**
 * The production topology run for real (issue 23): a Temporal server built from its Go module on
 * PostgreSQL with SQL visibility, started from the repository's deploy/temporal/ configuration (the
 * files docker-compose.yml mounts), its UI, the sandbox, two workers sharing the task queue and the
 * API, each a separate process. Applications go through the API as staff would; a worker is
 * killed, the Temporal server is killed and restarted on its PostgreSQL state, PostgreSQL itself is
 * restarted; then the systems of record (PostgreSQL, Temporal, the payment provider's ledger) show
 * no application lost and none paid twice. The fault cases use the reliability suite's processes,
 * driver and checks, so its faults can run here too. Ends with one line: faults injected,
 * applications checked, losses, duplicates.
 */

const SA_TYPE = proto.api.enums.v1.IndexedValueType;
const EXPECTED_TYPES: Record<string, number> = { KEYWORD: SA_TYPE.INDEXED_VALUE_TYPE_KEYWORD, INT: SA_TYPE.INDEXED_VALUE_TYPE_INT };

describe('the production topology: a Temporal cluster on PostgreSQL, two workers, the API', () => {
  let t: Topology;
  let driver: LoanDriver;
  let raw: Client;
  let decoding: Client;
  let attributesBeforeWorkers: string[] = [];
  const tally: Tally = newTally();
  const started = Date.now();

  beforeAll(async () => {
    t = await startTopology({
      // A request whose API process died keeps its Idempotency-Key "in progress" this long (see the reliability suite).
      env: { IDEMPOTENCY_STALE_MS: '35000' },
      beforeWorkers: async (topology) => {
        const conn = await Connection.connect({ address: topology.temporalAddress });
        try {
          const r = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
          attributesBeforeWorkers = Object.keys(r.customAttributes ?? {});
        } finally {
          await conn.close();
        }
      },
    });
    driver = new LoanDriver(t.apiUrl, t.sandboxUrl);
    raw = await rawClient(t.temporalAddress);
    // The deployment's codec (the development keys every process of this topology uses).
    decoding = new Client({ connection: raw.connection, namespace: 'default', dataConverter: dataConverterFromConfig(loadConfig({ NODE_ENV: 'test' })) });
    // A cold build of the Temporal server and UI from the Go module proxy takes minutes on two busy cores.
  }, 2_700_000);

  afterAll(async () => {
    await driver?.sandbox.clearFaults().catch(() => undefined);
    await raw?.connection.close().catch(() => undefined);
    await t?.stop();
    process.stdout.write(`\ntopology (${Math.round((Date.now() - started) / 1000)} s): ${summaryLine(tally)}\n`);
    for (const l of [...tally.losses, ...tally.duplicates]) process.stdout.write(`  ${l}\n`);
  });

  afterEach(async () => {
    // A failed case must not leave a fault switched on or a process down for the next one.
    if (!t) return;
    await driver.sandbox.clearFaults().catch(() => undefined);
    for (const p of [t.temporal, t.sandbox, ...t.workers, t.api, t.ui]) if (!p.running) await p.start();
  });

  async function submitMany(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = await driver.submit({ condition: i % 4 === 3 ? 'used' : 'new', channel: i % 3 === 2 ? 'dealer' : 'branch' });
      ids.push(s.id);
    }
    return ids;
  }

  /** Drives the applications to servicing (a second pass for any left short), then checks the systems of record. */
  async function finish(label: string, ids: string[], timeoutMs: number, drive?: Promise<Map<string, AppState | undefined>>) {
    const states = drive ? await drive : await driver.drive(ids, timeoutMs);
    const rest = ids.filter((id) => !done(states.get(id)));
    if (rest.length) for (const [k, v] of await driver.drive(rest, 120_000)) states.set(k, v);
    const found = await checkApplications(t, driver, raw, ids, states, tally, label);
    expect(found).toEqual({ losses: [], duplicates: [] });
    return states;
  }

  /** The identities of the workers that ran workflow and activity tasks of these applications. */
  async function workerIdentities(ids: string[]): Promise<Set<string>> {
    const seen = new Set<string>();
    for (const id of ids) {
      const history = await raw.workflow.getHandle(`loan-application-${id}`).fetchHistory();
      for (const e of history.events ?? []) {
        const identity = e.workflowTaskStartedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity;
        if (identity) seen.add(identity);
      }
    }
    return seen;
  }

  async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms ${last ? `(${String(last)})` : ''}`);
      await sleep(1_000);
    }
  }

  it('runs a Temporal server of the pinned release on PostgreSQL with SQL visibility, its schemas made by the schema tool', async () => {
    const info = await raw.connection.workflowService.getClusterInfo({});
    expect(info.serverVersion).toBe('1.32.2');
    expect(info.persistenceStore).toBe('postgres12');
    expect(info.visibilityStore).toBe('postgres12');
    // Both databases hold the schema version the tool set up; the visibility store has its table.
    for (const dbName of ['temporal', 'temporal_visibility']) {
      const u = new URL(t.postgres.url);
      u.pathname = `/${dbName}`;
      const sql = postgres(u.toString(), { max: 1, onnotice: () => undefined });
      try {
        const [row] = await sql<{ curr_version: string }[]>`SELECT curr_version FROM schema_version`;
        expect(row?.curr_version).toMatch(/^1\.\d+$/);
        if (dbName === 'temporal_visibility') expect((await sql`SELECT 1 FROM executions_visibility LIMIT 1`).count).toBeGreaterThanOrEqual(0);
      } finally {
        await sql.end({ timeout: 5 });
      }
    }
    // The namespace deploy/temporal/setup.sh registered.
    const ns = await raw.connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(ns.namespaceInfo?.name).toBe('default');
    // Running setup again (as compose does at every `up`) changes nothing and does not fail.
    t.setup('schema');
    t.setup('namespace');
  });

  it('has the loan search attributes, registered by the two workers through the operator API on the fresh cluster', async () => {
    // The fresh cluster had none of them before a worker started.
    expect(attributesBeforeWorkers.filter((a) => LOAN_SEARCH_ATTRIBUTES.some((k) => k.name === a))).toEqual([]);
    const r = await raw.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const custom = r.customAttributes ?? {};
    expect(Object.fromEntries(LOAN_SEARCH_ATTRIBUTES.map((k) => [k.name, custom[k.name]]))).toEqual(
      Object.fromEntries(LOAN_SEARCH_ATTRIBUTES.map((k) => [k.name, EXPECTED_TYPES[k.type]])),
    );
    // The two workers started together, racing to register them: one did, and neither failed.
    const logs = t.workers.map((w) => w.output);
    expect(logs.some((l) => l.includes('"registered search attributes"'))).toBe(true);
    for (const l of logs) expect(l).not.toContain('could not register search attributes');
    // Registering again is a no-op (every worker start does it).
    expect(await ensureSearchAttributes(raw.connection as Connection, 'default')).toEqual([]);
  });

  it('registers them once and consistently when several workers race on a fresh namespace', async () => {
    // A namespace of its own, made the way setup.sh makes every namespace, so the race starts from nothing.
    t.setup('namespace', { TEMPORAL_NAMESPACE: 'topology-race' });
    const conn = raw.connection as Connection;
    await Promise.all([1, 2, 3].map(() => ensureSearchAttributes(conn, 'topology-race')));
    const r = await conn.operatorService.listSearchAttributes({ namespace: 'topology-race' });
    expect(Object.fromEntries(LOAN_SEARCH_ATTRIBUTES.map((k) => [k.name, r.customAttributes?.[k.name]]))).toEqual(
      Object.fromEntries(LOAN_SEARCH_ATTRIBUTES.map((k) => [k.name, EXPECTED_TYPES[k.type]])),
    );
    // SQL visibility maps each attribute onto one preallocated column: no attribute twice.
    const ns = await conn.workflowService.describeNamespace({ namespace: 'topology-race' });
    const aliases = Object.values(ns.config?.customSearchAttributeAliases ?? {});
    expect([...aliases].sort()).toEqual(LOAN_SEARCH_ATTRIBUTES.map((k) => k.name).sort());
    expect(await ensureSearchAttributes(conn, 'topology-race')).toEqual([]);
  });

  it('takes applications through the API to servicing across both workers, and SQL visibility finds them by the loan search attributes', async () => {
    const ids = await submitMany(6);
    await finish('both-workers', ids, 300_000);
    // Workflow and activity tasks of these applications ran on both worker processes.
    expect((await workerIdentities(ids)).size).toBeGreaterThanOrEqual(2);
    // The custom search attributes are queryable in SQL visibility (what an engineer filters by in
    // the UI): each loan in servicing is listed once, by its servicing run (the application run
    // ended when it handed the loan over).
    const servicingOf = (id: string) => loanServicingWorkflowId(loanIdForApplication(id));
    const query = `WorkflowType = "loanServicing" AND LoanStage = "servicing" AND LoanAmountFen > 0`;
    const listed = await poll('visibility lists every loan in servicing, once', 120_000, async () => {
      const found = new Set<string>();
      for await (const w of raw.workflow.list({ query })) found.add(w.workflowId);
      return ids.every((id) => found.has(servicingOf(id))) ? found : undefined;
    });
    for (const id of ids) expect(listed.has(`loan-application-${id}`)).toBe(false);
    expect(listed.size).toBeGreaterThanOrEqual(ids.length);
    // The UI server reads the same through the cluster, and tells the browser to decode payloads at the API's codec endpoint.
    const settings = (await (await fetch(`${t.uiUrl}/api/v1/settings`)).json()) as { Codec: { Endpoint: string; PassAccessToken: boolean; IncludeCredentials: boolean } };
    expect(settings.Codec).toMatchObject({ Endpoint: `${t.apiUrl}/codec`, PassAccessToken: true, IncludeCredentials: true });
    const res = await fetch(`${t.uiUrl}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { executions?: Array<{ execution: { workflowId: string } }> };
    const inUi = new Set((body.executions ?? []).map((e) => e.execution.workflowId));
    for (const id of ids) expect(inUi.has(servicingOf(id))).toBe(true);
  });

  it('keeps going on the other worker when one is SIGKILLed mid-traffic; nothing lost, nothing paid twice', async () => {
    // Slow providers keep activities in flight, so the kill lands mid-call on whatever worker-1 held.
    await Promise.all([
      driver.sandbox.setFault({ provider: 'ocr', mode: 'slow', latencyMs: 1500 }),
      driver.sandbox.setFault({ provider: 'payments', mode: 'slow', latencyMs: 2000 }),
    ]);
    const ids = await submitMany(4);
    const drive = driver.drive(ids, 420_000);
    await poll('an application in an automated stage', 120_000, async () => {
      const rows = await t.db.db.select({ stage: applications.stage }).from(applications).where(inArray(applications.id, ids));
      return rows.some((r) => ['intake', 'document_check', 'valuation', 'disbursement'].includes(r.stage)) ? true : undefined;
    });
    await t.workers[0]!.kill('SIGKILL');
    tally.faults++;
    // Every application reaches servicing with worker-1 dead: worker-2 picks up its workflows and activities.
    const states = await drive;
    expect(t.workers[0]!.running).toBe(false);
    await driver.sandbox.clearFaults();
    await finish('worker-kill', ids, 0, Promise.resolve(states));
    await t.workers[0]!.start();
  });

  it('carries on when the Temporal server is SIGKILLed and restarted on its PostgreSQL state', async () => {
    const waiting = await submitMany(3);
    // These wait for a person (phone verification) while the server is down; two more are mid-way.
    await driver.drive(waiting, 180_000, { stop: (s) => s.pendingTask?.kind === 'phone_verification' });
    await driver.sandbox.setFault({ provider: 'ocr', mode: 'slow', latencyMs: 2_000 });
    const busy = await submitMany(2);
    await sleep(500);
    await t.temporal.kill('SIGKILL');
    tally.faults++;
    await sleep(3_000);
    await t.temporal.start();
    await driver.sandbox.clearFaults();
    // The workers, the API and the UI reconnect on their own.
    for (const p of [...t.workers, t.api, t.ui]) expect({ [p.name]: p.running }).toEqual({ [p.name]: true });
    await finish('temporal-restart', [...waiting, ...busy], 300_000);
  });

  it('recovers when PostgreSQL (Temporal persistence, visibility and the application database) goes down under traffic and comes back', async () => {
    const startedAt = async () => {
      const pg = postgres(t.postgres.url, { max: 1, onnotice: () => undefined });
      try {
        return (await pg<{ at: string }[]>`SELECT pg_postmaster_start_time()::text AS at`)[0]!.at;
      } finally {
        await pg.end({ timeout: 5 });
      }
    };
    const before = await startedAt();
    await driver.sandbox.setFault({ provider: 'valuation', mode: 'slow', latencyMs: 1_000 });
    const ids = await submitMany(4);
    const drive = driver.drive(ids, 420_000);
    const open = await poll('applications mid-way through origination', 120_000, async () => {
      const rows = await t.db.db.select({ stage: applications.stage }).from(applications).where(inArray(applications.id, ids));
      const mid = rows.filter((r) => !['intake', 'servicing'].includes(r.stage));
      return mid.length >= 2 ? mid.length : undefined;
    });
    expect(open).toBeGreaterThanOrEqual(2);
    // As a crash would (no checkpoint, every connection cut), and down for 10 s: writes of the
    // Temporal server, the workers' activities and the API's requests fail meanwhile.
    await t.postgres.restart('immediate', 10_000);
    tally.faults++;
    await driver.sandbox.clearFaults();
    const states = await drive;
    expect(await startedAt()).not.toBe(before);
    // Nothing had to be restarted by hand: every process rode it out.
    for (const p of [t.temporal, ...t.workers, t.api]) expect({ [p.name]: p.running }).toEqual({ [p.name]: true });
    await finish('postgres-restart', ids, 0, Promise.resolve(states));
  });

  it('has the daily reminder Schedule the workers ensured, and a trigger runs a sweep on the cluster', async () => {
    const handle = decoding.schedule.getHandle(REMINDERS_SCHEDULE_ID);
    const d = await handle.describe();
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: REMINDERS_SCHEDULE.workflowType, taskQueue: 'car-loans' });
    expect(d.spec.timezone).toBe(REMINDERS_SCHEDULE.timezone);
    const before = d.info.recentActions.length;
    await handle.trigger();
    const workflowId = await poll('the triggered sweep', 120_000, async () => {
      const recent = (await handle.describe()).info.recentActions;
      return recent.length > before ? recent.at(-1)!.action.workflow.workflowId : undefined;
    });
    expect(workflowId.startsWith(REMINDERS_SCHEDULE.workflowIdPrefix)).toBe(true);
    const result = (await decoding.workflow.getHandle(workflowId).result()) as { asOfDate: string; duplicates?: number };
    expect(result.asOfDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect((await raw.workflow.getHandle(workflowId).describe()).status.name).toBe('COMPLETED');
  });

  it('ends with no loss and no duplicate', () => {
    expect(tally.faults).toBeGreaterThanOrEqual(3);
    expect(tally.checked.size).toBeGreaterThanOrEqual(15);
    expect(tally.losses).toEqual([]);
    expect(tally.duplicates).toEqual([]);
  });
});
