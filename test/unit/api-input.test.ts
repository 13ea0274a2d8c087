import type { z } from 'zod';
import { apiOperations } from '../../src/api/app';
import type { ApiContext } from '../../src/api/context';
import { buildOpenApiDocument } from '../../src/api/openapi';
import { fieldErrors, staffMessage } from '../../src/api/problem';
import { documentUriAllowed, documentUriErrors } from '../../src/api/schemas/applications';
import { IdempotencyKeyHeader, PastDateTime, text, textIssue } from '../../src/api/schemas/common';
import { RepaymentBody } from '../../src/api/schemas/loans';
import { ConfigError, loadConfig } from '../../src/config';

// The shared rule for every string the API accepts (issue 15, findings 4 and 7), the wording staff
// read when a field is refused, and the allow-list of document hosts. Pure logic: no server.

/** Strings no field of the API may accept, whatever else the field allows. */
const ALWAYS_BAD: [string, string][] = [
  ['NUL', 'BYD\u0000'],
  ['a lone low surrogate', '\udfffBYD'],
  ['a lone high surrogate', 'BYD\ud800'],
  ['a reversed pair', '\udc00\ud800'],
  ['ESC', 'BYD\u001b[31m'],
  ['BEL', 'BY\u0007D'],
  ['DEL', 'BYD\u007f'],
  ['a C1 control (NEL)', 'BYD\u0085'],
];

describe('the shared text rule', () => {
  it.each(ALWAYS_BAD)('refuses %s in every kind of text', (_what, value) => {
    for (const kind of ['line', 'multiline', 'name'] as const) expect(textIssue(value, kind)).toBeDefined();
  });

  it('names what is wrong by its code and code point, never by echoing the text', () => {
    expect(textIssue('a\u0000', 'line')).toMatchObject({ code: 'nul_character' });
    expect(textIssue('\udfffBYD', 'line')).toMatchObject({ code: 'lone_surrogate' });
    expect(textIssue('secret\u001b', 'line')).toEqual({ code: 'control_character', message: expect.stringContaining('U+001B') });
    expect(textIssue('secret\u001b', 'line')?.message).not.toContain('secret');
  });

  it('lets multi-line free text hold line breaks and tabs, and one line nothing of the kind', () => {
    for (const value of ['line one\nline two', 'a\r\nb', 'col\tcol']) {
      expect(textIssue(value, 'multiline')).toBeUndefined();
      expect(textIssue(value, 'line')).toMatchObject({ code: 'control_character' });
    }
    expect(textIssue('a\u000bb', 'multiline')).toMatchObject({ code: 'control_character' }); // vertical tab
  });

  it('accepts ordinary text in every script, astral characters and emoji included', () => {
    for (const value of ['客户确认购车用途为自用', "O'Brien-Smith", 'Zoë', '𠮷野家', 'OK 👍🏽', "Robert'); DROP TABLE applications;--"]) {
      expect(textIssue(value, 'line')).toBeUndefined();
      expect(textIssue(value, 'multiline')).toBeUndefined();
    }
  });

  it('wants a name to contain a letter and no invisible formatting characters', () => {
    for (const name of ['张三', '阿卜杜拉·买买提', 'Zoë Ó Súilleabháin', '𠮷田']) expect(textIssue(name, 'name')).toBeUndefined();
    expect(textIssue('\u200b\u200b', 'name')).toMatchObject({ code: 'format_character' }); // zero-width spaces
    expect(textIssue('\ufeff', 'name')).toMatchObject({ code: 'format_character' }); // BOM
    expect(textIssue('张\u202e三', 'name')).toMatchObject({ code: 'format_character' }); // right-to-left override
    expect(textIssue('12345', 'name')).toMatchObject({ code: 'no_letter' });
    expect(textIssue('   ', 'name')).toMatchObject({ code: 'no_letter' });
  });

  it('a name schema trims, and refuses what is blank after trimming', () => {
    const Name = text('name', { max: 64 });
    expect(Name.parse('  张三 ')).toBe('张三');
    for (const blank of ['   ', '\u3000', '\u200b']) expect(Name.safeParse(blank).success).toBe(false);
    const Make = text('line', { max: 64, visible: true });
    expect(Make.safeParse(' \u200b ').success).toBe(false);
    expect(Make.parse('BYD')).toBe('BYD');
  });
});

// ------------------------------------------------------------------------------------------
// Every string field of every operation, found by walking the schemas the server validates with.

type Node = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

function stringNodes(schema: unknown, path: string, out: [string, Node][] = []): [string, Node][] {
  const node = schema as Node | undefined;
  if (!node?._zod) return out;
  const def = node._zod.def;
  switch (def.type) {
    case 'string':
      out.push([path, node]);
      break;
    case 'object':
      for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) stringNodes(v, `${path}/${k}`, out);
      break;
    case 'array':
      stringNodes(def.element, `${path}/0`, out);
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      stringNodes(def.innerType, path, out);
      break;
    case 'union':
      for (const o of def.options as unknown[]) stringNodes(o, path, out);
      break;
    case 'pipe':
      stringNodes(def.in, path, out);
      break;
    default:
      break;
  }
  return out;
}

const ctx = { config: { DOCUMENT_URI_HOSTS: ['s3://*'] } } as unknown as ApiContext;
const operations = apiOperations(ctx);

describe('every string the API accepts', () => {
  const fields = operations.flatMap((op) => [
    ...stringNodes(op.params, `${op.operationId} params #`),
    ...stringNodes(op.query, `${op.operationId} query #`),
    ...stringNodes(op.body, `${op.operationId} body #`),
    ...(op.idempotent ? stringNodes(IdempotencyKeyHeader, `${op.operationId} header #`) : []),
  ]);

  it('is found (the walk reaches the fields of every operation)', () => {
    const names = fields.map(([p]) => p);
    expect(names).toEqual(expect.arrayContaining(['createApplication body #/applicant/name', 'recordPhoneVerification body #/notes', 'withdrawApplication body #/reason', 'recordDecision body #/comment', 'getApplication params #/id', 'listApplications query #/cursor', 'recordRepayment body #/paidAt', 'createApplication body #/documents/0/uri', 'esignWebhook body #/data/applicationId']));
    expect(fields.length).toBeGreaterThan(30);
  });

  it.each(ALWAYS_BAD)('refuses %s in every string field', (_what, value) => {
    const accepted = fields.filter(([, node]) => node.safeParse(value).success).map(([p]) => p);
    expect(accepted).toEqual([]);
  });

  it('and the document says so: each string in a request has a pattern refusing them (or is an enum or a date-time)', () => {
    // A lone surrogate is not a code point a JSON Schema pattern can name (jsonschema-rs refuses such a
    // pattern as not a regex): the document's description states that rule, the patterns the rest.
    const codePoints = ALWAYS_BAD.filter(([what]) => !/surrogate|reversed/.test(what));
    const doc = buildOpenApiDocument(operations) as unknown as { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };
    const found: string[] = [];
    const visit = (schema: any, where: string): void => {
      if (!schema || typeof schema !== 'object') return;
      if (schema.$ref) return visit(doc.components.schemas[String(schema.$ref).split('/').pop() as string], where);
      for (const s of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) visit(s, where);
      if (schema.properties) for (const [k, v] of Object.entries(schema.properties)) visit(v, `${where}/${k}`);
      if (schema.items) visit(schema.items, `${where}/0`);
      if (schema.type !== 'string' || schema.enum || schema.format === 'date-time') return;
      found.push(where);
      expect(`${where}: ${typeof schema.pattern}`).toBe(`${where}: string`);
      expect(schema.pattern).not.toMatch(/\\u[dD][89a-fA-F]/);
      const re = new RegExp(schema.pattern, 'u');
      for (const [, bad] of codePoints) expect(`${where} ${re.test(bad)}`).toBe(`${where} false`);
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const p of op.parameters ?? []) visit(p.schema, `${method} ${path} ${p.in} ${p.name}`);
        visit(op.requestBody?.content?.['application/json']?.schema, `${method} ${path} body #`);
      }
    }
    expect(found).toEqual(expect.arrayContaining(['post /applications body #/applicant/name', 'post /applications/{id}/withdraw body #/reason']));
    expect((doc as unknown as { info: { description: string } }).info.description).toMatch(/lone UTF-16 surrogate/);
  });
});

// ------------------------------------------------------------------------------------------

describe('messages written for staff', () => {
  const messages = (schema: z.ZodType, value: unknown) => {
    const r = schema.safeParse(value, { error: staffMessage });
    return r.success ? [] : fieldErrors(r.error, 'body').map((e) => `${e.pointer} ${e.message}`);
  };

  it('says what a field must be, not what the library expected', () => {
    const all = messages(RepaymentBody, { amountFen: 12.5, paidAt: 'yesterday', reference: '' }).join('\n');
    expect(all).toContain('#/amountFen must be a whole number');
    expect(all).toContain('#/paidAt is not a real date and time with a time zone');
    expect(all).toContain('#/reference must be printable ASCII');
    expect(messages(RepaymentBody, {})).toEqual(['#/amountFen is required', '#/paidAt is required', '#/reference is required']);
    expect(all).not.toMatch(/Invalid input|expected|received/);
  });

  it('refuses a time in the future beyond five minutes, with its own code', () => {
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    expect(PastDateTime.safeParse(at(60_000)).success).toBe(true);
    const r = PastDateTime.safeParse(at(10 * 60_000), { error: staffMessage });
    expect(r.success).toBe(false);
    expect(fieldErrors(r.error!, 'body')).toEqual([expect.objectContaining({ code: 'in_future', message: expect.stringMatching(/is in the future/) })]);
    expect(PastDateTime.safeParse('2099-01-01T00:00:00Z').success).toBe(false);
    expect(PastDateTime.safeParse('2026-02-30T10:00:00+08:00').success).toBe(false); // no 30 February
  });
});

describe('document URIs', () => {
  const defaults = loadConfig({}).DOCUMENT_URI_HOSTS;

  it('by default: every S3 bucket, no https host', () => {
    expect(defaults).toEqual(['s3://*']);
    expect(documentUriAllowed('s3://docs/id.jpg#blurry', defaults)).toBe(true);
    for (const uri of ['https://docs.bank.internal/id.jpg', 'https://169.254.169.254/latest/meta-data/', 'file:///etc/passwd', 'http://169.254.169.254/', 's3://bucket:9000/x']) {
      expect(`${uri} ${documentUriAllowed(uri, defaults)}`).toBe(`${uri} false`);
    }
  });

  it('named hosts and subdomains only, compared case-insensitively', () => {
    const allowed = loadConfig({ DOCUMENT_URI_HOSTS: 's3://car-loans-docs, https://docs.bank.internal, https://*.ocr.example' }).DOCUMENT_URI_HOSTS;
    expect(documentUriAllowed('s3://car-loans-docs/a/id.jpg', allowed)).toBe(true);
    expect(documentUriAllowed('s3://other-bucket/a/id.jpg', allowed)).toBe(false);
    expect(documentUriAllowed('https://DOCS.bank.internal/id.jpg', allowed)).toBe(true);
    expect(documentUriAllowed('https://docs.bank.internal:8443/id.jpg', allowed)).toBe(true);
    expect(documentUriAllowed('https://eu.ocr.example/x', allowed)).toBe(true);
    expect(documentUriAllowed('https://ocr.example/x', allowed)).toBe(false);
    expect(documentUriAllowed('https://evil-ocr.example/x', allowed)).toBe(false);
    expect(documentUriAllowed('https://docs.bank.internal.evil.com/x', allowed)).toBe(false);
    expect(documentUriErrors([{ uri: 's3://car-loans-docs/1' }, { uri: 'https://169.254.169.254/' }], allowed)).toEqual([
      expect.objectContaining({ pointer: '#/documents/1/uri', in: 'body', code: 'host_not_allowed' }),
    ]);
  });

  it('refuses a configuration that would allow any https host', () => {
    for (const bad of ['https://*', 'http://docs.bank.internal', 'file:///', 's3://*,https://user@host']) {
      expect(() => loadConfig({ DOCUMENT_URI_HOSTS: bad })).toThrow(ConfigError);
    }
  });
});
