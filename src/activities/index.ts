import type { Db } from '../db/client';
import { createLoanEventActivities } from './loanEvents';

export interface ActivityDeps {
  db: Db;
}

/** Every activity the worker registers, built over its injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createLoanEventActivities(deps.db),
  };
}

export type Activities = ReturnType<typeof createActivities>;
