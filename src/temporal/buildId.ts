import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { Config } from '../config';
import { WORKFLOW_BUNDLE_ROOTS } from '../worker';

/**
 * The build a worker runs, for Worker Versioning: `<package version>-<12 hex>`, the hex a hash of
 * every source file the workflow bundle is made of (the files reachable by relative imports from
 * the bundle's entry points) and of the workflow SDK's version. The same sources give the same id
 * on every machine and in every container; a change to any of them gives a new one, and a change
 * elsewhere (the API, an activity) does not, so only a change to workflow code is a new version.
 * BUILD_ID overrides it (a release tag, a git sha).
 */
const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

let computed: string | undefined;

export function buildId(config: Pick<Config, 'BUILD_ID'>): string {
  if (config.BUILD_ID) return config.BUILD_ID;
  computed ??= computeBuildId();
  return computed;
}

/** The worker's deployment version, or undefined when it runs unversioned (WORKER_VERSIONING=false). */
export function workerVersion(config: Pick<Config, 'BUILD_ID' | 'WORKER_VERSIONING' | 'WORKER_DEPLOYMENT_NAME'>): WorkerDeploymentVersion | undefined {
  return config.WORKER_VERSIONING ? { deploymentName: config.WORKER_DEPLOYMENT_NAME, buildId: buildId(config) } : undefined;
}

function computeBuildId(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  const sdk = (JSON.parse(fs.readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as { version: string }).version;
  return `${pkg.version}-${sourcesHash(WORKFLOW_BUNDLE_ROOTS, PROJECT_ROOT, `@temporalio/workflow@${sdk}`).slice(0, 12)}`;
}

// A relative import, export-from or require; `import type` / `export type` name no code and are skipped.
const RELATIVE_IMPORT = /\b(?:import|export)(\s+type)?\s[^'";]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]|\bimport\s+['"](\.{1,2}\/[^'"]+)['"]|\brequire\(\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** The files reachable from `roots` by relative imports, in a stable order (paths relative to `base`). */
export function bundleSources(roots: readonly string[], base: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(RELATIVE_IMPORT)) {
      if (m[1]) continue;
      const target = resolveSource(path.resolve(path.dirname(file), (m[2] ?? m[3] ?? m[4])!));
      if (target) visit(target);
    }
  };
  for (const root of roots) visit(resolveSource(root) ?? root);
  return [...seen].map((f) => path.relative(base, f).split(path.sep).join('/')).sort();
}

/** A hash of those files' paths and contents, and of `salt`. */
export function sourcesHash(roots: readonly string[], base: string, salt = ''): string {
  const hash = createHash('sha256').update(salt);
  for (const rel of bundleSources(roots, base)) hash.update(`\0${rel}\0`).update(fs.readFileSync(path.join(base, rel)));
  return hash.digest('hex');
}

function resolveSource(p: string): string | undefined {
  for (const candidate of [p, `${p}.ts`, `${p}.js`, path.join(p, 'index.ts'), path.join(p, 'index.js')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}
