/**
 * Proof that the API authenticated the person behind an act (issue 15, finding 1). The API signs
 * every act it sends to a workflow (who, with which roles, which act on which workflow, its act id,
 * when, and a digest of the payload) with its Ed25519 private key; the workflow checks the
 * signature with public keys only, in the update validator and in the signal handler, so an act
 * typed into `temporal workflow signal` or the Temporal UI under an invented name is refused and
 * recorded, whichever path delivered it.
 *
 * Pure and deterministic: it runs inside Temporal's workflow sandbox (no node:crypto; Ed25519 and
 * SHA-256 from @noble, pure JS) and gives the same answer on replay, because everything it reads is
 * in the history: the payload, the proof, and the workflow time (`nowMs`) of the task that handled
 * the act. The API (src/temporal/actKeys.ts) signs with the same canonical form.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { inWorkflowContext } from '@temporalio/workflow';

// Inside the workflow sandbox every run (and every replay of one) evaluates this module afresh, so
// the generator's precomputed table (window 6: hundreds of point additions and doublings) would be
// built again for the run's first act, several times what verifying the act costs without it (a
// cold verification: about 25 ms with the table, 5 ms without, on the benchmark machine). Runs
// verify without it; the API, a long-lived process that signs every act, keeps the table. The
// answer is the same either way.
if (inWorkflowContext()) ed25519.Point.BASE.precompute(1);

/** Longest validity the workflow accepts from a proof (exp − iat): the API gives 10 minutes. */
export const ACT_PROOF_MAX_LIFETIME_MS = 15 * 60_000;
/** How far the API's clock may run ahead of the workflow's before an act counts as from the future. */
export const ACT_PROOF_CLOCK_SKEW_MS = 60_000;
/** Every signature is over this prefix and the canonical claims: a proof is never valid as anything else. */
const DOMAIN = 'car-loans/act-proof/v1\n';

/** Why an engineer acted in an application's name (the emergency path, admins only; docs/architecture.md). */
export const EMERGENCY_REASON_CODES = ['API_OUTAGE', 'STAFF_UNAVAILABLE', 'DATA_CORRECTION', 'INCIDENT_RECOVERY', 'REGULATORY_ORDER'] as const;
export type EmergencyReasonCode = (typeof EMERGENCY_REASON_CODES)[number];

/** The actor the API signs as when the e-signature provider's HMAC-signed callback reports a signature. */
export const ESIGN_PROVIDER_ACTOR = 'esign-provider';

export interface ActProofClaims {
  v: 1;
  /** Id of the signing key in the key ring. */
  kid: string;
  /** The act, as the workflow names it (`approvalDecision`, `repaymentRecorded`, ...). */
  act: string;
  workflowId: string;
  actId: string;
  actor: string;
  /** The roles the API authenticated the actor with. */
  roles: string[];
  /** Epoch ms, API clock. */
  iat: number;
  exp: number;
  /** SHA-256 (hex) of the canonical JSON of the payload without its `proof`. */
  digest: string;
  /** Set on the emergency path only: an admin acting with a reason code. */
  emergency?: { reasonCode: string } | undefined;
}

export interface ActProof extends ActProofClaims {
  /** Ed25519 signature (hex) over DOMAIN + canonicalJson(claims). */
  sig: string;
}

/** Public keys by id; a retired key still verifies acts issued before `retiredAtMs` (replay). */
export type ActKeyRing = Readonly<Record<string, { publicKeyHex: string; retiredAtMs?: number | null | undefined }>>;

export type ActProofProblem =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'key_retired'
  | 'bad_signature'
  | 'tampered'
  | 'wrong_act'
  | 'wrong_workflow'
  | 'wrong_actor'
  | 'wrong_act_id'
  | 'expired'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'role_missing'
  | 'emergency_not_allowed'
  | 'emergency_reason_unknown';

export type ActProofVerdict =
  | { ok: true; actor: string; roles: string[]; emergency: EmergencyReasonCode | null }
  | { ok: false; problem: ActProofProblem; message: string };

/**
 * A proof the API did sign, only too late or too early (a worker outage, a clock off, a key retired
 * under it): an update with one is refused to its sender, who signs anew, rather than recorded as
 * a forgery (which would also settle its update id for good).
 */
export function isLateProof(verdict: ActProofVerdict): boolean {
  return !verdict.ok && (verdict.problem === 'expired' || verdict.problem === 'issued_in_future' || verdict.problem === 'key_retired');
}

/** What the act must be to count: checked against the proof's claims. */
export interface ActProofExpectation {
  act: string;
  workflowId: string;
  /** Any one of these roles may do the act. */
  roles: readonly string[];
  /** Whether this workflow takes emergency acts (an admin with a reason code). */
  allowEmergency: boolean;
}

/** JSON with object keys sorted and undefined members dropped: what a payload looks like after Temporal's JSON round trip. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** The digest a proof carries: the payload as sent, without its proof. */
export function payloadDigest(payload: object): string {
  const { proof: _proof, ...rest } = payload as { proof?: unknown };
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(rest))));
}

function signedBytes(claims: ActProofClaims): Uint8Array {
  return utf8ToBytes(DOMAIN + canonicalJson(claims));
}

/** Signs claims with a 32-byte Ed25519 secret key (the API's side; src/temporal/actKeys.ts). */
export function signClaims(claims: ActProofClaims, secretKey: Uint8Array): ActProof {
  return { ...claims, sig: bytesToHex(ed25519.sign(signedBytes(claims), secretKey)) };
}

export function publicKeyHexOf(secretKey: Uint8Array): string {
  return bytesToHex(ed25519.getPublicKey(secretKey));
}

/**
 * Signatures already checked, by signature, signed text and key: an update's validator and its
 * handler judge the same act, and the second check is a lookup. A pure function's memo (the same
 * three always give the same answer), so it cannot change what a run does on replay; bounded.
 */
const checked = new Map<string, boolean>();
const CHECKED_MAX = 64;
function signatureValid(sigHex: string, text: string, publicKeyHex: string): boolean {
  const memo = `${publicKeyHex}:${sigHex}:${text}`;
  const known = checked.get(memo);
  if (known !== undefined) return known;
  let valid = false;
  try {
    valid = ed25519.verify(hexToBytes(sigHex), utf8ToBytes(text), hexToBytes(publicKeyHex));
  } catch {
    valid = false;
  }
  if (checked.size >= CHECKED_MAX) checked.delete(checked.keys().next().value as string);
  checked.set(memo, valid);
  return valid;
}

const HEX = /^[0-9a-f]+$/;
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;
const fail = (problem: ActProofProblem, message: string): ActProofVerdict => ({ ok: false, problem, message });

/** Whether `proof` shows that the API authenticated this act, judged at workflow time `nowMs`. */
export function verifyActProof(payload: unknown, expect: ActProofExpectation, ring: ActKeyRing, nowMs: number): ActProofVerdict {
  if (!payload || typeof payload !== 'object') return fail('missing', 'the act carries no proof of who sent it');
  const p = payload as { proof?: unknown; actor?: unknown; actId?: unknown };
  const proof = p.proof as Partial<ActProof> | undefined;
  if (!proof || typeof proof !== 'object') return fail('missing', 'the act carries no proof that the API authenticated its actor');
  const claims: ActProofClaims = {
    v: 1,
    kid: proof.kid as string,
    act: proof.act as string,
    workflowId: proof.workflowId as string,
    actId: proof.actId as string,
    actor: proof.actor as string,
    roles: proof.roles as string[],
    iat: proof.iat as number,
    exp: proof.exp as number,
    digest: proof.digest as string,
    emergency: proof.emergency,
  };
  const shapeOk =
    proof.v === 1 &&
    isStr(claims.kid) && isStr(claims.act) && isStr(claims.workflowId) && isStr(claims.actId) && isStr(claims.actor) &&
    Array.isArray(claims.roles) && claims.roles.length <= 16 && claims.roles.every(isStr) &&
    Number.isSafeInteger(claims.iat) && Number.isSafeInteger(claims.exp) &&
    typeof claims.digest === 'string' && claims.digest.length === 64 && HEX.test(claims.digest) &&
    typeof proof.sig === 'string' && proof.sig.length === 128 && HEX.test(proof.sig) &&
    (claims.emergency === undefined || (typeof claims.emergency === 'object' && claims.emergency !== null && isStr(claims.emergency.reasonCode)));
  if (!shapeOk) return fail('malformed', 'the proof is not a well-formed act proof');

  const key = Object.prototype.hasOwnProperty.call(ring, claims.kid) ? ring[claims.kid] : undefined;
  if (!key) return fail('unknown_key', `no act-signing key has the id ${claims.kid}`);
  if (!signatureValid(proof.sig as string, DOMAIN + canonicalJson(claims), key.publicKeyHex)) return fail('bad_signature', 'the proof is not signed by the API');
  // From here the claims are the API's own words; what remains is whether they fit this act, now.
  if (key.retiredAtMs != null && claims.iat >= key.retiredAtMs) return fail('key_retired', `key ${claims.kid} was retired before this act was signed`);
  if (payloadDigest(payload) !== claims.digest) return fail('tampered', 'the act was changed after the API signed it');
  if (claims.act !== expect.act) return fail('wrong_act', `the proof is for ${claims.act}, not ${expect.act}`);
  if (claims.workflowId !== expect.workflowId) return fail('wrong_workflow', 'the proof is for another workflow');
  if (p.actor !== claims.actor) return fail('wrong_actor', 'the act names another actor than the one the API authenticated');
  if (p.actId !== undefined && p.actId !== claims.actId) return fail('wrong_act_id', 'the act id is not the one the API signed');
  if (claims.exp - claims.iat > ACT_PROOF_MAX_LIFETIME_MS || claims.exp < claims.iat) return fail('lifetime_too_long', 'the proof is valid for longer than allowed');
  if (claims.iat > nowMs + ACT_PROOF_CLOCK_SKEW_MS) return fail('issued_in_future', 'the proof was issued in the future');
  if (nowMs > claims.exp) return fail('expired', 'the proof has expired: send the act again through the API');

  if (claims.emergency) {
    if (!expect.allowEmergency) return fail('emergency_not_allowed', 'this workflow takes no emergency acts');
    if (!(EMERGENCY_REASON_CODES as readonly string[]).includes(claims.emergency.reasonCode)) return fail('emergency_reason_unknown', 'an emergency act needs a known reason code');
    if (!claims.roles.includes('admin')) return fail('role_missing', 'only an admin may act on the emergency path');
    return { ok: true, actor: claims.actor, roles: claims.roles, emergency: claims.emergency.reasonCode as EmergencyReasonCode };
  }
  if (!expect.roles.some((r) => claims.roles.includes(r))) return fail('role_missing', `this act needs the role ${expect.roles.join(' or ')}`);
  return { ok: true, actor: claims.actor, roles: claims.roles, emergency: null };
}

declare const __CAR_LOANS_ACT_KEY_RING__: ActKeyRing | undefined;

/**
 * The public keys the worker was started with, put into the workflow bundle at bundle time
 * (`workflowBundlerOptions` in src/temporal/actKeys.ts). A bundle made without them trusts no key:
 * every signed act is refused, never accepted.
 */
export const BUNDLED_ACT_KEY_RING: ActKeyRing = typeof __CAR_LOANS_ACT_KEY_RING__ === 'object' && __CAR_LOANS_ACT_KEY_RING__ !== null ? __CAR_LOANS_ACT_KEY_RING__ : {};
