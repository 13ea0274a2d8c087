import type { ActiveFault, FaultSpec } from './faults';
import type { LedgerEntry } from './store';

/**
 * A typed client for the sandbox's control surface and test hooks, for tests and demos: the fault
 * switch, reset, the payment ledger, recorded texts, and the customer's / verifier's side of the
 * e-signature and call-centre flows. Not for production code: real providers have none of this.
 */
export class SandboxAdminClient {
  private readonly url: string;
  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sandbox ${method} ${path.split('?')[0]} answered ${res.status}: ${text.slice(0, 200)}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  async setFault(spec: FaultSpec): Promise<ActiveFault> {
    return (await this.call<{ fault: ActiveFault }>('POST', '/admin/faults', spec)).fault;
  }

  async listFaults(): Promise<ActiveFault[]> {
    return (await this.call<{ faults: ActiveFault[] }>('GET', '/admin/faults')).faults;
  }

  async clearFaults(provider?: FaultSpec['provider']): Promise<number> {
    const q = provider ? `?provider=${encodeURIComponent(provider)}` : '';
    return (await this.call<{ cleared: number }>('DELETE', `/admin/faults${q}`)).cleared;
  }

  async reset(): Promise<void> {
    await this.call('POST', '/admin/reset');
  }

  async setEsignWebhook(url: string | null, secret?: string): Promise<void> {
    await this.call('PUT', '/admin/esign/webhook', secret === undefined ? { url } : { url, secret });
  }

  async ledger(filter: { reference?: string; transferId?: string } = {}): Promise<{ entries: LedgerEntry[]; count: number; totalFen: number }> {
    return this.call('GET', `/payments/v1/ledger${query(filter)}`);
  }

  async smsMessages(filter: { to?: string; since?: string } = {}): Promise<
    Array<{ messageId: string; providerMessageId: string; to: string; text: string; template: string | null; tag: string | null; acceptedAt: string }>
  > {
    return (await this.call<{ messages: never[] }>('GET', `/sms/v1/messages${query(filter)}`)).messages;
  }

  async callTasks(applicationId?: string): Promise<Array<{ taskId: string; applicationId: string; status: string }>> {
    return (await this.call<{ tasks: never[] }>('GET', `/call-centre/v1/tasks${query({ applicationId })}`)).tasks;
  }

  /** The verifier finishes the call. */
  completeCallTask(taskId: string, outcome: 'passed' | 'failed' | 'unreachable', recordingRef?: string): Promise<unknown> {
    return this.call('POST', `/call-centre/v1/tasks/${encodeURIComponent(taskId)}/complete`, { outcome, recordingRef });
  }

  /** The customer signs: the provider then calls the webhook. */
  signEnvelope(envelopeId: string, signedAt?: string): Promise<unknown> {
    return this.call('POST', `/esign/v1/envelopes/${encodeURIComponent(envelopeId)}/sign`, signedAt ? { signedAt } : {});
  }

  declineEnvelope(envelopeId: string, reason?: string): Promise<unknown> {
    return this.call('POST', `/esign/v1/envelopes/${encodeURIComponent(envelopeId)}/decline`, reason ? { reason } : {});
  }
}

function query(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
}
