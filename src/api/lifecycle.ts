import http from 'node:http';
import type { Express } from 'express';

/**
 * Listening and stopping. `close()` stops accepting connections, lets the requests in flight
 * finish (answers sent while draining carry `Connection: close`), closes idle keep-alive
 * connections, and only after `graceMs` cuts what is left.
 */
export interface ApiServer {
  server: http.Server;
  port: number;
  close(graceMs?: number): Promise<void>;
}

export const DRAINING = Symbol.for('car-loans.api.draining');

export async function listen(app: Express, port: number, host: string): Promise<ApiServer> {
  const server = http.createServer(app);
  // Slow-loris guards; keep-alive shorter than typical load balancers' idle timeout is not needed locally.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;

  let closing: Promise<void> | undefined;
  const close = (graceMs = 10_000) =>
    (closing ??= new Promise<void>((resolve) => {
      (app.locals as Record<symbol, unknown>)[DRAINING] = true;
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
      // Connections that finish a request while draining are closed by `Connection: close`; sweep the rest.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      sweep.unref();
      server.once('close', () => clearInterval(sweep));
    }));
  return { server, port: actualPort, close };
}
