import { randomInt } from 'node:crypto';
import { mintDevToken } from '../../src/api/auth';
import { loadConfig } from '../../src/config';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import type { StaffRole } from '../../src/workflows/messages';
import { applicationBody, type ApplicationOverrides } from '../integration/api/harness';

/**
 * Drives applications through the real API over HTTP as staff would: an officer submits, a verifier
 * records the call, approvers decide, the customer signs (through the e-signature provider's
 * webhook, or on site), and every request that fails for a reason worth retrying (no answer, 5xx,
 * 409 "still running") is retried with the same Idempotency-Key, as a careful client does.
 * Loops are bounded by deadlines.
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Answer {
  /** 0: no answer (connection refused, reset or timed out). */
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  problemType?: string;
  /** The Retry-After header, when the answer had one. */
  retryAfter?: string;
}

export interface AppState {
  id: string;
  stage: string;
  live: boolean;
  loanId: string | null;
  envelopeId: string | null;
  offer: { amountFen: number; upfrontFeeFen?: number } | null;
  pendingTask: { kind: string; attempt?: number; approvalsNeeded?: number; approvedBy?: string[] } | null;
  flags: string[];
  outcomeReason: string | null;
}

const TERMINAL = ['closed', 'rejected', 'withdrawn', 'expired', 'failed'];

export function done(s: AppState | undefined): boolean {
  return Boolean(s && ((s.stage === 'servicing' && s.loanId) || TERMINAL.includes(s.stage)));
}

/** Distinct, made-up personal data per application, so a leak of one can be searched for. */
const SURNAMES = ['欧阳', '司马', '诸葛', '上官', '慕容', '东方', '皇甫', '令狐'];
const GIVEN = ['青云', '明月', '子墨', '星河', '若水', '听雨', '长风', '知秋', '书瑶', '景行'];
export function distinctName(): string {
  return `${SURNAMES[randomInt(SURNAMES.length)]}${GIVEN[randomInt(GIVEN.length)]}${GIVEN[randomInt(GIVEN.length)]}`;
}

export interface Submitted {
  id: string;
  key: string;
  body: ReturnType<typeof applicationBody>;
  /** Requests it took (1 when the first answered 2xx). */
  attempts: number;
}

export class LoanDriver {
  readonly sandbox: SandboxAdminClient;
  private readonly tokens = new Map<string, Promise<string>>();
  private readonly config = loadConfig({});
  /** Every request that got no answer or a 5xx (and was retried). */
  retried = 0;

  constructor(
    readonly apiUrl: string,
    sandboxUrl: string,
  ) {
    this.sandbox = new SandboxAdminClient(sandboxUrl);
  }

  token(sub: string, role: StaffRole): Promise<string> {
    const k = `${sub}/${role}`;
    let t = this.tokens.get(k);
    if (!t) {
      t = mintDevToken(this.config, { sub, roles: [role] });
      this.tokens.set(k, t);
    }
    return t;
  }

  async request(method: 'GET' | 'POST', path: string, opts: { sub: string; role: StaffRole; body?: unknown; key?: string; timeoutMs?: number }): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.token(opts.sub, opts.role)}` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.key) headers['idempotency-key'] = opts.key;
    try {
      const res = await fetch(`${this.apiUrl}${path}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 45_000),
      });
      const text = await res.text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      const problemType = typeof (body as { type?: unknown })?.type === 'string' ? ((body as { type: string }).type.split('/').pop() as string) : undefined;
      const retryAfter = res.headers.get('retry-after') ?? undefined;
      return { status: res.status, body, problemType, ...(retryAfter ? { retryAfter } : {}) };
    } catch {
      return { status: 0, body: null };
    }
  }

  /** Worth sending again with the same key: no answer, a 5xx, or the first request still running. */
  static retryable(a: Answer): boolean {
    return a.status === 0 || a.status >= 500 || (a.status === 409 && a.problemType === 'idempotency-in-progress');
  }

  /** Sends until the answer is not retryable, with the same key each time (bounded by `deadline`). */
  async send(method: 'GET' | 'POST', path: string, opts: Parameters<LoanDriver['request']>[2], deadline: number): Promise<{ answer: Answer; attempts: number }> {
    let attempts = 0;
    for (;;) {
      attempts++;
      const answer = await this.request(method, path, opts);
      if (!LoanDriver.retryable(answer)) return { answer, attempts };
      this.retried++;
      if (Date.now() > deadline) return { answer, attempts };
      await sleep(answer.status === 0 ? 500 : 1000);
    }
  }

  /** Submits one application (officer `sub`) with an Idempotency-Key, retrying until it is accepted. */
  async submit(o: ApplicationOverrides & { sub?: string; key?: string } = {}, timeoutMs = 120_000): Promise<Submitted> {
    const body = applicationBody({ name: distinctName(), ...o });
    const key = o.key ?? `rel-${Date.now().toString(36)}-${randomInt(1e9)}`;
    const { answer, attempts } = await this.send('POST', '/applications', { sub: o.sub ?? 'officer-rel', role: 'officer', body, key }, Date.now() + timeoutMs);
    if (answer.status !== 201) throw new Error(`submit answered ${answer.status} ${answer.problemType ?? ''} after ${attempts} attempts`);
    return { id: answer.body.id as string, key, body, attempts };
  }

  async state(id: string): Promise<AppState | undefined> {
    const a = await this.request('GET', `/applications/${id}`, { sub: 'engineer-rel', role: 'admin', timeoutMs: 15_000 });
    return a.status === 200 ? (a.body as AppState) : undefined;
  }

  /**
   * Acts on whatever the application waits for, once per call. Keys are derived from the
   * application, the act and its round, so a retried act is the same act.
   */
  async actOn(s: AppState, opts: { signVia: 'webhook' | 'on_site'; signingSince: Map<string, number>; humanDelayMs?: number }): Promise<void> {
    const t = s.pendingTask as (AppState['pendingTask'] & { since?: string }) | null;
    if (!t || !s.live) return;
    // People take a moment to pick a task up: the application waits in its stage meanwhile.
    if (opts.humanDelayMs && t.since && Date.now() - Date.parse(t.since) < opts.humanDelayMs) return;
    const id = s.id;
    const deadline = Date.now() + 60_000;
    const post = (suffix: string, sub: string, role: StaffRole, body: unknown, key: string) =>
      this.send('POST', `/applications/${id}/${suffix}`, { sub, role, body, key }, deadline);
    switch (t.kind) {
      case 'submit_documents':
        return void (await post('documents', 'officer-rel', 'officer', { documents: applicationBody().documents }, `${id}:documents:${s.stage}`));
      case 'phone_verification':
        return void (await post(
          'phone-verification',
          'verifier-rel',
          'verifier',
          { outcome: 'passed', recordingRef: `rec-${id.slice(0, 8)}`, checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true } },
          `${id}:phone:${t.attempt ?? 1}`,
        ));
      case 'approval': {
        const approver = ['approver-rel-1', 'approver-rel-2'].find((a) => !(t.approvedBy ?? []).includes(a)) as string;
        return void (await post('decision', approver, 'approver', { decision: 'approve', comment: 'reliability run' }, `${id}:approve:${approver}`));
      }
      case 'sign_contract': {
        const since = opts.signingSince.get(id);
        if (opts.signVia === 'webhook' && s.envelopeId && since === undefined) {
          // The customer signs with the e-signature provider, which calls the API's webhook.
          opts.signingSince.set(id, Date.now());
          await this.sandbox.signEnvelope(s.envelopeId).catch(() => opts.signingSince.delete(id));
          return;
        }
        // On site (or the webhook's deliveries ran out while the API was down): the officer records it.
        if (since !== undefined && Date.now() - since < 25_000) return;
        return void (await post('signature', 'officer-rel', 'officer', {}, `${id}:signature`));
      }
      case 'register_collateral':
        return void (await post('collateral-registration', 'officer-rel', 'officer', { registrationRef: `DJ-${id.slice(0, 8)}`, registeredAt: new Date().toISOString() }, `${id}:collateral`));
      default:
        return;
    }
  }

  /**
   * Takes every application to the end of origination (servicing with a loan, or a terminal stage),
   * each in its own loop. Returns the last state seen of each.
   */
  async drive(
    ids: string[],
    timeoutMs: number,
    opts: { signVia?: (i: number) => 'webhook' | 'on_site'; humanDelayMs?: number; stop?: (s: AppState) => boolean } = {},
  ): Promise<Map<string, AppState | undefined>> {
    const deadline = Date.now() + timeoutMs;
    const last = new Map<string, AppState | undefined>();
    const signingSince = new Map<string, number>();
    await Promise.all(
      ids.map(async (id, i) => {
        while (Date.now() < deadline) {
          const s = await this.state(id);
          if (s) last.set(id, s);
          if (done(s) || (s && opts.stop?.(s))) return;
          if (s) await this.actOn(s, { signVia: opts.signVia?.(i) ?? (i % 2 === 0 ? 'webhook' : 'on_site'), signingSince, humanDelayMs: opts.humanDelayMs });
          await sleep(400);
        }
      }),
    );
    return last;
  }
}
