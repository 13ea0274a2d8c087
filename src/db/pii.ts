import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Field-level encryption of personal data at rest. Format: `v1.<keyId>.<iv>.<tag>.<ciphertext>`
 * (base64url parts), so old rows stay readable after the key rotates: keep the old key in the ring.
 */
export interface PiiKeyRing {
  currentKeyId: string;
  keys: Record<string, Buffer>;
  hashKey: Buffer;
}

export function keyRingFromConfig(cfg: {
  PII_ENCRYPTION_KEY: string;
  PII_ENCRYPTION_KEY_ID: string;
  PII_HASH_KEY: string;
}): PiiKeyRing {
  return {
    currentKeyId: cfg.PII_ENCRYPTION_KEY_ID,
    keys: { [cfg.PII_ENCRYPTION_KEY_ID]: Buffer.from(cfg.PII_ENCRYPTION_KEY, 'base64') },
    hashKey: Buffer.from(cfg.PII_HASH_KEY, 'base64'),
  };
}

export class PiiCipher {
  constructor(private readonly ring: PiiKeyRing) {
    if (!ring.keys[ring.currentKeyId]) throw new Error('PII key ring has no current key');
  }

  encrypt(plaintext: string): string {
    const keyId = this.ring.currentKeyId;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.ring.keys[keyId]!, iv);
    cipher.setAAD(Buffer.from(keyId));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  decrypt(token: string): string {
    const [version, keyId, iv, tag, ct] = token.split('.');
    if (version !== 'v1' || !keyId || iv === undefined || tag === undefined || ct === undefined) {
      throw new Error('Malformed encrypted field');
    }
    const key = this.ring.keys[keyId];
    if (!key) throw new Error(`No PII key with id ${keyId}`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Keyed hash for equality look-ups (duplicate-application screen) without storing plaintext. */
  lookupHash(kind: string, value: string): string {
    return createHmac('sha256', this.ring.hashKey).update(`${kind}:${value.trim().toUpperCase()}`).digest('hex');
  }
}
