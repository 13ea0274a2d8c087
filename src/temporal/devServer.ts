import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { LOAN_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { temporalCli } from './binaries';

export interface DevServerOptions {
  host: string;
  port: number;
  uiPort: number;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFilename?: string | undefined;
  namespace?: string;
  /** Remote codec endpoint the Web UI calls to decode payloads. */
  uiCodecEndpoint?: string | undefined;
  headless?: boolean;
  log?: (msg: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
}

const SA_TYPE_NAMES: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

export function searchAttributeArgs(): string[] {
  return LOAN_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${SA_TYPE_NAMES[k.type]}`]);
}

export async function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForFrontend(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited with code ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal dev server did not answer on ${address} within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Starts `temporal server start-dev` as a child process with our search attributes registered.
 * Stopping sends SIGTERM and waits, so its SQLite file is closed cleanly and a restart finds every run.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const exe = temporalCli(log);
  const address = `${opts.host}:${opts.port}`;
  if (exe.type === 'cached-download') {
    // Last resort on a connected machine: the SDK downloads and runs the same dev server.
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: opts.host,
        port: opts.port,
        ui: !opts.headless,
        uiPort: opts.uiPort,
        dbFilename: opts.dbFilename,
        namespace: opts.namespace,
        searchAttributes: [...LOAN_SEARCH_ATTRIBUTES],
        extraArgs: opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : [],
      },
    });
    return { address, uiUrl: opts.headless ? undefined : `http://${opts.host}:${opts.uiPort}`, stop: () => env.teardown() };
  }

  if (!(await portIsFree(opts.host, opts.port))) {
    throw new Error(`Port ${opts.port} on ${opts.host} is taken: is another Temporal server running? Set TEMPORAL_ADDRESS to use it, or TEMPORAL_DEV_PORT to pick another port.`);
  }
  if (opts.dbFilename) fs.mkdirSync(path.dirname(opts.dbFilename), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    opts.host,
    '--port',
    String(opts.port),
    '--log-level',
    'warn',
    '--ui-disable-news-fetch',
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(opts.uiPort)]),
    ...(opts.dbFilename ? ['--db-filename', opts.dbFilename] : []),
    ...(opts.namespace && opts.namespace !== 'default' ? ['--namespace', opts.namespace] : []),
    ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
    ...searchAttributeArgs(),
  ];
  const child = spawn(exe.path, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-4000);
  });
  try {
    await waitForFrontend(address, child, 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderrTail}`);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    address,
    uiUrl: opts.headless ? undefined : `http://${opts.host}:${opts.uiPort}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
