import { createHash } from 'node:crypto';
import type { WorkerOptions } from '@temporalio/worker';
import { ConfigError, type Config } from '../config';
import {
  payloadDigest,
  publicKeyHexOf,
  signClaims,
  type ActKeyRing,
  type ActProof,
  type EmergencyReasonCode,
} from '../workflows/actProof';

/**
 * The keys of act proofs (src/workflows/actProof.ts). The API holds the Ed25519 private key and
 * signs; workers hold public keys only and put them into the workflow bundle, so neither a worker
 * nor an engineer who decodes histories can forge an act. Keys rotate like the codec's: a new key
 * id signs from the switch on, and the old public keys stay in ACT_VERIFY_KEYS (marked retired) so
 * acts already in histories still verify on replay. docs/architecture.md, "Authenticated acts".
 */
export type ActKeyConfig = Pick<Config, 'NODE_ENV' | 'ACT_SIGNING_KEY' | 'ACT_SIGNING_KEY_ID' | 'ACT_VERIFY_KEYS'>;

/** How long a proof the API signs stays valid (judged on workflow time; the workflow accepts up to 15 min). */
export const ACT_PROOF_LIFETIME_MS = 10 * 60_000;
/** Development only: a fixed, published key pair, refused in production (anyone could sign with it). */
const DEV_SIGNING_SEED = createHash('sha256').update('car-loans development act-signing key').digest();
export const DEV_ACT_KEY_ID = 'dev1';

function parseSeed(base64: string): Uint8Array {
  const seed = Buffer.from(base64, 'base64');
  if (seed.length !== 32) throw new ConfigError('ACT_SIGNING_KEY must be a 32-byte Ed25519 seed, base64-encoded (npm run -s act-key)');
  return new Uint8Array(seed);
}

const DEV_PUBLIC_KEY_HEX = publicKeyHexOf(new Uint8Array(DEV_SIGNING_SEED));

/**
 * `id:base64[@retired-at ISO time],…` → key ring. A retired key verifies only acts issued before
 * its retirement; a key is never removed while a history that used it may still be replayed.
 */
export function parseVerifyKeys(list: string): ActKeyRing {
  const ring: Record<string, { publicKeyHex: string; retiredAtMs: number | null }> = {};
  for (const entry of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=]+)(?:@(.+))?$/.exec(entry);
    if (!m) throw new ConfigError('ACT_VERIFY_KEYS: each key must be written id:base64 or id:base64@retired-at (ISO time)');
    const key = Buffer.from(m[2] as string, 'base64');
    if (key.length !== 32) throw new ConfigError(`ACT_VERIFY_KEYS: key ${m[1]} must be a 32-byte Ed25519 public key`);
    const retiredAtMs = m[3] === undefined ? null : Date.parse(m[3]);
    if (retiredAtMs !== null && Number.isNaN(retiredAtMs)) throw new ConfigError(`ACT_VERIFY_KEYS: key ${m[1]} has an unreadable retirement time`);
    if (ring[m[1] as string]) throw new ConfigError(`ACT_VERIFY_KEYS: key id ${m[1]} appears twice`);
    ring[m[1] as string] = { publicKeyHex: key.toString('hex'), retiredAtMs };
  }
  return ring;
}

/** The public keys a worker trusts: ACT_VERIFY_KEYS, or the development key outside production. */
export function actKeyRingFromConfig(cfg: ActKeyConfig): ActKeyRing {
  if (!cfg.ACT_VERIFY_KEYS) {
    if (cfg.NODE_ENV === 'production') throw new ConfigError('ACT_VERIFY_KEYS must be set in production (the public keys of the API\'s act-signing keys)');
    return { [DEV_ACT_KEY_ID]: { publicKeyHex: DEV_PUBLIC_KEY_HEX, retiredAtMs: null } };
  }
  const ring = parseVerifyKeys(cfg.ACT_VERIFY_KEYS);
  if (Object.keys(ring).length === 0) throw new ConfigError('ACT_VERIFY_KEYS names no key');
  if (cfg.NODE_ENV === 'production' && Object.values(ring).some((k) => k.publicKeyHex === DEV_PUBLIC_KEY_HEX)) {
    throw new ConfigError('ACT_VERIFY_KEYS: the development key must not be trusted in production');
  }
  return ring;
}

/** Bundler options that put the worker's key ring into the workflow code (read by BUNDLED_ACT_KEY_RING). */
export function workflowBundlerOptions(ring: ActKeyRing): NonNullable<WorkerOptions['bundlerOptions']> {
  type Hook = NonNullable<NonNullable<WorkerOptions['bundlerOptions']>['webpackConfigHook']>;
  type Compiler = { webpack: { DefinePlugin: new (defs: Record<string, string>) => { apply(c: Compiler): void } } };
  const webpackConfigHook: Hook = (config) => ({
    ...config,
    plugins: [
      ...(config.plugins ?? []),
      {
        apply(compiler: Compiler) {
          new compiler.webpack.DefinePlugin({ __CAR_LOANS_ACT_KEY_RING__: JSON.stringify(ring) }).apply(compiler);
        },
      } as never,
    ],
  });
  return { webpackConfigHook };
}

export interface SignActOptions {
  actor: string;
  roles: readonly string[];
  actId: string;
  /** Epoch ms to sign at (default now). Tests on the time-skipping server pass the server's time. */
  nowMs?: number;
  emergency?: { reasonCode: EmergencyReasonCode } | undefined;
}

/** The API's signer: one proof per act it sends to a workflow. */
export class ActSigner {
  constructor(
    private readonly keyId: string,
    private readonly secretKey: Uint8Array,
  ) {}

  get publicKey(): { keyId: string; publicKeyHex: string } {
    return { keyId: this.keyId, publicKeyHex: publicKeyHexOf(this.secretKey) };
  }

  /** The payload with its proof: `act` as the workflow names it, for `workflowId`. */
  sign<P extends { actor: string }>(act: string, workflowId: string, payload: P, opts: SignActOptions): P & { proof: ActProof } {
    if (payload.actor !== opts.actor) throw new Error('ActSigner: the payload names another actor than the authenticated one');
    const { proof: _old, ...bare } = payload as P & { proof?: unknown };
    const iat = Math.round(opts.nowMs ?? Date.now());
    const proof = signClaims(
      {
        v: 1,
        kid: this.keyId,
        act,
        workflowId,
        actId: opts.actId,
        actor: opts.actor,
        roles: [...opts.roles],
        iat,
        exp: iat + ACT_PROOF_LIFETIME_MS,
        digest: payloadDigest(bare),
        ...(opts.emergency ? { emergency: { reasonCode: opts.emergency.reasonCode } } : {}),
      },
      this.secretKey,
    );
    return { ...(bare as P), proof };
  }
}

/** The API's signer: ACT_SIGNING_KEY, or the development key outside production. */
export function actSignerFromConfig(cfg: ActKeyConfig): ActSigner {
  if (!cfg.ACT_SIGNING_KEY) {
    if (cfg.NODE_ENV === 'production') throw new ConfigError('ACT_SIGNING_KEY must be set in production (npm run -s act-key makes one)');
    return new ActSigner(DEV_ACT_KEY_ID, new Uint8Array(DEV_SIGNING_SEED));
  }
  const seed = parseSeed(cfg.ACT_SIGNING_KEY);
  if (cfg.NODE_ENV === 'production' && Buffer.from(seed).equals(DEV_SIGNING_SEED)) throw new ConfigError('ACT_SIGNING_KEY: the development key must not be used in production');
  return new ActSigner(cfg.ACT_SIGNING_KEY_ID, seed);
}
