import { Writable } from 'node:stream';
import { censorPersonalData, createLogger } from '../../src/logger';

/** The real pino logger writing into memory: what a log shipper would receive, line by line. */
function capture(level = 'info') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger(level, 'car-loans', stream);
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const PERSON = { name: '王小明', idNumber: '11010519491231002X', phone: '13800138000' };
const SECRETS = [PERSON.name, PERSON.idNumber, PERSON.phone, '6222020200112233445', '北京市朝阳区某某路1号'];

function expectNoPersonalData(text: string) {
  for (const s of SECRETS) expect(text).not.toContain(s);
}

describe('createLogger: JSON lines without personal data', () => {
  it('censors name, ID number and phone wherever they sit, and keeps ids, stages and figures', () => {
    const { log, lines, json } = capture();
    log.info({ ...PERSON, applicationId: 'app-1', stage: 'approval', amountFen: 15_000_000 }, 'top level');
    log.info({ applicant: PERSON, workflowId: 'loan-application-app-1' }, 'an applicant object');
    log.info({ data: { after: { signer: { ...PERSON }, bankAccount: '6222020200112233445' } } }, 'deep');
    log.warn({ recipients: [{ phone: PERSON.phone, messageId: 'm-1' }], homeAddress: '北京市朝阳区某某路1号', address: '127.0.0.1:7233' }, 'in an array');
    log.child({ requestId: 'req-12345678', idNumber: PERSON.idNumber, ctx: { phone: PERSON.phone } }).info({ route: '/applications/:id' }, 'child bindings');
    log.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'credentials');

    expect(lines).toHaveLength(6);
    expectNoPersonalData(lines.join('\n'));
    expect(lines.join('\n')).not.toContain('abc.def.ghi');

    // Every line is one JSON object with no key twice (a logged `name` must not hide the logger's).
    for (const l of lines) expect(l.match(/"name":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    const [top, applicant, deep, array, child, creds] = json();
    expect(top).toMatchObject({ name: 'car-loans', idNumber: '[redacted]', phone: '[redacted]', applicationId: 'app-1', stage: 'approval', amountFen: 15_000_000, msg: 'top level' });
    expect(applicant).toMatchObject({ applicant: '[redacted]', workflowId: 'loan-application-app-1' });
    expect(deep).toMatchObject({ data: { after: { signer: '[redacted]', bankAccount: '[redacted]' } } });
    expect(array).toMatchObject({ recipients: [{ phone: '[redacted]', messageId: 'm-1' }], homeAddress: '[redacted]', address: '127.0.0.1:7233', level: 40 });
    expect(child).toMatchObject({ requestId: 'req-12345678', idNumber: '[redacted]', ctx: { phone: '[redacted]' }, route: '/applications/:id', name: 'car-loans' });
    expect(creds).toMatchObject({ req: { headers: { authorization: '[redacted]' } } });
  });

  it('leaves errors to the err serializer and does not touch the object it was given', () => {
    const { log, json } = capture();
    const given = { applicant: { ...PERSON }, err: new TypeError('provider answered 503') };
    log.error(given, 'failed');
    const [line] = json();
    expect(line).toMatchObject({ applicant: '[redacted]', err: { type: 'TypeError', message: 'provider answered 503' } });
    // The caller's object is not mutated (it may still be needed, e.g. to call the provider).
    expect(given.applicant.name).toBe(PERSON.name);
  });

  it('never writes key material or secrets, e.g. the worker options the Temporal SDK logs at debug', () => {
    const { log, lines, json } = capture('debug');
    const key = Buffer.alloc(32, 13);
    log.debug(
      { options: { taskQueue: 'car-loans', dataConverter: { payloadCodecs: [{ ring: { currentKeyId: 'k1', keys: { k1: key } } }] }, apiKey: 'tc-key-1', tls: { clientCertPair: { key: key } } } },
      'Creating worker',
    );
    log.info({ config: { JWT_SECRET: 'jwt-secret-value', ESIGN_WEBHOOK_SECRET: 'hmac-secret-value', PORT: 3000 }, digest: new Uint8Array([1, 2, 3]) }, 'config');
    const text = lines.join('\n');
    expect(text).not.toMatch(/13,13,13/);
    for (const s of ['tc-key-1', 'jwt-secret-value', 'hmac-secret-value']) expect(text).not.toContain(s);
    const [worker, config] = json();
    expect(worker).toMatchObject({ options: { taskQueue: 'car-loans', apiKey: '[redacted]', dataConverter: { payloadCodecs: [{ ring: '[redacted]' }] }, tls: { clientCertPair: { key: '[redacted]' } } } });
    expect(config).toMatchObject({ config: { JWT_SECRET: '[redacted]', ESIGN_WEBHOOK_SECRET: '[redacted]', PORT: 3000 }, digest: '[3 bytes]' });
  });

  it('returns objects without personal data unchanged (no copying on the hot path)', () => {
    const obj = { applicationId: 'a', nested: { stage: 'intake', list: [1, 2, { x: 1 }] } };
    expect(censorPersonalData(obj)).toBe(obj);
    expect(censorPersonalData(null)).toBeNull();
    expect(censorPersonalData('13800138000')).toBe('13800138000');
  });
});
