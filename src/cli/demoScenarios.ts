import { createHash, randomInt, randomUUID } from 'node:crypto';
import { residentIdCheckChar } from '../domain/validators';
import type { StaffRole } from '../workflows/messages';

/**
 * The scenarios `npm run demo` plays against a running system, acting as the staff through the
 * API only (plus the e-signature provider's "customer signs" button). Each creates one
 * application, drives it to the stage it should end in, and reports every stage it went through
 * from the workflow's own stage history. Exported for test/integration/demo.test.ts.
 */

export const SCENARIOS = ['happy-path', 'auto-decline', 'request-info', 'four-eyes', 'withdrawal'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

const TERMINAL = ['closed', 'rejected', 'withdrawn', 'expired', 'failed'];

/** Credit-bureau test value of the sandbox: score 455, below the floor (docs/sandbox.md). */
export const LOW_SCORE_ID_NUMBER = '110105198506151017';

export interface DemoOptions {
  /** Base URL of the operations API, e.g. http://127.0.0.1:3000. */
  apiUrl: string;
  /** A bearer token for a staff id and roles (the demo mints development tokens). */
  token(sub: string, roles: StaffRole[]): Promise<string>;
  /** The e-signature provider's base URL; its sandbox's test hook signs as the customer would. */
  esignUrl?: string | undefined;
  /** Base of the Temporal Web UI, e.g. http://127.0.0.1:8233. */
  temporalUiUrl: string;
  namespace: string;
  scenarios?: readonly ScenarioName[];
  /** Per scenario; on expiry the application is withdrawn (if it still can be) and the scenario fails. */
  timeoutMs?: number;
  pollMs?: number;
  print?(line: string): void;
  /** Aborting (Ctrl-C) stops every scenario and withdraws what is still open. */
  signal?: AbortSignal;
}

export interface ScenarioResult {
  name: ScenarioName;
  expected: string;
  /** The stage it ended in, or where it was when it failed or timed out. */
  stage: string | null;
  ok: boolean;
  error?: string;
  applicationId?: string;
  workflowId?: string;
  uiUrl?: string;
  /** Every stage entered, in order (from the workflow's stage history). */
  stages: string[];
  seconds: number;
}

interface AppState {
  id: string;
  workflowId: string;
  stage: string;
  pendingTask: { kind: string; role: string; approvalsNeeded?: number; approvedBy?: string[] } | null;
  offer: { amountFen: number; termMonths: number; annualRateBps: number; aprBps: number; monthlyPaymentFen: number } | null;
  decisions: { actor: string; decision: string; reasonCode?: string; counted: boolean }[];
  stageHistory: { stage: string; at: string }[];
  outcomeReason: string | null;
  envelopeId: string | null;
  loanId: string | null;
  flags: string[];
  live: boolean;
}

class ScenarioFailed extends Error {}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const yuan = (fen: number) => `${(fen / 100).toLocaleString('en-US', { maximumFractionDigits: 2 })} CNY`;

// ---------------------------------------------------------------------------------------------
// Sample data: valid for the validators, obviously not a real person

/**
 * A resident ID number that passes GB 11643 (province, real date, check character) and is
 * obviously made up: born on 1 January, sequence 9xx. Fresh per application, since intake declines
 * a second open application of one ID number.
 */
export function demoIdNumber(): string {
  const first17 = `110105${1970 + randomInt(0, 30)}0101${900 + randomInt(0, 100)}`;
  return `${first17}${residentIdCheckChar(first17)}`;
}

/** 1300001xxxx: a well-formed mobile number in an obviously placeholder block. */
export function demoPhone(): string {
  return `1300001${String(randomInt(0, 10_000)).padStart(4, '0')}`;
}

function demoDocuments(tag: string, types: readonly string[]) {
  return types.map((type) => {
    const uri = `s3://demo-docs/${tag}/${type}.jpg`;
    return { type, uri, sha256: createHash('sha256').update(uri).digest('hex') };
  });
}

const NEW_CAR_DOCUMENTS = ['id_card', 'driver_license', 'income_proof', 'purchase_contract'];

function applicationBody(tag: string, o: { name: string; idNumber?: string; amountFen?: number; channel?: string }) {
  return {
    channel: o.channel ?? 'branch',
    branchId: 'DEMO-001',
    applicant: { name: o.name, idNumber: o.idNumber ?? demoIdNumber(), phone: demoPhone(), monthlyIncomeFen: 3_000_000 },
    vehicle: {
      vin: 'LFV2A21K2A3010006',
      make: 'BYD',
      model: 'Han',
      year: 2025,
      condition: 'new',
      energy: 'new_energy',
      usage: 'personal',
      priceFen: 30_000_000,
      mileageKm: 0,
    },
    loan: { amountFen: o.amountFen ?? 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment' },
    documents: demoDocuments(tag, NEW_CAR_DOCUMENTS),
  };
}

const PHONE_PASSED = {
  outcome: 'passed',
  recordingRef: 'rec-demo',
  checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true },
  notes: '演示：客户确认购车自用',
};

// ---------------------------------------------------------------------------------------------
// One scenario's session with the API

class Session {
  readonly tag: string;
  id: string | undefined;
  workflowId: string | undefined;
  last: AppState | undefined;
  private printedHistory = 0;
  private printedStage: string | undefined;
  readonly stages: string[] = [];
  private seq = 0;

  constructor(
    readonly name: ScenarioName,
    readonly opts: Required<Pick<DemoOptions, 'apiUrl' | 'token' | 'temporalUiUrl' | 'namespace' | 'pollMs' | 'print'>> & { esignUrl: string | undefined },
    readonly runId: string,
    readonly signal: AbortSignal,
  ) {
    this.tag = `${runId}-${name}`;
  }

  say(text: string): void {
    this.opts.print(`[${this.name.padEnd(12)}] ${text}`);
  }

  uiUrl(workflowId: string): string {
    return `${this.opts.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(this.opts.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  /** A request as a staff member; 503 (Temporal briefly unavailable) is retried with the same key. */
  async call(method: 'GET' | 'POST', path: string, sub: string, roles: StaffRole[], body?: unknown, idempotencyKey?: string): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.opts.token(sub, roles)}`, 'x-request-id': `demo-${randomUUID()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${this.opts.apiUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(30_000)]),
      });
      const text = await res.text();
      const parsed = text ? safeJson(text) : null;
      if ((res.status === 503 || (res.status === 409 && parsed?.type?.includes('idempotency-in-progress'))) && attempt < 5) {
        await sleep(1000 * attempt, this.signal);
        continue;
      }
      return { status: res.status, body: parsed };
    }
  }

  async create(body: ReturnType<typeof applicationBody>, officer: string): Promise<void> {
    const res = await this.call('POST', '/applications', officer, ['officer'], body, `${this.tag}-create`);
    if (res.status !== 201) throw new ScenarioFailed(`POST /applications answered ${res.status}: ${problemText(res.body)}`);
    this.id = res.body.id as string;
    this.workflowId = res.body.workflowId as string;
    this.say(`${officer} submitted application ${this.id} (${yuan(body.loan.amountFen)}, ${body.loan.termMonths} months)`);
    this.say(`Temporal UI: ${this.uiUrl(this.workflowId)}`);
  }

  /** An act on the application; anything but 200/202 fails the scenario unless `allowed`. */
  async act(action: string, sub: string, role: StaffRole, body: unknown, what: string, allowed: number[] = [200, 202]): Promise<{ status: number; body: any }> {
    const res = await this.call('POST', `/applications/${this.id}/${action}`, sub, [role], body, `${this.tag}-${++this.seq}-${action}`);
    const detail = res.status >= 400 ? ` ${problemText(res.body)}` : '';
    this.say(`  ${sub} ${what} → ${res.status}${detail}`);
    if (!allowed.includes(res.status)) throw new ScenarioFailed(`${action} answered ${res.status}:${detail}`);
    return res;
  }

  /** Reads the application once, printing each stage entered since the last look. */
  async poll(): Promise<AppState | undefined> {
    const res = await this.call('GET', `/applications/${this.id}`, 'demo-watcher', ['admin']);
    if (res.status !== 200) return this.last;
    const s = res.body as AppState;
    this.last = s;
    const history = s.stageHistory ?? [];
    if (history.length > 0) {
      for (; this.printedHistory < history.length; this.printedHistory++) {
        const entry = history[this.printedHistory]!;
        this.stageLine(entry.stage, entry.at, s);
      }
    } else if (s.stage !== this.printedStage) {
      this.stageLine(s.stage, new Date().toISOString(), s);
    }
    return s;
  }

  private stageLine(stage: string, at: string, s: AppState): void {
    this.printedStage = stage;
    this.stages.push(stage);
    let note = '';
    if (stage === s.stage) {
      if (TERMINAL.includes(stage) && s.outcomeReason) note = ` (${s.outcomeReason})`;
      if (stage === 'servicing' && s.loanId) note = ` (loan ${s.loanId})`;
    }
    this.say(`stage → ${stage}${note}  at ${at.slice(11, 19)}Z`);
  }

  /** Polls until `until` holds; fails at once if the application ended in a stage it should not have. */
  async waitFor(label: string, until: (s: AppState) => boolean, expectedEnd?: string): Promise<AppState> {
    for (;;) {
      const s = await this.poll();
      if (s && until(s)) return s;
      if (s && TERMINAL.includes(s.stage) && s.stage !== expectedEnd) {
        throw new ScenarioFailed(`ended in ${s.stage} (${s.outcomeReason ?? 'no reason'}) while waiting for ${label}`);
      }
      await sleep(this.opts.pollMs, this.signal);
    }
  }

  waitForTask(kind: string): Promise<AppState> {
    return this.waitFor(`a ${kind} task`, (s) => s.pendingTask?.kind === kind);
  }

  waitForStage(stage: string): Promise<AppState> {
    return this.waitFor(`stage ${stage}`, (s) => s.stage === stage && (stage !== 'servicing' || Boolean(s.loanId)), stage);
  }

  /** The customer signs at the e-signature provider (its sandbox's button); on site when it cannot be reached. */
  async customerSigns(envelopeId: string | null, officer: string): Promise<void> {
    if (envelopeId && this.opts.esignUrl) {
      try {
        const res = await fetch(`${this.opts.esignUrl.replace(/\/+$/, '')}/v1/envelopes/${encodeURIComponent(envelopeId)}/sign`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
          signal: AbortSignal.any([this.signal, AbortSignal.timeout(10_000)]),
        });
        if (res.ok) {
          this.say(`  the customer signed envelope ${envelopeId} at the e-signature provider → its webhook tells the API`);
          return;
        }
        this.say(`  the e-signature provider answered ${res.status}; signing on site instead`);
      } catch (err) {
        if (this.signal.aborted) throw err;
        this.say(`  the e-signature provider is not reachable (${(err as Error).message}); signing on site instead`);
      }
    }
    await this.act('signature', officer, 'officer', { signedAt: new Date().toISOString() }, 'records the signature on site');
  }
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

function problemText(body: any): string {
  if (!body || typeof body !== 'object') return '';
  const parts = [body.code, body.title, body.detail].filter((x) => typeof x === 'string');
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// The scenarios

interface Scenario {
  expected: string;
  title: string;
  run(s: Session): Promise<void>;
}

const OFFICER = 'demo-officer-1';
const VERIFIER = 'demo-verifier-1';
const APPROVER_1 = 'demo-approver-1';
const APPROVER_2 = 'demo-approver-2';

async function toApproval(s: Session, body: ReturnType<typeof applicationBody>): Promise<AppState> {
  await s.create(body, OFFICER);
  await s.waitForTask('phone_verification');
  await s.act('phone-verification', VERIFIER, 'verifier', PHONE_PASSED, 'records the verification call: passed');
  return s.waitFor('approval or an automatic decision', (x) => x.pendingTask?.kind === 'approval' || TERMINAL.includes(x.stage), 'rejected');
}

function describeOffer(st: AppState): string {
  const o = st.offer;
  return o ? `offer ${yuan(o.amountFen)} · ${o.termMonths} months · ${(o.annualRateBps / 100).toFixed(2)}% (APR ${(o.aprBps / 100).toFixed(2)}%) · monthly ${yuan(o.monthlyPaymentFen)}` : 'no offer';
}

async function signAndDisburse(s: Session, how: 'customer' | 'on_site'): Promise<void> {
  const signing = await s.waitForTask('sign_contract');
  s.say(`  ${describeOffer(signing)}`);
  if (how === 'customer') await s.customerSigns(signing.envelopeId, OFFICER);
  else await s.act('signature', OFFICER, 'officer', { signedAt: new Date().toISOString() }, 'records the signature on site');
  await s.waitForStage('servicing');
}

const SCENARIO_TABLE: Record<ScenarioName, Scenario> = {
  'happy-path': {
    expected: 'servicing',
    title: 'a new car, verified, approved, signed by the customer, paid out',
    async run(s) {
      const st = await toApproval(s, applicationBody(s.tag, { name: '演示客户甲' }));
      if (st.stage !== 'approval') throw new ScenarioFailed(`ended in ${st.stage} before approval`);
      s.say(`  risk assessed: ${describeOffer(st)}`);
      await s.act('decision', APPROVER_1, 'approver', { decision: 'approve', comment: '演示：同意' }, 'approves');
      await signAndDisburse(s, 'customer');
    },
  },
  'auto-decline': {
    expected: 'rejected',
    title: 'a credit score below the floor (sandbox test ID number): declined without a human',
    async run(s) {
      await s.create(applicationBody(s.tag, { name: '演示客户乙', idNumber: LOW_SCORE_ID_NUMBER }), OFFICER);
      await s.waitForTask('phone_verification');
      await s.act('phone-verification', VERIFIER, 'verifier', PHONE_PASSED, 'records the verification call: passed');
      const end = await s.waitForStage('rejected');
      if (!end.decisions.some((d) => d.decision === 'auto_decline')) {
        throw new ScenarioFailed(`rejected, but not by the automatic decision (${end.outcomeReason})`);
      }
      s.say(`  declined automatically (${end.outcomeReason}); a person may review it (PIPL art. 24)`);
    },
  },
  'request-info': {
    expected: 'servicing',
    title: 'the approver asks for more documents; the officer adds them; approved; signed on site',
    async run(s) {
      await toApproval(s, applicationBody(s.tag, { name: '演示客户丙', channel: 'door_to_door' }));
      await s.act('decision', APPROVER_1, 'approver', { decision: 'request_info', reasonCode: 'DOCUMENTS_MISSING', comment: '演示：请补充银行流水' }, 'asks for more information');
      await s.waitForTask('submit_documents');
      await s.act('documents', OFFICER, 'officer', { documents: demoDocuments(`${s.tag}-more`, ['bank_statement']) }, 'submits a bank statement');
      const again = await s.waitFor('approval, round 2', (x) => x.pendingTask?.kind === 'approval' && x.stageHistory.filter((h) => h.stage === 'approval').length >= 2);
      s.say(`  back with the approver: ${describeOffer(again)}`);
      await s.act('decision', APPROVER_1, 'approver', { decision: 'approve' }, 'approves');
      await signAndDisburse(s, 'on_site');
    },
  },
  'four-eyes': {
    expected: 'servicing',
    title: '220,000 CNY (at or above 200,000): two different approvers must approve',
    async run(s) {
      const st = await toApproval(s, applicationBody(s.tag, { name: '演示客户丁', amountFen: 22_000_000 }));
      if (st.stage !== 'approval') throw new ScenarioFailed(`ended in ${st.stage} before approval`);
      s.say(`  ${st.pendingTask?.approvalsNeeded ?? '?'} approvals needed; ${describeOffer(st)}`);
      await s.act('decision', APPROVER_1, 'approver', { decision: 'approve' }, 'approves (1 of 2)');
      await s.act('decision', APPROVER_1, 'approver', { decision: 'approve' }, 'approves again (refused: the second must be someone else)', [409]);
      const between = await s.waitFor('one approval counted', (x) => (x.pendingTask?.approvedBy?.length ?? 0) >= 1 || x.stage !== 'approval');
      if (between.stage !== 'approval') throw new ScenarioFailed(`left approval after one approval (${between.stage})`);
      await s.act('decision', APPROVER_2, 'approver', { decision: 'approve' }, 'approves (2 of 2)');
      await signAndDisburse(s, 'customer');
    },
  },
  withdrawal: {
    expected: 'withdrawn',
    title: 'the customer withdraws while the call centre is still to call',
    async run(s) {
      await s.create(applicationBody(s.tag, { name: '演示客户戊' }), OFFICER);
      await s.waitForTask('phone_verification');
      await s.act('withdraw', OFFICER, 'officer', { reason: '演示：客户决定暂不购车', reasonCode: 'CUSTOMER_CHANGED_MIND' }, 'withdraws the application');
      await s.waitForStage('withdrawn');
    },
  },
};

export function scenarioTitle(name: ScenarioName): string {
  return SCENARIO_TABLE[name].title;
}

// ---------------------------------------------------------------------------------------------

export class SystemNotRunning extends Error {}

/**
 * Is the API there, ready, and does it take our tokens? Throws SystemNotRunning with what to do.
 * Readiness is awaited for a while: a worker shows up as a poller moments after it starts.
 */
export async function preflight(opts: Pick<DemoOptions, 'apiUrl' | 'token'>, readyWaitMs = 15_000): Promise<void> {
  try {
    await fetch(`${opts.apiUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new SystemNotRunning(
      `No car-loans API answers at ${opts.apiUrl} (${cause}).\n` +
        'Start the system first (`npm start`, or `docker compose up`), or point the demo at it with --api-url (or HOST/PORT).',
    );
  }
  const deadline = Date.now() + readyWaitMs;
  for (;;) {
    const res = await fetch(`${opts.apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    if (res.status === 200) break;
    const body = (await res.json().catch(() => ({}))) as { checks?: Record<string, string> };
    if (Date.now() > deadline) {
      const failing = Object.entries(body.checks ?? {}).filter(([, v]) => v !== 'ok').map(([k]) => k);
      throw new SystemNotRunning(
        `The API at ${opts.apiUrl} is up but not ready (failing: ${failing.join(', ') || 'unknown'}).` +
          (failing.includes('worker') ? '\nNo worker polls the task queue: start one (`npm run worker`) or use `npm start`.' : ''),
      );
    }
    await sleep(500);
  }
  const probe = await fetch(`${opts.apiUrl}/applications?limit=1`, {
    headers: { authorization: `Bearer ${await opts.token('demo-watcher', ['admin'])}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (probe.status === 401) {
    throw new SystemNotRunning(
      `The API at ${opts.apiUrl} refused the demo's development token (401).\n` +
        'Run the demo with the same JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE as the API (and no JWT_JWKS_URL on the API).',
    );
  }
}

/** Plays the scenarios at once, each under its own timeout, and says how each ended. */
export async function runDemo(options: DemoOptions): Promise<ScenarioResult[]> {
  const names = options.scenarios?.length ? options.scenarios : SCENARIOS;
  const opts = {
    apiUrl: options.apiUrl.replace(/\/+$/, ''),
    token: cachedTokens(options.token),
    temporalUiUrl: options.temporalUiUrl,
    namespace: options.namespace,
    pollMs: options.pollMs ?? 500,
    print: options.print ?? ((line: string) => process.stdout.write(`${line}\n`)),
    esignUrl: options.esignUrl,
  };
  const timeoutMs = options.timeoutMs ?? 180_000;
  const runId = `demo${Date.now().toString(36)}`;
  return Promise.all(names.map((name) => runScenario(name, opts, runId, timeoutMs, options.signal)));
}

async function runScenario(
  name: ScenarioName,
  opts: ConstructorParameters<typeof Session>[1],
  runId: string,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<ScenarioResult> {
  const scenario = SCENARIO_TABLE[name];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new ScenarioFailed(`timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  const onOuterAbort = () => controller.abort(new ScenarioFailed('interrupted'));
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  if (outer?.aborted) onOuterAbort();
  const s = new Session(name, opts, runId, controller.signal);
  const started = Date.now();
  s.say(`${scenario.title} (expect: ${scenario.expected})`);
  let error: string | undefined;
  try {
    await scenario.run(s);
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    error = reason instanceof Error ? reason.message : String(reason);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
  const stage = s.last?.stage ?? null;
  const ok = !error && stage === scenario.expected;
  if (!ok && !error) error = `ended in ${stage}, expected ${scenario.expected}`;
  if (error) {
    s.say(`FAILED: ${error}`);
    if (s.id && stage && !TERMINAL.includes(stage) && stage !== 'disbursement' && stage !== 'servicing') await withdrawLeftover(s);
  } else {
    s.say(`done: ${stage} as expected, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return {
    name,
    expected: scenario.expected,
    stage,
    ok,
    ...(error ? { error } : {}),
    ...(s.id ? { applicationId: s.id, workflowId: s.workflowId!, uiUrl: s.uiUrl(s.workflowId!) } : {}),
    stages: s.stages,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** A scenario that failed half-way withdraws its application, so the next run's duplicate screen passes. */
async function withdrawLeftover(s: Session): Promise<void> {
  try {
    const token = await s.opts.token(OFFICER, ['officer']);
    const res = await fetch(`${s.opts.apiUrl}/applications/${s.id}/withdraw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reasonCode: 'DEMO_ABANDONED' }),
      signal: AbortSignal.timeout(10_000),
    });
    s.say(`  withdrew the unfinished application (${res.status})`);
  } catch {
    // Best effort: the system may be the reason the scenario failed.
  }
}

function cachedTokens(mint: DemoOptions['token']): DemoOptions['token'] {
  const cache = new Map<string, Promise<string>>();
  return (sub, roles) => {
    const key = `${sub}:${[...roles].sort().join(',')}`;
    let t = cache.get(key);
    if (!t) cache.set(key, (t = mint(sub, roles)));
    return t;
  };
}
