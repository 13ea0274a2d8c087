import { Client, type Connection } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from './config';
import { connectClient, dataConverterFromConfig, type TemporalTarget } from './temporal/connection';

/**
 * What every process (`npm start`, `npm run worker`, `npm run api`, the CLIs) does first, once:
 * read the configuration or stop with a message naming each bad variable, find Temporal, and
 * connect a client that always carries the deployment's payload codec (every payload in Temporal
 * is encrypted: a client without the codec cannot read a Schedule's arguments or a result).
 */

/** The configuration, or exit code 2 with the loader's message on stderr. */
export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  return orExit(() => loadConfig(env));
}

/** What `read` derives from the configuration (a key ring), or exit code 2 when it refuses the configuration. */
export function orExit<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Where Temporal is: `address` (a dev server just started), else TEMPORAL_ADDRESS, else the local dev server's port. */
export function temporalTarget(config: Config, address?: string): TemporalTarget {
  return {
    address: address ?? config.TEMPORAL_ADDRESS ?? `${config.TEMPORAL_DEV_HOST}:${config.TEMPORAL_DEV_PORT}`,
    namespace: config.TEMPORAL_NAMESPACE,
    tls: config.TEMPORAL_TLS,
    apiKey: config.TEMPORAL_API_KEY,
  };
}

export interface TemporalClient {
  client: Client;
  /** Close it when done. */
  connection: Connection;
}

/** A client of the deployment's namespace with its codec. */
export async function connectTemporal(config: Config, target: TemporalTarget = temporalTarget(config)): Promise<TemporalClient> {
  const connection = await connectClient(target);
  return { connection, client: new Client({ connection, namespace: target.namespace, dataConverter: dataConverterFromConfig(config) }) };
}
