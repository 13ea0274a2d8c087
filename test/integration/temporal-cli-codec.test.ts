import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { temporalCli } from '../../src/temporal/binaries';
import { eventually, startTestSystem, type TestSystem } from '../helpers/system';
import { applicationBody } from './api/harness';

// The Temporal CLI as an engineer runs it (README, "The Temporal CLI"): the real `temporal` binary
// against the dev server of `npm start`, whose payloads are encrypted, decoding them through the
// API's codec endpoint with an admin token, by flags and by the TEMPORAL_CODEC_* variables.

const run = promisify(execFile);
let s: TestSystem;
let cli: string;
let workflowId: string;
let applicationId: string;

beforeAll(async () => {
  s = await startTestSystem();
  const exe = temporalCli();
  if (exe.type !== 'existing-path') throw new Error('this test needs the temporal CLI binary (npm run tools)');
  cli = exe.path;
  const officer = await s.token('officer-cli', 'officer');
  const created = await s.api('POST', '/applications', officer, applicationBody());
  expect(created.status).toBe(201);
  applicationId = created.body.id;
  workflowId = created.body.workflowId;
  await eventually(() => s.api('GET', `/applications/${applicationId}`, officer), (r) => r.body?.pendingTask?.kind === 'phone_verification', 'the phone verification task');
});
afterAll(() => s?.stop());

async function temporal(args: string[], env: Record<string, string> = {}) {
  // Nothing from the caller's environment may point the CLI elsewhere.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const { stdout } = await run(cli, [...args, '--address', s.system.temporalAddress, '--namespace', s.config.TEMPORAL_NAMESPACE], {
    env: { ...clean, ...env },
    timeout: 120_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

const decoded = (payload: { metadata?: { encoding?: string }; data?: string }) => ({
  encoding: Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString(),
  text: Buffer.from(payload.data ?? '', 'base64').toString(),
});

describe('temporal CLI through the codec endpoint', () => {
  it('`workflow query --type state` with --codec-endpoint and --codec-auth answers the decrypted state', async () => {
    const token = await s.token('engineer-cli', 'admin');
    const out = await temporal(['workflow', 'query', '-w', workflowId, '--type', 'state', '-o', 'json', '--codec-endpoint', `${s.apiUrl}/codec`, '--codec-auth', `Bearer ${token}`]);
    const answer = JSON.parse(out) as { queryResult: Array<{ applicationId: string; stage: string; pendingTask: { kind: string } }> };
    expect(answer.queryResult[0]).toMatchObject({ applicationId, stage: 'phone_verification', pendingTask: { kind: 'phone_verification' } });
  });

  it('without the codec the same query shows only ciphertext', async () => {
    const out = await temporal(['workflow', 'query', '-w', workflowId, '--type', 'state', '-o', 'json']);
    expect(out).not.toContain('phone_verification');
    expect(out).not.toContain(applicationId);
  });

  it('`workflow show` with TEMPORAL_CODEC_ENDPOINT and TEMPORAL_CODEC_AUTH decodes the history', async () => {
    const token = await s.token('engineer-cli', 'admin');
    type Show = { events: Array<{ workflowExecutionStartedEventAttributes?: { input: { payloads: Array<{ metadata?: { encoding?: string }; data?: string }> } } }> };
    const plain = JSON.parse(await temporal(['workflow', 'show', '-w', workflowId, '-o', 'json'], { TEMPORAL_CODEC_ENDPOINT: `${s.apiUrl}/codec`, TEMPORAL_CODEC_AUTH: `Bearer ${token}` })) as Show;
    const input = decoded(plain.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!);
    expect(input.encoding).toBe('json/plain');
    expect(JSON.parse(input.text)).toMatchObject({ applicationId, branchId: 'BJ-001' });
    // The same history without the codec: what Temporal stores is ciphertext.
    const stored = JSON.parse(await temporal(['workflow', 'show', '-w', workflowId, '-o', 'json'])) as Show;
    const raw = decoded(stored.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!);
    expect(raw.encoding).toBe('binary/encrypted');
    expect(raw.text).not.toContain(applicationId);
  });

  it('a token without the admin role decodes nothing', async () => {
    const token = await s.token('officer-cli', 'officer');
    await expect(temporal(['workflow', 'query', '-w', workflowId, '--type', 'state', '-o', 'json', '--codec-endpoint', `${s.apiUrl}/codec`, '--codec-auth', `Bearer ${token}`])).rejects.toThrow(/403/);
  });
});
