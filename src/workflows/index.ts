// Bundle entry for the worker: every workflow the car-loans task queue runs, each with its
// versioning behaviour (versioning.ts).
import { reconcileApplications } from './applicationReconciler';
import { loanApplication } from './loanApplication';
import { loanServicing } from './loanServicing';
import { repaymentReminders } from './repaymentReminders';
import { declareVersioningBehaviours } from './versioning';

declareVersioningBehaviours({ loanApplication, loanServicing, repaymentReminders, reconcileApplications });

export { loanApplication, loanServicing, repaymentReminders, reconcileApplications };
