import { ApplicationFailure } from '@temporalio/common';
import { ProviderTransientError } from '../../../src/activities/providers';

/** Asserts a business refusal: non-retryable, of the type and code given, with no personal data. */
export async function expectRefusal(
  promise: Promise<unknown>,
  type: string,
  code: string,
  personalData: string[] = [],
): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a ${type} refusal, got success`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  expect(failure.nonRetryable).toBe(true);
  expect(failure.type).toBe(type);
  expect(failure.details?.[0]).toMatchObject({ code });
  const text = `${failure.message} ${JSON.stringify(failure.details)}`;
  for (const pii of personalData) expect(text).not.toContain(pii);
  return failure;
}

export async function expectTransient(promise: Promise<unknown>): Promise<ProviderTransientError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a transient failure, got success');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderTransientError);
  expect(err).not.toBeInstanceOf(ApplicationFailure);
  return err as ProviderTransientError;
}

export const sha = (c: string) => c.repeat(64).slice(0, 64);
