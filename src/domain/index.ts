// The loan domain: pure, deterministic functions shared by workflows and the API.
// No I/O, no clock, no randomness, no Node built-ins, no zod: safe inside the workflow sandbox.
export * from './money';
export * from './dates';
export * from './schedule';
export * from './apr';
export * from './ltv';
export * from './validators';
export * from './stages';
export * from './policy';
export * from './decision';
export * from './servicing';
export * from './servicingRules';
export * from './ids';
export * from './ledger';
export * from './autoDebit';
