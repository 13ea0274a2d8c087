import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { createApplicationActivities } from './applications';
import { createCallCentreActivities } from './callCentre';
import { createCreditBureauActivities } from './creditBureau';
import { createDocumentActivities } from './documents';
import { createEsignActivities } from './esign';
import { createLoanEventActivities } from './loanEvents';
import { createLoanActivities } from './loans';
import { createOcrActivities } from './ocr';
import { createPaymentActivities } from './payments';
import type { ProviderClients } from './providers';
import { DEFAULT_ORPHAN_AFTER_MS } from '../config';
import { createReconcilerActivities } from './reconciler';
import { createReminderActivities } from './reminders';
import { createSmsActivities } from './sms';
import { createValuationActivities } from './valuation';

export interface ActivityDeps {
  db: Db;
  /** Decrypts the personal data activities read by application id (src/db/pii.ts). */
  cipher: PiiCipher;
  /** The external systems' clients: createProviderClients(config.providers). */
  providers: ProviderClients;
  /**
   * Pay a deterministic sandbox account when no payee account is on file (development and tests).
   * Default true; the worker turns it off in production, where such a loan fails instead.
   */
  sandboxPayeeFallback?: boolean;
  /** ORPHAN_AFTER_MS: how long an unconfirmed duplicate-screen claim protects its application (default 30 s). */
  orphanAfterMs?: number;
  /** The worker's Temporal client and task queue, for the reconciler's starts of orphaned applications. */
  temporal?: { client: Client; taskQueue: string };
}

/** Every activity the worker registers, built over its injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  const { db, cipher, providers } = deps;
  return {
    ...createLoanEventActivities(db),
    ...createApplicationActivities({ db, orphanAfterMs: deps.orphanAfterMs ?? DEFAULT_ORPHAN_AFTER_MS }),
    ...createReconcilerActivities({ db, temporal: deps.temporal }),
    ...createDocumentActivities({ db }),
    ...createOcrActivities({ db, cipher, ocr: providers.ocr }),
    ...createCallCentreActivities({ db, cipher, callCentre: providers.callCentre }),
    ...createValuationActivities({ db, valuation: providers.valuation }),
    ...createCreditBureauActivities({ db, cipher, creditBureau: providers.creditBureau }),
    ...createEsignActivities({ db, cipher, esign: providers.esign }),
    ...createPaymentActivities({ db, cipher, payments: providers.payments, sandboxPayeeFallback: deps.sandboxPayeeFallback ?? true }),
    ...createSmsActivities({ db, cipher, sms: providers.sms }),
    // Servicing (issue 7): loans, repayments, collections calls; reminders.
    ...createLoanActivities({ db, cipher, callCentre: providers.callCentre }),
    ...createReminderActivities({ db, cipher, sms: providers.sms }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
