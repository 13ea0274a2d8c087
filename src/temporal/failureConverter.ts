import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Moves failure messages and stack traces into the encoded attributes, so the payload codec
 * encrypts them too (a failure message is the easiest place for a stray value to leak).
 * Loaded by path: the worker's workflow bundle and the clients share this one module.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
