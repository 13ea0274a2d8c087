import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workflow, integration and reliability tests start servers; the hang ceiling is hang-ceiling.ts.

// Keep the SDK's worker chatter out of test output; warnings and errors still show.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process.
}

/*
 * The client's gRPC retry interceptor schedules retries with setTimeout and Connection.close() does
 * not clear them: a retry of a call that failed while a test server was stopping fires after the
 * channel closed, and grpc-js throws "Channel has been shut down" from the timer, failing whichever
 * suite is running. Here a retry on a closed channel ends the call as CANCELLED instead, the way
 * a call on a closing channel ends.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpcRetry = require('@temporalio/client/lib/grpc-retry') as {
  makeGrpcRetryInterceptor: (opts: unknown) => (options: unknown, nextCall: (o: unknown) => unknown) => unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const makeRetry = grpcRetry.makeGrpcRetryInterceptor;
grpcRetry.makeGrpcRetryInterceptor = (opts: unknown) => {
  const retry = makeRetry(opts);
  return (options: unknown, nextCall: (o: unknown) => unknown) =>
    retry(options, (o: unknown) => {
      try {
        return nextCall(o);
      } catch (err) {
        if (!/Channel has been shut down/.test((err as Error).message)) throw err;
        const status = { code: grpc.status.CANCELLED, details: 'Channel has been shut down', metadata: new grpc.Metadata() };
        return {
          start: (_metadata: unknown, listener: { onReceiveStatus?: (s: typeof status) => void }) => setImmediate(() => listener.onReceiveStatus?.(status)),
          sendMessage: () => undefined,
          sendMessageWithContext: () => undefined,
          halfClose: () => undefined,
          cancelWithStatus: () => undefined,
          getPeer: () => '',
          startRead: () => undefined,
        };
      }
    });
};
