// The servicing ledger: every balance of a loan as a pure function of its contract, its
// transactions and an as-of date (see engine.ts for the rules of a day).
export * from './types';
export { LedgerEngine, replay, appliedInOrder, reversedIds } from './engine';
export * from './ledger';
