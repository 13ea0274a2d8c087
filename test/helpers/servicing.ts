import { asc, eq } from 'drizzle-orm';
import { createLoanEventActivities } from '../../src/activities/loanEvents';
import { createLoanActivities } from '../../src/activities/loans';
import { createProviderClients, type ProviderClients } from '../../src/activities/providers';
import type { Db } from '../../src/db/client';
import type { PiiCipher } from '../../src/db/pii';
import { installments } from '../../src/db/schema';
import { type RepaymentMethod, buildOffer } from '../../src/domain';
import type { RunningSandbox } from '../../src/sandbox';
import { PATIENCE_MS } from './wait';
import { seedApplication, testCipher } from './seed';

/**
 * Seeding for servicing tests: the application a loan hangs off, stored as the API stores it
 * (seed.ts, the API's own row builder, with the development keys every worker has), moved to
 * servicing by the workflow's own mirror activity, then the loan itself through createLoan.
 */

/** The development key ring, which the workers of every test have too. */
export { testCipher };

export function sandboxProviders(sandbox: RunningSandbox): ProviderClients {
  return createProviderClients(sandbox.providers);
}

export interface SeedLoanOptions {
  applicationId: string;
  /** The borrower's mobile (stored encrypted). */
  phone: string;
  disbursedAtMs: number;
  amountFen?: number;
  termMonths?: number;
  annualRateBps?: number;
  repaymentMethod?: RepaymentMethod;
  collateralRegistrationOutstanding?: boolean;
}

/** Seeds the rows and creates the loan through createLoan; answers the loan id and its schedule. */
export async function seedLoan(db: Db, cipher: PiiCipher, providers: ProviderClients, o: SeedLoanOptions) {
  const amountFen = o.amountFen ?? 15_000_000;
  const termMonths = o.termMonths ?? 36;
  const repaymentMethod = o.repaymentMethod ?? 'equal_installment';
  await seedApplication(db, { applicationId: o.applicationId, applicant: { phone: o.phone }, loan: { amountFen, termMonths, repaymentMethod } }, cipher);
  const offer = buildOffer({ amountFen, termMonths, repaymentMethod, annualRateBps: o.annualRateBps ?? 650 });
  const acts = createLoanActivities({ db, cipher, callCentre: providers.callCentre });
  const { loanId } = await acts.createLoan({
    applicationId: o.applicationId,
    offer,
    disbursedAtMs: o.disbursedAtMs,
    transferId: `tr-${o.applicationId}`,
    collateralRegistrationOutstanding: o.collateralRegistrationOutstanding ?? false,
  });
  await createLoanEventActivities(db).mirrorStage({ applicationId: o.applicationId, stage: 'servicing', pendingTask: null, loanId });
  return { loanId, offer, schedule: await loadSchedule(db, loanId) };
}

export function loadSchedule(db: Db, loanId: string) {
  return db.select().from(installments).where(eq(installments.loanId, loanId)).orderBy(asc(installments.seq));
}

/** Polls (real time) until `check` stops throwing: the worker applies what the test just did. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = PATIENCE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
