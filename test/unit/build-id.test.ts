import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildId, bundleSources, sourcesHash, workerVersion } from '../../src/temporal/buildId';
import { WORKFLOW_BUNDLE_ROOTS } from '../../src/worker';

/** The build id a worker registers: a change to workflow code is a new version, any other change is not. */
describe('build id', () => {
  const root = path.join(__dirname, '..', '..');

  it('hashes exactly the files the workflow bundle is made of', () => {
    const files = bundleSources(WORKFLOW_BUNDLE_ROOTS, root);
    expect(files).toEqual(expect.arrayContaining(['src/workflows/index.ts', 'src/workflows/loanApplication/index.ts', 'src/workflows/loanServicing/index.ts', 'src/domain/ids.ts', 'src/temporal/failureConverter.ts']));
    // Activities, the API and the database run outside the bundle (type-only imports name no code).
    expect(files.filter((f) => /^src\/(api|db|sandbox)\//.test(f) || f === 'src/activities/index.ts')).toEqual([]);
  });

  it('changes when a bundled file changes, and only then', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'build-id-'));
    try {
      fs.writeFileSync(path.join(dir, 'entry.ts'), "import { rule } from './rule';\nimport type { Shape } from './types';\nexport * from './more';\nexport const f = (s: Shape) => rule(s);\n");
      fs.writeFileSync(path.join(dir, 'rule.ts'), 'export const rule = (x: unknown) => x;\n');
      fs.writeFileSync(path.join(dir, 'more.ts'), 'export const more = 1;\n');
      fs.writeFileSync(path.join(dir, 'types.ts'), 'export interface Shape { a: number }\n');
      fs.writeFileSync(path.join(dir, 'elsewhere.ts'), 'export const api = 1;\n');
      const roots = [path.join(dir, 'entry.ts')];
      expect(bundleSources(roots, dir)).toEqual(['entry.ts', 'more.ts', 'rule.ts']);
      const before = sourcesHash(roots, dir, 'sdk@1');
      expect(sourcesHash(roots, dir, 'sdk@1')).toBe(before);
      fs.writeFileSync(path.join(dir, 'elsewhere.ts'), 'export const api = 2;\n');
      fs.writeFileSync(path.join(dir, 'types.ts'), 'export interface Shape { a: string }\n');
      expect(sourcesHash(roots, dir, 'sdk@1')).toBe(before);
      expect(sourcesHash(roots, dir, 'sdk@2')).not.toBe(before);
      fs.writeFileSync(path.join(dir, 'rule.ts'), 'export const rule = (x: unknown) => [x];\n');
      expect(sourcesHash(roots, dir, 'sdk@1')).not.toBe(before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the package version and that hash, or BUILD_ID when set', () => {
    const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
    expect(buildId({ BUILD_ID: undefined })).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
    expect(buildId({ BUILD_ID: '2026.12.1-rc1' })).toBe('2026.12.1-rc1');
    expect(workerVersion({ BUILD_ID: 'b7', WORKER_VERSIONING: true, WORKER_DEPLOYMENT_NAME: 'car-loans' })).toEqual({ deploymentName: 'car-loans', buildId: 'b7' });
    expect(workerVersion({ BUILD_ID: 'b7', WORKER_VERSIONING: false, WORKER_DEPLOYMENT_NAME: 'car-loans' })).toBeUndefined();
  });
});
