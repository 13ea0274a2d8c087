import { parseArgs } from 'node:util';
import { mintDevToken, STAFF_ROLES, TOKEN_MAX_LIFETIME_S } from '../api/auth';
import { configOrExit } from '../bootstrap';
import type { StaffRole } from '../workflows/messages';

/**
 * `npm run -s token -- --sub <staffId> --roles <role>[,<role>...] [--expires 8h]` prints a
 * development token signed with JWT_SECRET (issuer and audience from the configuration; it lives
 * 8 hours unless --expires says otherwise, at most 12), for
 * `curl -H "Authorization: Bearer $(npm run -s token -- --sub officer-1 --roles officer)"`.
 */
const USAGE = `usage: npm run -s token -- --sub <staffId> --roles <${STAFF_ROLES.join('|')}>[,...] [--expires 8h]`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { sub: { type: 'string' }, roles: { type: 'string' }, expires: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.sub) fail('--sub is required');
  const roles = (values.roles ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !(STAFF_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) fail(unknown.length ? `unknown role(s): ${unknown.join(', ')}` : '--roles is required');
  if (values.expires && !/^\d+\s*(s|sec|m|min|h|hr)$/.test(values.expires)) fail('--expires must look like 30m or 8h');
  if (values.expires && durationSeconds(values.expires) > TOKEN_MAX_LIFETIME_S) fail('--expires may be at most 12h: the API refuses tokens that live longer');

  const config = configOrExit();
  if (config.JWT_JWKS_URL) {
    process.stderr.write('note: JWT_JWKS_URL is set, so the API verifies tokens from the identity provider, not this one\n');
  }
  const token = await mintDevToken(config, { sub: values.sub, roles: roles as StaffRole[], ...(values.expires ? { expiresIn: values.expires } : {}) });
  process.stdout.write(`${token}\n`);
}

function durationSeconds(text: string): number {
  const m = /^(\d+)\s*(s|sec|m|min|h|hr)$/.exec(text) as RegExpExecArray;
  return Number(m[1]) * (m[2]!.startsWith('h') ? 3600 : m[2]!.startsWith('m') ? 60 : 1);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
