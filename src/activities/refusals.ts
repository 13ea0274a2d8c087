import { ApplicationFailure } from '@temporalio/common';
import type { ProviderRefusalDetails } from './providers';

/** The provider's refusal code when `err` is a business refusal of the given type, else null. */
export function refusalCode(err: unknown, type: string): string | null {
  if (!(err instanceof ApplicationFailure) || err.type !== type) return null;
  const details = err.details?.[0] as Partial<ProviderRefusalDetails> | undefined;
  return typeof details?.code === 'string' ? details.code : 'refused';
}
