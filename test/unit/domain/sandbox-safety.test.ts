// Workflows import src/domain inside Temporal's deterministic sandbox, and the API imports it too.
// This guards the rules that keep it safe there: no clock, no randomness, no I/O, no Node built-ins,
// no zod, and only relative imports between domain files.
import { readdirSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';

const dir = join(__dirname, '../../../src/domain');
// Every file, sub-folders (the ledger) included, relative to src/domain.
const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort();

describe('src/domain is safe for the workflow sandbox', () => {
  test('there are domain files', () => {
    expect(files).toEqual(expect.arrayContaining(['index.ts', 'money.ts', 'schedule.ts', 'apr.ts', 'ltv.ts', 'decision.ts', 'validators.ts', 'stages.ts', 'policy.ts']));
  });

  test.each(files)('%s uses no clock, randomness, I/O or outside imports', (file) => {
    const source = readFileSync(join(dir, file), 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    expect(source).not.toMatch(/\bDate\b/);
    expect(source).not.toMatch(/Math\.random/);
    expect(source).not.toMatch(/\b(setTimeout|setInterval|process|require|fetch|console|performance|crypto|Intl)\b/);
    for (const [, spec] of source.matchAll(/from\s+'([^']+)'/g)) {
      // Relative, and staying inside src/domain.
      expect(spec).toMatch(/^\.\.?\//);
      expect(normalize(join(file, '..', spec as string)).startsWith('..')).toBe(false);
    }
    expect(source).not.toMatch(/import\(/);
  });

  test('every module is re-exported from index.ts', () => {
    const index = readFileSync(join(dir, 'index.ts'), 'utf8');
    for (const f of files.filter((x) => x !== 'index.ts' && !x.includes('/'))) expect(index).toContain(`from './${f.replace(/\.ts$/, '')}'`);
    expect(index).toContain(`from './ledger'`);
  });
});
