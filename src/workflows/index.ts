// Bundle entry for the worker: every workflow the car-loans task queue runs.
export { loanApplication } from './loanApplication';
export { loanServicing } from './loanServicing';
export { repaymentReminders } from './repaymentReminders';
export { reconcileApplications } from './applicationReconciler';
