import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, KEY_ID_METADATA, parseKeyList } from '../../src/temporal/codec';

const k = (n: number) => Buffer.alloc(32, n);

describe('payload encryption codec', () => {
  const codec = new EncryptionCodec({ currentKeyId: 'k1', keys: { k1: k(1) } });
  const payload = defaultPayloadConverter.toPayload({ idNumber: '11010519491231002X', phone: '13800138000' });

  it('leaves no plaintext in the encoded payload and round-trips', async () => {
    const [enc] = await codec.encode([payload]);
    const wire = Buffer.from(JSON.stringify({ m: enc!.metadata, d: Buffer.from(enc!.data!).toString('latin1') }));
    expect(wire.includes('11010519491231002X')).toBe(false);
    expect(wire.includes('13800138000')).toBe(false);
    expect(Buffer.from(enc!.metadata![KEY_ID_METADATA]!).toString()).toBe('k1');
    const [dec] = await codec.decode([enc!]);
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ idNumber: '11010519491231002X', phone: '13800138000' });
  });

  it('decodes payloads written before a key rotation', async () => {
    const [old] = await codec.encode([payload]);
    const rotated = new EncryptionCodec({ currentKeyId: 'k2', keys: { k1: k(1), k2: k(2) } });
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual({ idNumber: '11010519491231002X', phone: '13800138000' });
    const [fresh] = await rotated.encode([payload]);
    expect(Buffer.from(fresh!.metadata![KEY_ID_METADATA]!).toString()).toBe('k2');
    await expect(codec.decode([fresh!])).rejects.toThrow(/no key with id k2/);
  });

  it('refuses a tampered payload', async () => {
    const [enc] = await codec.encode([payload]);
    const data = Buffer.from(enc!.data!);
    data[20] = data[20]! ^ 0xff;
    await expect(codec.decode([{ ...enc!, data }])).rejects.toThrow();
  });

  it('passes unencrypted payloads through (histories from before encryption was on)', async () => {
    expect(await codec.decode([payload])).toEqual([payload]);
  });

  it('parses the old-key list', () => {
    expect(Object.keys(parseKeyList('a:' + k(3).toString('base64') + ', b:' + k(4).toString('base64')))).toEqual(['a', 'b']);
    expect(() => parseKeyList('nocolon')).toThrow();
  });
});
