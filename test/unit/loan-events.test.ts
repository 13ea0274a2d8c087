import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LOAN_EVENT_KINDS, WORKFLOW_ACT_EVENT_KINDS, loanEventKind } from '../../src/contracts/loanEvents';

/** Every kind the code writes to loan_events is one of the list, so the trail reads with one vocabulary. */
describe('loan_events kinds', () => {
  const src = join(__dirname, '..', '..', 'src');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  const written = new Set<string>();
  // The application workflow writes recordEvent('kind', …), servicing event(key, 'kind', …); the
  // API's entries are typed (AuditEntry.kind), listed here too: `kind: '…',` on its own line.
  for (const file of files(join(src, 'workflows'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/recordEvent\('([a-z_]+)'/g)) written.add(m[1]!);
    for (const m of text.matchAll(/\bevent\([^,]+, '([a-z_]+)'/g)) written.add(m[1]!);
  }
  for (const file of files(join(src, 'api', 'routes'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*kind: '([a-z_]+)',\s*$/gm)) written.add(m[1]!);
  }

  it('finds the kinds the code writes', () => {
    for (const k of ['stage_entered', 'loan_closed', 'approval_decision', 'application_created']) expect(written).toContain(k);
  });

  it('knows every one of them', () => {
    const unknown = [...written].filter((k) => loanEventKind(k) === null);
    expect(unknown).toEqual([]);
  });

  it("maps the application workflow's act names to the API's kinds", () => {
    expect(loanEventKind('approvalDecision')).toBe('approval_decision');
    expect(loanEventKind('withdraw')).toBe('withdrawal');
    expect(loanEventKind('approval_decision')).toBe('approval_decision');
    expect(loanEventKind('approvaldecision')).toBeNull();
    for (const kind of Object.values(WORKFLOW_ACT_EVENT_KINDS)) expect(LOAN_EVENT_KINDS).toContain(kind);
  });
});
