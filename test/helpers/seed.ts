import { createHash, randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/db/client';
import { PiiCipher, keyRingFromConfig } from '../../src/db/pii';
import { applicants, applications, blacklist, dealers, documents, vehicles } from '../../src/db/schema';
import {
  requiredDocuments,
  residentIdCheckChar,
  type Channel,
  type DocumentType,
  type RepaymentMethod,
  type VehicleCondition,
  type VehicleEnergy,
  type VehicleUsage,
} from '../../src/domain';
import { SANDBOX_TEST_VALUES } from '../../src/sandbox/test-values';
import type { LoanApplicationInput } from '../../src/workflows/messages';

/**
 * Inserts applications the way the API does (personal data encrypted with PiiCipher, hashed for
 * look-ups; the vehicle and the documents beside it), and answers the workflow input that goes with
 * them. Defaults give an ordinary applicant whose every answer from the sandbox is favourable;
 * options pick the scenario (a test ID number, a closed account, a document marker, …).
 */

/** The cipher of the default (development) configuration, which the test workers use too. */
export function testCipher(): PiiCipher {
  return new PiiCipher(keyRingFromConfig(loadConfig({})));
}

const ADVERSE_IDS: ReadonlySet<string> = new Set(Object.values(SANDBOX_TEST_VALUES.idNumbers));

/** A fresh, valid resident ID number (Beijing, born 1975–1994) that is none of the sandbox's test values. */
export function freshIdNumber(): string {
  for (;;) {
    const b = randomBytes(4);
    const year = 1975 + (b[0]! % 20);
    const month = 1 + (b[1]! % 12);
    const day = 1 + (b[2]! % 28);
    const seq = String(b[3]! % 1000).padStart(3, '0');
    const first17 = `110105${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${seq}`;
    const id = first17 + residentIdCheckChar(first17);
    if (!ADVERSE_IDS.has(id)) return id;
  }
}

export function freshPhone(): string {
  return `138${String(randomBytes(4).readUInt32BE(0) % 100_000_000).padStart(8, '0')}`;
}

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export interface SeedOptions {
  applicationId?: string;
  channel?: Channel;
  branchId?: string;
  dealerId?: string | null;
  /** Also store the dealer with this settlement account (else the payment falls back to a sandbox account). */
  dealerAccount?: string;
  submittedBy?: string;
  applicant?: {
    name?: string;
    idNumber?: string;
    phone?: string;
    monthlyIncomeFen?: number;
    /** null: no account on file (the disbursement pays the deterministic sandbox account). */
    bankAccount?: string | null;
  };
  vehicle?: {
    vin?: string;
    make?: string;
    model?: string;
    year?: number;
    condition?: VehicleCondition;
    energy?: VehicleEnergy;
    usage?: VehicleUsage;
    priceFen?: number;
    mileageKm?: number;
    firstRegistrationDate?: string | null;
  };
  loan?: { amountFen?: number; termMonths?: number; repaymentMethod?: RepaymentMethod };
  /** Which documents are stored with the application: default the complete required set. */
  documents?: DocumentType[];
  /** URI markers by document type, e.g. `{ id_card: '#expired' }`. */
  documentMarkers?: Partial<Record<DocumentType, string>>;
  /** Put the applicant's ID number on the blacklist. */
  blacklisted?: boolean;
}

export interface Seeded {
  applicationId: string;
  applicantId: string;
  idNumber: string;
  phone: string;
  documentIds: string[];
  input: LoanApplicationInput;
}

const USED_DEFAULTS = { make: 'BYD', model: 'Han', year: 2021, priceFen: 15_000_000, mileageKm: 60_000, firstRegistrationDate: '2021-05-01' };
const NEW_DEFAULTS = { make: 'BYD', model: 'Han', year: 2026, priceFen: 25_000_000, mileageKm: 0, firstRegistrationDate: null };

export async function seedApplication(db: Db, opts: SeedOptions = {}): Promise<Seeded> {
  const cipher = testCipher();
  const applicationId = opts.applicationId ?? newId('app');
  const applicantId = newId('applicant');
  const channel = opts.channel ?? 'branch';
  const condition = opts.vehicle?.condition ?? 'new';
  const base = condition === 'used' ? USED_DEFAULTS : NEW_DEFAULTS;
  const vehicle = {
    vin: opts.vehicle?.vin ?? 'LFV2A21K2A3010006',
    make: opts.vehicle?.make ?? base.make,
    model: opts.vehicle?.model ?? base.model,
    year: opts.vehicle?.year ?? base.year,
    condition,
    energy: opts.vehicle?.energy ?? 'new_energy',
    usage: opts.vehicle?.usage ?? 'personal',
    priceFen: opts.vehicle?.priceFen ?? base.priceFen,
    mileageKm: opts.vehicle?.mileageKm ?? base.mileageKm,
    firstRegistrationDate: opts.vehicle?.firstRegistrationDate === undefined ? base.firstRegistrationDate : opts.vehicle.firstRegistrationDate,
  };
  const loan = {
    amountFen: opts.loan?.amountFen ?? (condition === 'used' ? 8_000_000 : 15_000_000),
    termMonths: opts.loan?.termMonths ?? 36,
    repaymentMethod: opts.loan?.repaymentMethod ?? 'equal_installment',
  };
  const dealerId = opts.dealerId === undefined ? (channel === 'dealer' ? 'D-100' : null) : opts.dealerId;
  const idNumber = opts.applicant?.idNumber ?? freshIdNumber();
  const phone = opts.applicant?.phone ?? freshPhone();
  const bankAccount = opts.applicant?.bankAccount === undefined ? '6222020200112233445' : opts.applicant.bankAccount;
  const submittedBy = opts.submittedBy ?? 'officer-1';
  const branchId = opts.branchId ?? 'BJ-001';

  if (opts.dealerAccount && dealerId) {
    await db
      .insert(dealers)
      .values({ id: dealerId, name: `Dealer ${dealerId}`, accountNumber: opts.dealerAccount, accountName: '北京某某汽车销售服务有限公司', bankCode: 'ICBC' })
      .onConflictDoUpdate({ target: dealers.id, set: { accountNumber: opts.dealerAccount } });
  }
  await db.insert(applicants).values({
    id: applicantId,
    nameEnc: cipher.encrypt(opts.applicant?.name ?? '张三'),
    idNumberEnc: cipher.encrypt(idNumber),
    phoneEnc: cipher.encrypt(phone),
    bankAccountEnc: bankAccount === null ? null : cipher.encrypt(bankAccount),
    idNumberHash: cipher.lookupHash('id_number', idNumber),
    phoneHash: cipher.lookupHash('phone', phone),
    monthlyIncomeFen: opts.applicant?.monthlyIncomeFen ?? 2_000_000,
  });
  if (opts.blacklisted) {
    await db
      .insert(blacklist)
      .values({ idNumberHash: cipher.lookupHash('id_number', idNumber), reasonCode: 'FRAUD_SUSPECTED', listedBy: 'risk-officer-1' })
      .onConflictDoNothing();
  }
  await db.insert(applications).values({
    id: applicationId,
    workflowId: `loan-application-${applicationId}`,
    applicantId,
    channel,
    branchId,
    dealerId,
    submittedBy,
    amountFen: loan.amountFen,
    termMonths: loan.termMonths,
    repaymentMethod: loan.repaymentMethod,
  });
  await db.insert(vehicles).values({ id: newId('vehicle'), applicationId, ...vehicle });

  const docTypes = opts.documents ?? requiredDocuments({ condition, channel });
  const documentIds = await addDocuments(db, applicationId, docTypes.map((type) => ({ type, marker: opts.documentMarkers?.[type] })), submittedBy);

  return {
    applicationId,
    applicantId,
    idNumber,
    phone,
    documentIds,
    input: {
      applicationId,
      channel,
      branchId,
      dealerId: dealerId ?? undefined,
      submittedBy,
      amountFen: loan.amountFen,
      termMonths: loan.termMonths,
      repaymentMethod: loan.repaymentMethod,
      vehicle: {
        condition,
        energy: vehicle.energy,
        usage: vehicle.usage,
        priceFen: vehicle.priceFen,
        year: vehicle.year,
        mileageKm: vehicle.mileageKm,
      },
      submittedAtMs: Date.now(),
    },
  };
}

/** Stores more documents for an application (as the documents endpoint does) and answers their ids. */
export async function addDocuments(
  db: Db,
  applicationId: string,
  docs: { type: DocumentType; marker?: string | undefined }[],
  submittedBy = 'officer-1',
): Promise<string[]> {
  const ids: string[] = [];
  for (const d of docs) {
    const id = newId('doc');
    const uri = `s3://car-loans-docs/${applicationId}/${id}.jpg${d.marker ?? ''}`;
    await db.insert(documents).values({ id, applicationId, type: d.type, uri, sha256: sha(uri), submittedBy });
    ids.push(id);
  }
  return ids;
}
