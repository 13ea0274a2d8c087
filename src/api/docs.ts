import type { OpenApiDocument } from './openapi';

/**
 * /docs: the OpenAPI document as one plain HTML page, rendered on the server (no script, so the
 * strict Content-Security-Policy stays on): every operation with its roles, parameters, body
 * examples and answers, then every schema.
 */
const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

function schemaName(schema: unknown): string {
  const ref = asObj(schema).$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop() ?? ref;
    return `<a href="#schema-${esc(name)}">${esc(name)}</a>`;
  }
  return `<code>${esc(JSON.stringify(schema))}</code>`;
}

function renderOperation(path: string, method: string, op: Obj): string {
  const params = (op.parameters as Obj[] | undefined) ?? [];
  const body = asObj(asObj(asObj(op.requestBody).content)['application/json']);
  const examples = asObj(body.examples);
  const responses = asObj(op.responses);
  return `
<section class="op" id="op-${esc(op.operationId)}">
  <h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code> — ${esc(op.summary ?? '')}</h3>
  <p>${esc(op.description ?? '').replace(/\n/g, '<br>')}</p>
  ${params.length ? `<h4>Parameters</h4><ul>${params.map((p) => `<li><code>${esc(p.name)}</code> in ${esc(p.in)}${p.required ? ' (required)' : ''}: ${schemaName(p.schema)} ${esc(p.description ?? asObj(p.schema).description ?? '')}</li>`).join('')}</ul>` : ''}
  ${body.schema ? `<h4>Body</h4><p>${schemaName(body.schema)}</p>` : ''}
  ${Object.keys(examples).length ? `<h4>Examples</h4>${Object.entries(examples).map(([k, ex]) => `<details><summary>${esc(k)}: ${esc(asObj(ex).summary ?? '')}</summary><pre>${esc(JSON.stringify(asObj(ex).value, null, 2))}</pre></details>`).join('')}` : ''}
  <h4>Answers</h4>
  <ul>${Object.entries(responses).map(([status, r]) => {
    const content = asObj(asObj(r).content);
    const types = Object.entries(content).map(([t, c]) => `${esc(t)} ${asObj(c).schema ? schemaName(asObj(c).schema) : ''}`).join(', ');
    return `<li><b>${esc(status)}</b> ${esc(asObj(r).description ?? '')}${types ? ` — ${types}` : ''}</li>`;
  }).join('')}</ul>
</section>`;
}

export function renderDocsPage(doc: OpenApiDocument): string {
  const info = asObj(doc.info);
  const ops: string[] = [];
  const index: string[] = [];
  for (const [path, item] of Object.entries(asObj(doc.paths))) {
    for (const [method, op] of Object.entries(asObj(item))) {
      const o = asObj(op);
      index.push(`<li><a href="#op-${esc(o.operationId)}"><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> ${esc(path)}</a> ${esc(o.summary ?? '')}</li>`);
      ops.push(renderOperation(path, method, o));
    }
  }
  const schemas = Object.entries(asObj(asObj(doc.components).schemas))
    .map(([name, s]) => `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3><pre>${esc(JSON.stringify(s, null, 2))}</pre></section>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d2430}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f6f8;padding:.75rem;overflow:auto;border-radius:6px}
.op{border-top:1px solid #dde1e6;padding-top:.5rem}.m{display:inline-block;min-width:3.5em;font-weight:600}
.get{color:#0b6e4f}.post{color:#9a4d00}a{color:#2750a8}
</style></head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<h2>Operations</h2><ul>${index.join('')}</ul>
${ops.join('')}
<h2>Schemas</h2>${schemas}
</body></html>`;
}
