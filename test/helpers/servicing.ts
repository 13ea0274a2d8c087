import { createHash } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { createLoanActivities } from '../../src/activities/loans';
import { createProviderClients, type ProviderClients } from '../../src/activities/providers';
import type { Db } from '../../src/db/client';
import { PiiCipher } from '../../src/db/pii';
import { applicants, applications, installments } from '../../src/db/schema';
import { type RepaymentMethod, buildOffer } from '../../src/domain';
import type { RunningSandbox } from '../../src/sandbox';
import { PATIENCE_MS } from './wait';

/**
 * Seeding for servicing tests: the applicant and application rows a loan hangs off (as intake
 * would have stored them), then the loan itself through the real createLoan activity.
 */
export const testCipher = (): PiiCipher =>
  new PiiCipher({ currentKeyId: 't1', keys: { t1: Buffer.alloc(32, 5) }, hashKey: Buffer.alloc(32, 6) });

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

export async function seedApplication(db: Db, cipher: PiiCipher, o: { applicationId: string; phone: string; amountFen: number; termMonths: number; repaymentMethod: RepaymentMethod }) {
  const applicantId = `applicant-${o.applicationId}`;
  // A deterministic, valid-looking ID number is not needed here: the loan never reads it.
  const idNumber = `11010519491231${createHash('sha256').update(o.applicationId).digest('hex').slice(0, 4)}`;
  await db
    .insert(applicants)
    .values({
      id: applicantId,
      nameEnc: cipher.encrypt('张三'),
      idNumberEnc: cipher.encrypt(idNumber),
      phoneEnc: cipher.encrypt(o.phone),
      idNumberHash: cipher.lookupHash('id', idNumber),
      phoneHash: cipher.lookupHash('phone', o.phone),
      monthlyIncomeFen: 2_000_000,
    })
    .onConflictDoNothing();
  await db
    .insert(applications)
    .values({
      id: o.applicationId,
      workflowId: `loan-application-${o.applicationId}`,
      applicantId,
      channel: 'branch',
      branchId: 'BJ-001',
      submittedBy: 'officer-1',
      amountFen: o.amountFen,
      termMonths: o.termMonths,
      repaymentMethod: o.repaymentMethod,
      stage: 'servicing',
    })
    .onConflictDoNothing();
}

/** Seeds the rows and creates the loan through createLoan; answers the loan id and its schedule. */
export async function seedLoan(db: Db, cipher: PiiCipher, providers: ProviderClients, o: SeedLoanOptions) {
  const amountFen = o.amountFen ?? 15_000_000;
  const termMonths = o.termMonths ?? 36;
  const repaymentMethod = o.repaymentMethod ?? 'equal_installment';
  await seedApplication(db, cipher, { applicationId: o.applicationId, phone: o.phone, amountFen, termMonths, repaymentMethod });
  const offer = buildOffer({ amountFen, termMonths, repaymentMethod, annualRateBps: o.annualRateBps ?? 650 });
  const acts = createLoanActivities({ db, cipher, callCentre: providers.callCentre });
  const { loanId } = await acts.createLoan({
    applicationId: o.applicationId,
    offer,
    disbursedAtMs: o.disbursedAtMs,
    transferId: `tr-${o.applicationId}`,
    collateralRegistrationOutstanding: o.collateralRegistrationOutstanding ?? false,
  });
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
