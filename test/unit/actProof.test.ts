import { loadConfig } from '../../src/config';
import { actKeyRingFromConfig, actSignerFromConfig, ActSigner, parseVerifyKeys } from '../../src/temporal/actKeys';
import { canonicalJson, isLateProof, payloadDigest, verifyActProof, type ActKeyRing, type ActProofExpectation } from '../../src/workflows/actProof';

// The pure verification the workflows run (src/workflows/actProof.ts) against the API's signer
// (src/temporal/actKeys.ts), with the development keys and with keys made here.

const dev = loadConfig({});
const signer = actSignerFromConfig(dev);
const ring = actKeyRingFromConfig(dev);
const WF = 'loan-application-app-1';
const T = Date.parse('2026-11-20T08:00:00Z');
const expectApproval: ActProofExpectation = { act: 'approvalDecision', workflowId: WF, roles: ['approver'], allowEmergency: true };
const approval = { actor: 'approver-1', actId: 'act-1', decision: 'approve' as const };
const sign = (payload: typeof approval & Record<string, unknown> = approval, opts: Partial<Parameters<ActSigner['sign']>[3]> = {}, act = 'approvalDecision', wf = WF, s = signer) =>
  s.sign(act, wf, payload, { actor: payload.actor, roles: ['approver'], actId: payload.actId, nowMs: T, ...opts });
const problem = (payload: unknown, at = T + 1_000, r: ActKeyRing = ring, e = expectApproval) => {
  const v = verifyActProof(payload, e, r, at);
  return v.ok ? 'ok' : v.problem;
};

describe('act proofs', () => {
  it('accept an act the API signed, for this workflow and act, by someone with the role', () => {
    expect(verifyActProof(sign(), expectApproval, ring, T + 1_000)).toEqual({ ok: true, actor: 'approver-1', roles: ['approver'], emergency: null });
  });

  it('refuse what finding 1 sent: an act with no proof', () => {
    expect(problem({ actor: 'ghost-approver-1', decision: 'approve' })).toBe('missing');
    expect(problem(undefined)).toBe('missing');
    expect(problem({ ...approval, proof: { v: 1, kid: 'dev1' } })).toBe('malformed');
  });

  it('refuse a tampered payload, another actor, another act id', () => {
    const signed = sign({ ...approval, amountFen: 10_000_000 } as never);
    expect(problem({ ...signed, amountFen: 25_000_000 })).toBe('tampered');
    expect(problem({ ...signed, actor: 'approver-2' })).toBe('tampered');
    // A proof moved onto another payload (same claims, other digest) is tampering too.
    expect(problem({ actor: 'approver-1', actId: 'act-1', decision: 'reject', proof: signed.proof })).toBe('tampered');
  });

  it('refuse forged signatures: changed claims, an unknown key, a key made by someone else', () => {
    const signed = sign();
    expect(problem({ ...signed, proof: { ...signed.proof, roles: ['approver', 'admin'] } })).toBe('bad_signature');
    expect(problem({ ...signed, proof: { ...signed.proof, exp: signed.proof.exp + 1 } })).toBe('bad_signature');
    expect(problem({ ...signed, proof: { ...signed.proof, kid: 'k9' } })).toBe('unknown_key');
    const mallory = new ActSigner('dev1', new Uint8Array(32).fill(99));
    expect(problem(sign(approval, {}, 'approvalDecision', WF, mallory))).toBe('bad_signature');
  });

  it('judge the same signature again by what it signs: a valid check remembered is no pass for changed claims', () => {
    const signed = sign();
    expect(problem(signed)).toBe('ok');
    expect(problem(signed)).toBe('ok');
    expect(problem({ ...signed, proof: { ...signed.proof, roles: ['approver', 'admin'] } })).toBe('bad_signature');
    expect(problem({ ...signed, proof: { ...signed.proof, sig: signed.proof.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) } })).toBe('bad_signature');
    expect(problem(signed)).toBe('ok');
  });

  it('refuse a proof for another workflow or another act', () => {
    expect(problem(sign(approval, {}, 'approvalDecision', 'loan-application-app-2'))).toBe('wrong_workflow');
    expect(problem(sign(approval, {}, 'withdraw'))).toBe('wrong_act');
  });

  it('judge time by the workflow clock: expired, issued in the future, the skew allowed', () => {
    const signed = sign();
    expect(problem(signed, T + 10 * 60_000)).toBe('ok');
    expect(problem(signed, T + 10 * 60_000 + 1)).toBe('expired');
    expect(problem(signed, T - 60_000)).toBe('ok');
    expect(problem(signed, T - 60_001)).toBe('issued_in_future');
    expect(isLateProof(verifyActProof(signed, expectApproval, ring, T + 3_600_000))).toBe(true);
    expect(isLateProof(verifyActProof({ ...signed, amountFen: 1 }, expectApproval, ring, T))).toBe(false);
  });

  it('need one of the roles of the act; the emergency path needs admin, a known reason code, and a workflow that takes it', () => {
    expect(problem(sign(approval, { roles: ['officer'] }))).toBe('role_missing');
    const emergency = sign(approval, { roles: ['admin'], emergency: { reasonCode: 'API_OUTAGE' } });
    expect(verifyActProof(emergency, expectApproval, ring, T)).toMatchObject({ ok: true, emergency: 'API_OUTAGE' });
    expect(problem(emergency, T, ring, { ...expectApproval, allowEmergency: false })).toBe('emergency_not_allowed');
    expect(problem(sign(approval, { roles: ['approver'], emergency: { reasonCode: 'API_OUTAGE' } }))).toBe('role_missing');
    expect(problem(sign(approval, { roles: ['admin'], emergency: { reasonCode: 'BORED' as never } }))).toBe('emergency_reason_unknown');
  });

  it('keep verifying acts of a retired key issued before its retirement (replay), and refuse newer ones', () => {
    const old = new ActSigner('k1', new Uint8Array(32).fill(1));
    const pub = Buffer.from(old.publicKey.publicKeyHex, 'hex').toString('base64');
    const retiring = parseVerifyKeys(`k1:${pub}@${new Date(T + 1).toISOString()}`);
    expect(problem(sign(approval, {}, 'approvalDecision', WF, old), T + 1_000, retiring)).toBe('ok');
    expect(problem(sign(approval, { nowMs: T + 1 }, 'approvalDecision', WF, old), T + 1_000, retiring)).toBe('key_retired');
  });

  it('digest canonical JSON: key order and undefined members do not matter, values do', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
    expect(payloadDigest({ a: 1, b: 2 })).toBe(payloadDigest({ b: 2, a: 1, c: undefined, proof: { anything: true } }));
    expect(payloadDigest({ a: 1 })).not.toBe(payloadDigest({ a: 2 }));
    // What Temporal's JSON converter delivers is what was signed.
    const signed = sign({ ...approval, reasonCode: undefined } as never);
    expect(problem(JSON.parse(JSON.stringify(signed)))).toBe('ok');
  });

  it('production takes no development key and needs its keys configured', () => {
    const prod = { NODE_ENV: 'production' as const, ACT_SIGNING_KEY_ID: 'k1', ACT_SIGNING_KEY: undefined, ACT_VERIFY_KEYS: undefined };
    expect(() => actSignerFromConfig(prod)).toThrow(/ACT_SIGNING_KEY must be set/);
    expect(() => actKeyRingFromConfig(prod)).toThrow(/ACT_VERIFY_KEYS must be set/);
    const devPublic = Buffer.from(signer.publicKey.publicKeyHex, 'hex').toString('base64');
    expect(() => actKeyRingFromConfig({ ...prod, ACT_VERIFY_KEYS: `dev1:${devPublic}` })).toThrow(/development key/);
    const seed = Buffer.alloc(32, 3).toString('base64');
    expect(actSignerFromConfig({ ...prod, ACT_SIGNING_KEY: seed }).publicKey.keyId).toBe('k1');
    expect(() => parseVerifyKeys('k1:short')).toThrow(/32-byte/);
  });
});
