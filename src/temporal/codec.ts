import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/**
 * Encrypts every payload Temporal stores (workflow inputs, results, signals, updates, activity
 * arguments, failures) with AES-256-GCM, so histories carry no plaintext. The key id travels in the
 * payload's metadata: after a rotation new payloads use the new key and old histories still decode
 * as long as the old key stays in the ring.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

export interface CodecKeyRing {
  currentKeyId: string;
  keys: Record<string, Buffer>;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly ring: CodecKeyRing) {
    const key = ring.keys[ring.currentKeyId];
    if (!key || key.length !== 32) throw new Error('Payload codec: the current key must be 32 bytes');
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.ring.currentKeyId;
    const key = this.ring.keys[keyId]!;
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(keyId));
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      const keyId = text(p.metadata?.[KEY_ID_METADATA]);
      const key = keyId ? this.ring.keys[keyId] : undefined;
      if (!keyId || !key) throw new Error(`Payload codec: no key with id ${keyId ?? '(none)'}`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - 16));
      const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** `id:base64,id:base64` → key map (old keys kept for decoding after a rotation). */
export function parseKeyList(list: string | undefined): Record<string, Buffer> {
  const keys: Record<string, Buffer> = {};
  for (const entry of (list ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = entry.indexOf(':');
    if (i <= 0) throw new Error('Payload codec: old keys must be written id:base64');
    keys[entry.slice(0, i)] = Buffer.from(entry.slice(i + 1), 'base64');
  }
  return keys;
}

export function codecFromConfig(cfg: { TEMPORAL_CODEC_KEY: string; TEMPORAL_CODEC_KEY_ID: string; TEMPORAL_CODEC_OLD_KEYS?: string | undefined }): EncryptionCodec {
  return new EncryptionCodec({
    currentKeyId: cfg.TEMPORAL_CODEC_KEY_ID,
    keys: { ...parseKeyList(cfg.TEMPORAL_CODEC_OLD_KEYS), [cfg.TEMPORAL_CODEC_KEY_ID]: Buffer.from(cfg.TEMPORAL_CODEC_KEY, 'base64') },
  });
}
