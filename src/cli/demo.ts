import { parseArgs } from 'node:util';
import { mintDevToken } from '../api/auth';
import { configOrExit } from '../bootstrap';
import { preflight, runDemo, SCENARIOS, SystemNotRunning, type ScenarioName } from './demoScenarios';

/**
 * `npm run demo`: plays sample applications through a running system (`npm start` or docker
 * compose) as the staff would, through the API with development tokens, and shows each one's
 * progress stage by stage with its Temporal UI link. The API's address and the token secret come
 * from the same configuration as `npm start`. Exit code 0 when every scenario ended where it
 * should, 1 when one did not, 2 when the system is not there.
 */
const USAGE = `usage: npm run demo -- [--api-url URL] [--ui-url URL] [--only ${SCENARIOS.join(',')}] [--timeout SECONDS]

  --api-url   the operations API (default http://HOST:PORT of the configuration, http://127.0.0.1:3000)
  --ui-url    the Temporal Web UI (default TEMPORAL_UI_URL, else http://TEMPORAL_DEV_HOST:TEMPORAL_UI_PORT)
  --only      a comma-separated subset of the scenarios
  --timeout   per scenario, in seconds (default 180)`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'api-url': { type: 'string' },
        'ui-url': { type: 'string' },
        only: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const only = (values.only ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) return usage(`unknown scenario(s): ${unknown.join(', ')}`);
  const timeoutS = values.timeout === undefined ? 180 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return usage('--timeout must be a positive number of seconds');

  const config = configOrExit();
  const local = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  const apiUrl = (values['api-url'] ?? `http://${local(config.HOST)}:${config.PORT}`).replace(/\/+$/, '');
  const temporalUiUrl = values['ui-url'] ?? config.TEMPORAL_UI_URL ?? `http://${local(config.TEMPORAL_DEV_HOST)}:${config.TEMPORAL_UI_PORT}`;
  const token = (sub: string, roles: Parameters<typeof mintDevToken>[1]['roles']) => mintDevToken(config, { sub, roles: [...roles], expiresIn: '1h' });

  try {
    await preflight({ apiUrl, token });
  } catch (err) {
    if (err instanceof SystemNotRunning) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    process.stdout.write('\nInterrupted: withdrawing the unfinished applications (Ctrl-C again to quit now)\n');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });

  process.stdout.write(`Car-loan demo against ${apiUrl} (Temporal UI ${temporalUiUrl}, namespace ${config.TEMPORAL_NAMESPACE})\n\n`);
  const results = await runDemo({
    apiUrl,
    token,
    esignUrl: config.providers.esign,
    temporalUiUrl,
    namespace: config.TEMPORAL_NAMESPACE,
    scenarios: only as ScenarioName[],
    timeoutMs: timeoutS * 1000,
    signal: interrupt.signal,
  });

  const lines = ['', 'Summary:'];
  for (const r of results) {
    lines.push(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(12)} ${String(r.stage ?? '-').padEnd(10)} (expected ${r.expected}, ${r.seconds} s)${r.error ? `  ${r.error}` : ''}`);
    if (r.uiUrl) lines.push(`       ${r.uiUrl}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

function usage(message: string): number {
  process.stderr.write(`${message}\n${USAGE}\n`);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`Demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
