import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProviderClients, type TransferRequest } from '../../../src/activities/providers';
import { SandboxAdminClient, startSandbox } from '../../../src/sandbox';
import { waitFor } from '../../helpers/wait';
import { sha } from './helpers';

// With a state file, a restarted sandbox still knows its payments, tasks, envelopes, texts and
// idempotency keys: a retry that lands after a restart must not pay twice.
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-state-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const transfer: TransferRequest = {
  amountFen: 9_900_000,
  currency: 'CNY',
  toAccount: { accountNumber: '6222020200112233445', accountName: '张三', bankCode: 'ICBC' },
  reference: 'loan-persist',
};

it('keeps the ledger and every idempotency key across a restart', async () => {
  const stateFile = path.join(dir, 'nested', 'state.jsonl');
  const first = await startSandbox({ stateFile });
  let c = createProviderClients(first.providers);
  const paid = await c.payments.createTransfer(transfer, 'disburse-persist');
  const task = await c.callCentre.createTask({ applicationId: 'app-p', idempotencyKey: 'call-p', phone: '13800138000', script: 's' });
  const env = await c.esign.createEnvelope({ applicationId: 'app-p', idempotencyKey: 'env-p', documentHash: sha('e'), signerRef: 'r' });
  await c.sms.send({ messageId: 'sms-p', to: '13800138000', text: 'hello' });
  await first.close();

  const second = await startSandbox({ stateFile });
  try {
    c = createProviderClients(second.providers);
    const again = await c.payments.createTransfer(transfer, 'disburse-persist');
    expect(again.transferId).toBe(paid.transferId);
    expect(again.replayed).toBe(true);
    const admin = new SandboxAdminClient(second.url);
    expect((await admin.ledger()).count).toBe(1);
    expect((await c.callCentre.createTask({ applicationId: 'app-p', idempotencyKey: 'call-p', phone: '13800138000', script: 's' })).taskId).toBe(
      task.taskId,
    );
    expect((await c.esign.getEnvelope(env.envelopeId)).status).toBe('sent');
    expect((await c.sms.send({ messageId: 'sms-p', to: '13800138000', text: 'hello' })).status).toBe('duplicate');

    // Changes after the restart are persisted too, and reset empties the file.
    await c.payments.reverseTransfer(paid.transferId);
    expect((await admin.ledger()).totalFen).toBe(0);
  } finally {
    await second.close();
  }

  const third = await startSandbox({ stateFile });
  try {
    const admin = new SandboxAdminClient(third.url);
    expect((await admin.ledger()).entries.map((e) => e.kind)).toEqual(['payout', 'reversal']);
    await admin.reset();
    expect(fs.readFileSync(stateFile, 'utf8')).toBe('');
  } finally {
    await third.close();
  }
});

it('ignores a line torn by a crash mid-write', async () => {
  const stateFile = path.join(dir, 'state.jsonl');
  const first = await startSandbox({ stateFile });
  await createProviderClients(first.providers).payments.createTransfer(transfer, 'disburse-torn');
  await first.close();
  fs.appendFileSync(stateFile, '{"k":"ledger","v":{"entryId":"le_to');

  const second = await startSandbox({ stateFile });
  try {
    expect((await new SandboxAdminClient(second.url).ledger()).count).toBe(1);
  } finally {
    await second.close();
  }
});

it('keeps no state without a state file', async () => {
  const a = await startSandbox();
  await createProviderClients(a.providers).payments.createTransfer(transfer, 'disburse-mem');
  await a.close();
  const b = await startSandbox();
  try {
    expect((await new SandboxAdminClient(b.url).ledger()).count).toBe(0);
  } finally {
    await b.close();
  }
});

it('finishes a webhook delivery that was still being retried when the sandbox stopped', async () => {
  const http = await import('node:http');
  const bodies: string[] = [];
  let accept = false;
  const receiver = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      if (accept) bodies.push(raw);
      res.statusCode = accept ? 200 : 503;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  const stateFile = path.join(dir, 'state.jsonl');
  const opts = { stateFile, esignWebhookUrl: `http://127.0.0.1:${port}/hook`, esignWebhookRetryDelaysMs: [600_000, 50] };
  try {
    const first = await startSandbox(opts);
    const c = createProviderClients(first.providers);
    const env = await c.esign.createEnvelope({ applicationId: 'app-w', idempotencyKey: 'env-w', documentHash: sha('9'), signerRef: 'r' });
    await new SandboxAdminClient(first.url).signEnvelope(env.envelopeId);
    await waitFor(async () => ((await c.esign.getEnvelope(env.envelopeId)).webhooks[0]?.attempts.length === 1 ? true : undefined), 'the first attempt', {
      intervalMs: 20,
    });
    await first.close(); // the retry, ten minutes off, is pending

    accept = true;
    const second = await startSandbox({ ...opts, esignWebhookRetryDelaysMs: [50, 50] });
    try {
      const c2 = createProviderClients(second.providers);
      const after = await waitFor(async () => {
        const e = await c2.esign.getEnvelope(env.envelopeId);
        return e.webhooks[0]?.state === 'delivered' ? e : undefined;
      }, 'the resumed delivery', { intervalMs: 20 });
      expect(after.webhooks[0]?.attempts.map((a) => a.status)).toEqual([503, 200]);
      expect(bodies).toHaveLength(1);
    } finally {
      await second.close();
    }
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
});
