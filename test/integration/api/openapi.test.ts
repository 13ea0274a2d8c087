import { compileErrors, validate } from '@readme/openapi-parser';
import Ajv2020 from 'ajv/dist/2020';
import { signEsignPayload } from '../../../src/sandbox/esign-signature';
import type { StaffRole } from '../../../src/workflows/messages';
import { applicationBody, startApiHarness, type ApiHarness } from './harness';

// /openapi.json is generated from the zod schemas that validate the requests. It must be a valid
// OpenAPI 3.1 document (checked by @readme/openapi-parser), cover SPEC section 4, and match what the
// server does: every documented example is sent and must be accepted (no 400), answering with a
// documented status and a body that validates against the documented schema.

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};
type Operation = {
  operationId: string;
  security?: Record<string, string[]>[];
  'x-roles'?: StaffRole[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: unknown; examples?: Record<string, { value: unknown }> }> };
  responses: Record<string, { content?: Record<string, { schema: unknown; example?: unknown }> }>;
};

let h: ApiHarness;
let doc: Doc;
beforeAll(async () => {
  h = await startApiHarness();
  const res = await h.http.get('/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body as Doc;
});
afterAll(() => h?.stop());

const SPEC_OPERATIONS: [string, string][] = [
  ['post', '/applications'],
  ['get', '/applications/{id}'],
  ['get', '/applications'],
  ['post', '/applications/{id}/documents'],
  ['post', '/applications/{id}/phone-verification'],
  ['post', '/applications/{id}/decision'],
  ['post', '/applications/{id}/signature'],
  ['post', '/webhooks/esign'],
  ['post', '/applications/{id}/collateral-registration'],
  ['post', '/applications/{id}/withdraw'],
  // Issue 15: the engineers' emergency path (admins only, with a reason code).
  ['post', '/applications/{id}/emergency-acts'],
  ['get', '/loans/{id}/schedule'],
  ['post', '/loans/{id}/repayments'],
  // Servicing (issue 18): the loan book, statements, quotes, prepayments, and four-eyes acts.
  ['get', '/loans'],
  ['get', '/loans/{id}/statement'],
  ['get', '/loans/{id}/payoff-quote'],
  ['post', '/loans/{id}/prepayments'],
  ['post', '/loans/{id}/repayments/{reference}/reversal'],
  ['post', '/loans/{id}/repayments/{reference}/reversal/approve'],
  ['post', '/loans/{id}/waivers'],
  ['post', '/loans/{id}/waivers/{requestId}/approve'],
  ['post', '/loans/{id}/refunds'],
  ['post', '/loans/{id}/refunds/{requestId}/approve'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/openapi.json'],
  ['get', '/docs'],
  // Work queues and the audit trail (issue 22).
  ['get', '/escalations'],
  ['post', '/applications/{id}/claim'],
  ['post', '/applications/{id}/release'],
  ['get', '/applications/{id}/events'],
];

function operations(): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op })));
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc) as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.valid).toBe(true);
  });

  it('documents every operation of SPEC section 4 and nothing else', () => {
    const documented = operations().map(({ method, path }) => `${method} ${path}`).sort();
    expect(documented).toEqual(SPEC_OPERATIONS.map(([m, p]) => `${m} ${p}`).sort());
  });

  it('states who may call each operation and the problems it can answer with', () => {
    const roleOf: Record<string, StaffRole[] | undefined> = {
      'post /applications': ['officer'],
      'post /applications/{id}/documents': ['officer'],
      'post /applications/{id}/phone-verification': ['verifier'],
      'post /applications/{id}/decision': ['approver'],
      'post /applications/{id}/signature': ['officer'],
      'post /applications/{id}/collateral-registration': ['officer'],
      'post /applications/{id}/withdraw': ['officer'],
      'post /applications/{id}/emergency-acts': ['admin'],
      'post /loans/{id}/repayments': ['finance'],
      'get /escalations': ['supervisor', 'admin'],
      'get /loans': ['finance', 'collections'],
      'get /loans/{id}/statement': ['finance', 'collections'],
      'get /loans/{id}/payoff-quote': ['finance', 'collections'],
      'post /loans/{id}/prepayments': ['finance'],
      'post /loans/{id}/repayments/{reference}/reversal': ['finance'],
      'post /loans/{id}/repayments/{reference}/reversal/approve': ['finance'],
      'post /loans/{id}/waivers': ['finance'],
      'post /loans/{id}/waivers/{requestId}/approve': ['finance'],
      'post /loans/{id}/refunds': ['finance'],
      'post /loans/{id}/refunds/{requestId}/approve': ['finance'],
    };
    for (const { method, path, op } of operations()) {
      const key = `${method} ${path}`;
      expect(op.operationId).toMatch(/^[a-zA-Z]+$/);
      const staff = op.security?.some((s) => 'bearerAuth' in s) ?? false;
      const open = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs'].includes(path);
      if (open) expect(op.security).toEqual([]);
      else if (path === '/webhooks/esign') expect(op.security).toEqual([{ esignSignature: [] }]);
      else expect(staff).toBe(true);
      expect(op['x-roles']).toEqual(roleOf[key]);
      if (staff) expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '500']));
      if (roleOf[key]) expect(Object.keys(op.responses)).toContain('403');
      if (op.requestBody) expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '413', '415']));
      if (path.includes('{id}')) expect(Object.keys(op.responses)).toContain('404');
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) >= 400 && !open) expect(Object.keys(r.content ?? {})).toEqual(['application/problem+json']);
      }
    }
  });

  it('every action that can be retried takes an Idempotency-Key', () => {
    for (const { method, path, op } of operations()) {
      const takesKey = (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'idempotency-key');
      const shouldTake = method === 'post' && path !== '/webhooks/esign';
      expect({ path, takesKey }).toEqual({ path, takesKey: shouldTake });
    }
  });

  it('every $ref points at a schema that exists', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const name of new Set(refs)) expect(doc.components.schemas[name]).toBeDefined();
  });

  it('every answer of every operation has an example, and each example matches its schema', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    let checked = 0;
    for (const { method, path, op } of operations()) {
      for (const [status, r] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(r.content ?? {})) {
          const where = `${method} ${path} ${status} ${type}`;
          expect({ where, example: media.example !== undefined }).toEqual({ where, example: true });
          if (!type.includes('json')) continue;
          const check = ajv.compile({ ...(media.schema as object), components: doc.components });
          if (!check(media.example)) throw new Error(`${where}: the example does not match the schema: ${ajv.errorsText(check.errors)}`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('every request body has at least one example', () => {
    for (const { method, path, op } of operations()) {
      if (!op.requestBody) continue;
      const examples = Object.keys(op.requestBody.content['application/json']?.examples ?? {});
      expect({ where: `${method} ${path}`, examples: examples.length > 0 }).toEqual({ where: `${method} ${path}`, examples: true });
    }
  });

  it('/docs is Swagger UI from the swagger-ui-dist package, under a CSP of its own that allows it and nothing else', async () => {
    const res = await h.http.get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<div id="swagger-ui"></div>');
    expect(res.text).not.toMatch(/<script>(?!<)/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe-eval|https:/);
    for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']) {
      const a = await h.http.get(asset);
      expect({ asset, status: a.status }).toEqual({ asset, status: 200 });
    }
    expect((await h.http.get('/docs/init.js')).text).toContain("url: '/openapi.json'");
    // The rest of the API keeps helmet's policy: the page's allowances are scoped to /docs.
    expect(String((await h.http.get('/healthz')).headers['content-security-policy'])).not.toBe(csp);
  });
});

describe('every documented example against the server', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

  function assertMatchesDocument(op: Operation, status: number, body: unknown, contentType: string) {
    const response = op.responses[String(status)];
    expect({ operation: op.operationId, status, documented: Boolean(response) }).toEqual({ operation: op.operationId, status, documented: true });
    const documentedTypes = Object.keys(response!.content ?? {});
    const media = Object.entries(response!.content ?? {}).find(([type]) => contentType.startsWith(type));
    // An answer with a body must be of a documented media type; one documented without content has none.
    const answered = media ? 'a documented media type' : contentType === 'undefined' ? 'no body' : contentType;
    expect({ operation: op.operationId, status, answered, documentedTypes }).toEqual({
      operation: op.operationId,
      status,
      answered: documentedTypes.length === 0 ? 'no body' : 'a documented media type',
      documentedTypes,
    });
    if (!media) return;
    const check = ajv.compile({ ...(media[1].schema as object), components: doc.components });
    if (!check(body)) throw new Error(`${op.operationId} ${status}: the body does not match the document: ${ajv.errorsText(check.errors)}\n${JSON.stringify(body)}`);
  }

  it('sends each request example with the role the document names, and the answers match the document', async () => {
    // A real application for the examples that act on one.
    const officer = await h.token('officer-examples', 'officer');
    const created = await h.http.post('/applications').set('Authorization', `Bearer ${officer}`).send(applicationBody());
    expect(created.status).toBe(201);
    const appId = created.body.id as string;

    let sent = 0;
    for (const { method, path, op } of operations()) {
      const examples = op.requestBody?.content['application/json']?.examples ?? {};
      for (const [name, example] of Object.entries(examples)) {
        const url = path.replace('{id}', path.startsWith('/loans') ? 'loan-example' : appId).replace('{reference}', 'bank-txn-1').replace('{requestId}', 'wv-example');
        const raw = JSON.stringify(example.value);
        const req = h.http[method as 'post'](url).set('content-type', 'application/json');
        const role = op['x-roles']?.[0];
        if (op.security?.some((s) => 'bearerAuth' in s)) req.set('Authorization', `Bearer ${await h.token(`${role ?? 'admin'}-examples`, role ?? 'admin')}`);
        if (path === '/webhooks/esign') req.set('X-Esign-Signature', signEsignPayload(h.config.ESIGN_WEBHOOK_SECRET, raw));
        const res = await req.send(raw);
        sent++;
        expect({ example: `${op.operationId}/${name}`, status: res.status }).not.toEqual({ example: `${op.operationId}/${name}`, status: 400 });
        expect(res.status).toBeLessThan(500);
        assertMatchesDocument(op, res.status, res.body, String(res.headers['content-type']));
      }
    }
    expect(sent).toBeGreaterThanOrEqual(14);
  });

  it('answers of the read operations match the document too', async () => {
    const token = await h.token('admin-examples', 'admin');
    const list = operations().find((o) => o.op.operationId === 'listApplications')!.op;
    const page = await h.http.get('/applications?limit=5').set('Authorization', `Bearer ${token}`);
    assertMatchesDocument(list, page.status, page.body, String(page.headers['content-type']));
    const get = operations().find((o) => o.op.operationId === 'getApplication')!.op;
    const id = (page.body.items as { id: string }[])[0]!.id;
    const one = await h.http.get(`/applications/${id}`).set('Authorization', `Bearer ${token}`);
    expect(one.status).toBe(200);
    assertMatchesDocument(get, one.status, one.body, String(one.headers['content-type']));
    const missing = await h.http.get('/applications/nope').set('Authorization', `Bearer ${token}`);
    assertMatchesDocument(get, missing.status, missing.body, String(missing.headers['content-type']));
  });
});
