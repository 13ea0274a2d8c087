import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { publicKeyHexOf } from '../workflows/actProof';

/**
 * `npm run -s act-key -- --id k2` prints a new act-signing key: ACT_SIGNING_KEY and
 * ACT_SIGNING_KEY_ID for the API, and the entry to add to every worker's ACT_VERIFY_KEYS.
 * Rotation order: workers first (add the new public key), then the API (switch its signing key),
 * then mark the old key retired in ACT_VERIFY_KEYS; never remove it (README, "Act keys").
 */
const { values } = parseArgs({ options: { id: { type: 'string' } }, strict: true });
const id = values.id ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
  process.stderr.write('--id must be 1-32 of A-Z a-z 0-9 _ -\n');
  process.exit(2);
}
const seed = randomBytes(32);
const publicKey = Buffer.from(publicKeyHexOf(new Uint8Array(seed)), 'hex').toString('base64');
process.stdout.write(
  [
    '# the API only (a secret):',
    `ACT_SIGNING_KEY=${seed.toString('base64')}`,
    `ACT_SIGNING_KEY_ID=${id}`,
    '# every worker: add to ACT_VERIFY_KEYS (comma-separated, keep the older keys):',
    `${id}:${publicKey}`,
    '',
  ].join('\n'),
);
