import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import postgres from 'postgres';
import { openDb } from '../../src/db/client';
import { PROJECT_ROOT, temporalCli } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/devServer';
import { ManagedProcess, startPostgres, type Cluster, type PostgresServer } from '../reliability/cluster';

/**
 * The production topology as separate processes on this machine, the way docker-compose.yml runs
 * it and scripts/topology.sh starts it by hand: a PostgreSQL of its own (so a test can restart it),
 * a Temporal server built from its Go module (scripts/temporal-cluster-build.sh) on that PostgreSQL
 * with SQL visibility, started from deploy/temporal/server.yaml after deploy/temporal/setup.sh made
 * the schemas and the namespace; the Temporal UI from deploy/temporal/ui/car-loans.yaml; the
 * sandbox; two workers (`npm run worker`'s entry point) on one task queue; the API. Every process
 * is a ManagedProcess of the reliability suite, so the faults written for that suite (kills,
 * restarts, freezes) apply here unchanged: a Topology is a Cluster whose `worker` is the first of
 * its `workers` and whose `temporal` is the Temporal server.
 */

export interface TemporalServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export interface Topology extends Cluster {
  /** The throwaway PostgreSQL every part of the system keeps its state in (restartable). */
  postgres: PostgresServer & Required<Pick<PostgresServer, 'restart'>>;
  temporalPorts: TemporalServerPorts;
  workers: ManagedProcess[];
  ui: ManagedProcess;
  uiUrl: string;
  /** Environment of the Temporal server and of deploy/temporal/setup.sh. */
  temporalEnv: Record<string, string>;
  /** Runs a deploy/temporal/setup.sh step (schema, namespace) against this topology. */
  setup(step: 'schema' | 'namespace', env?: Record<string, string>): void;
}

export interface TopologyOptions {
  /** Extra environment for the API and the workers. */
  env?: Record<string, string>;
  workers?: number;
  /** Runs after the Temporal server and its namespace are up, before any worker starts. */
  beforeWorkers?: (t: Topology) => Promise<void>;
}

const DEPLOY = path.join(PROJECT_ROOT, 'deploy', 'temporal');

/** Builds (or finds, cached) the Temporal server, its SQL tool and the UI server; returns their folder. */
export function temporalClusterBinaries(): string {
  const r = spawnSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'temporal-cluster-build.sh')], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/temporal-cluster-build.sh failed (exit ${r.status})`);
  return r.stdout.trim().split('\n').at(-1)!;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Free ports of 127.0.0.1 for the Temporal server. It keeps its cluster members' ports in a SMALLINT
 * column, so they must be below 32768: under Linux's ephemeral range, where port 0 would land.
 */
async function freeLowPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n; tries++) {
    if (tries > 2000) throw new Error('no free ports between 20000 and 32767');
    const p = randomInt(20_000, 32_768);
    if (!ports.has(p) && (await portIsFree(p))) ports.add(p);
  }
  return [...ports];
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** One probe of a polling wait (its caller retries until a ceiling of minutes): a slow probe is asked again. */
async function temporalAnswers(address: string): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 10_000 });
  try {
    await conn.withDeadline(Date.now() + 5000, () => conn.workflowService.getSystemInfo({}));
    return true;
  } finally {
    await conn.close();
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.ok;
}

export async function startTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const bin = temporalClusterBinaries();
  const cli = temporalCli();
  if (cli.type !== 'existing-path') throw new Error('the topology needs the temporal CLI binary for deploy/temporal/setup.sh (npm run tools)');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'car-loans-topology-'));
  const pg = await startPostgres({ own: true });
  const pgUrl = new URL(pg.url);
  const admin = postgres(pg.url, { max: 1, onnotice: () => undefined });
  await admin.unsafe('CREATE DATABASE car_loans');
  pgUrl.pathname = '/car_loans';
  const databaseUrl = pgUrl.toString();
  const db = await openDb({ databaseUrl, maxConnections: 4 });

  const [frontend, frontendHttp, frontendMembership, history, historyMembership, matching, matchingMembership, worker, workerMembership] = (await freeLowPorts(9)) as [
    number, number, number, number, number, number, number, number, number,
  ];
  const [api, sandboxPort, uiPort] = (await distinctFreePorts(3)) as [number, number, number];
  const temporalPorts: TemporalServerPorts = { frontend, frontendHttp, frontendMembership, history, historyMembership, matching, matchingMembership, worker, workerMembership };
  const temporalAddress = `127.0.0.1:${frontend}`;
  const apiUrl = `http://127.0.0.1:${api}`;
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;

  // The variables deploy/temporal/server.yaml and setup.sh read (the upstream image's names).
  const temporalEnv: Record<string, string> = {
    POSTGRES_SEEDS: pgUrl.hostname,
    DB_PORT: pgUrl.port,
    POSTGRES_USER: decodeURIComponent(pgUrl.username),
    POSTGRES_PWD: decodeURIComponent(pgUrl.password),
    BIND_ON_IP: '127.0.0.1',
    FRONTEND_GRPC_PORT: String(frontend),
    FRONTEND_HTTP_PORT: String(frontendHttp),
    FRONTEND_MEMBERSHIP_PORT: String(frontendMembership),
    HISTORY_GRPC_PORT: String(history),
    HISTORY_MEMBERSHIP_PORT: String(historyMembership),
    MATCHING_GRPC_PORT: String(matching),
    MATCHING_MEMBERSHIP_PORT: String(matchingMembership),
    WORKER_GRPC_PORT: String(worker),
    WORKER_MEMBERSHIP_PORT: String(workerMembership),
    DYNAMIC_CONFIG_FILE_PATH: path.join(DEPLOY, 'dynamicconfig.yaml'),
    TEMPORAL_ADDRESS: temporalAddress,
    LOG_LEVEL: 'warn',
  };
  const toolsPath = [bin, path.dirname(cli.path), process.env.PATH ?? ''].join(path.delimiter);
  const setup = (step: 'schema' | 'namespace', extra: Record<string, string> = {}) => {
    const r = spawnSync('sh', [path.join(DEPLOY, 'setup.sh'), step], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, ...temporalEnv, ...extra, PATH: toolsPath } });
    fs.appendFileSync(path.join(dir, 'setup.log'), `\n----- setup.sh ${step}\n${r.stdout}${r.stderr}`);
    if (r.status !== 0) throw new Error(`deploy/temporal/setup.sh ${step} failed (exit ${r.status}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    HOST: '127.0.0.1',
    PORT: String(api),
    SANDBOX_PORT: String(sandboxPort),
    WORKER_METRICS_PORT: '0',
    CODEC_CORS_ORIGINS: `${uiUrl},http://localhost:${uiPort}`,
    ...opts.env,
  };
  const base = (): NodeJS.ProcessEnv => {
    // The test's own DATABASE_URL and jest's variables stay out of the children's environment.
    const { DATABASE_URL: _u, NODE_OPTIONS: _n, JEST_WORKER_ID: _j, LOG_LEVEL: _l, ...rest } = process.env;
    return { ...rest, ...env };
  };
  const file = (name: string) => path.join(dir, `${name}.log`);

  const temporal = new ManagedProcess(
    'temporal-server',
    path.join(bin, 'temporal-server'),
    () => ['--config-file', path.join(DEPLOY, 'server.yaml'), '--allow-no-auth', 'start'],
    () => ({ ...process.env, ...temporalEnv }),
    file('temporal-server'),
    () => temporalAnswers(temporalAddress),
    180_000,
  );
  const ui = new ManagedProcess(
    'temporal-ui',
    path.join(bin, 'ui-server'),
    // Relative to the working directory: the UI server joins --config onto its --root.
    () => ['--config', 'deploy/temporal/ui', '--env', 'car-loans', 'start'],
    () => ({
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_UI_HOST: '127.0.0.1',
      TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_CORS_ORIGINS: `${uiUrl},http://localhost:${uiPort}`,
      TEMPORAL_CODEC_ENDPOINT: `${apiUrl}/codec`,
    }),
    file('temporal-ui'),
    () => httpOk(`${uiUrl}/api/v1/settings`),
  );
  const sandbox = new ManagedProcess(
    'sandbox',
    process.execPath,
    () => ['--import', 'tsx', 'src/sandbox/server.ts'],
    () => ({
      ...base(),
      LOG_LEVEL: 'warn',
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_STATE_FILE: path.join(dir, 'sandbox-state.jsonl'),
      ESIGN_WEBHOOK_URL: `${apiUrl}/webhooks/esign`,
    }),
    file('sandbox'),
    () => httpOk(`${sandboxUrl}/healthz`),
  );
  const workers = Array.from(
    { length: opts.workers ?? 2 },
    (_, i) =>
      new ManagedProcess(
        `worker-${i + 1}`,
        process.execPath,
        () => ['--import', 'tsx', 'src/cli/worker.ts'],
        () => ({ ...base(), LOG_LEVEL: 'info' }),
        file(`worker-${i + 1}`),
        async (p) => p.output.includes('"worker polling"'),
        180_000,
      ),
  );
  const apiProcess = new ManagedProcess('api', process.execPath, () => ['--import', 'tsx', 'src/api/server.ts'], () => ({ ...base(), LOG_LEVEL: 'warn' }), file('api'), () => httpOk(`${apiUrl}/readyz`), 120_000);

  const topology: Topology = {
    dir,
    ports: { temporal: frontend, api, sandbox: sandboxPort },
    apiUrl,
    sandboxUrl,
    temporalAddress,
    databaseUrl,
    db,
    temporal,
    sandbox,
    worker: workers[0]!,
    workers,
    api: apiProcess,
    ui,
    uiUrl,
    env,
    temporalEnv,
    temporalPorts,
    postgres: pg as Topology['postgres'],
    setup,
    async stop() {
      await Promise.all([apiProcess.kill('SIGKILL'), ...workers.map((w) => w.kill('SIGKILL')), sandbox.kill('SIGKILL'), ui.kill('SIGKILL')]);
      await temporal.kill('SIGKILL');
      await db.close().catch(() => undefined);
      await admin.end({ timeout: 5 }).catch(() => undefined);
      await pg.stop();
      if (!process.env.KEEP_TOPOLOGY_LOGS) fs.rmSync(dir, { recursive: true, force: true });
      else process.stdout.write(`topology logs kept in ${dir}\n`);
    },
  };
  try {
    setup('schema');
    await Promise.all([temporal.start(), sandbox.start()]);
    setup('namespace');
    await ui.start();
    await opts.beforeWorkers?.(topology);
    // Both workers at once: they race to register the search attributes, as replicas do.
    await Promise.all(workers.map((w) => w.start()));
    await apiProcess.start();
  } catch (err) {
    process.stderr.write(`topology failed to start; logs in ${dir}\n`);
    process.env.KEEP_TOPOLOGY_LOGS = '1';
    await topology.stop();
    throw err;
  }
  return topology;
}
