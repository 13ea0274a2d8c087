import { createHash, randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/db/client';
import { PiiCipher, keyRingFromConfig } from '../../src/db/pii';
import { documentRow, newApplicationRows } from '../../src/api/applicationRows';
import type { CreateApplicationBody } from '../../src/api/schemas/applications';
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
 * Inserts applications as the API does, with the rows built by the API's own newApplicationRows
 * (personal data encrypted with PiiCipher, hashed for look-ups; the vehicle and the documents beside
 * it), and answers the workflow input that goes with them. Defaults give an ordinary applicant whose every answer from the sandbox is favourable;
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

export async function seedApplication(db: Db, opts: SeedOptions = {}, cipher: PiiCipher = testCipher()): Promise<Seeded> {
  const applicationId = opts.applicationId ?? newId('app');
  const channel = opts.channel ?? 'branch';
  const condition = opts.vehicle?.condition ?? 'new';
  const base = condition === 'used' ? USED_DEFAULTS : NEW_DEFAULTS;
  const firstRegistrationDate = opts.vehicle?.firstRegistrationDate === undefined ? base.firstRegistrationDate : opts.vehicle.firstRegistrationDate;
  const dealerId = opts.dealerId === undefined ? (channel === 'dealer' ? 'D-100' : null) : opts.dealerId;
  const idNumber = opts.applicant?.idNumber ?? freshIdNumber();
  const phone = opts.applicant?.phone ?? freshPhone();
  const bankAccount = opts.applicant?.bankAccount === undefined ? '6222020200112233445' : opts.applicant.bankAccount;
  const submittedBy = opts.submittedBy ?? 'officer-1';
  const docTypes = opts.documents ?? requiredDocuments({ condition, channel });

  // The body an officer would have posted; the rows are built from it by the API's own function.
  const body: CreateApplicationBody = {
    channel,
    branchId: opts.branchId ?? 'BJ-001',
    ...(dealerId ? { dealerId } : {}),
    applicant: { name: opts.applicant?.name ?? '张三', idNumber, phone, monthlyIncomeFen: opts.applicant?.monthlyIncomeFen ?? 2_000_000 },
    vehicle: {
      vin: opts.vehicle?.vin ?? 'LFV2A21K2A3010006',
      make: opts.vehicle?.make ?? base.make,
      model: opts.vehicle?.model ?? base.model,
      year: opts.vehicle?.year ?? base.year,
      condition,
      energy: opts.vehicle?.energy ?? 'new_energy',
      usage: opts.vehicle?.usage ?? 'personal',
      priceFen: opts.vehicle?.priceFen ?? base.priceFen,
      mileageKm: opts.vehicle?.mileageKm ?? base.mileageKm,
      ...(firstRegistrationDate ? { firstRegistrationDate } : {}),
    },
    loan: {
      amountFen: opts.loan?.amountFen ?? (condition === 'used' ? 8_000_000 : 15_000_000),
      termMonths: (opts.loan?.termMonths ?? 36) as CreateApplicationBody['loan']['termMonths'],
      repaymentMethod: opts.loan?.repaymentMethod ?? 'equal_installment',
    },
    documents: docTypes.map((type, i) => documentInput(applicationId, `${type}-${i}`, type, opts.documentMarkers?.[type])),
  };
  const rows = newApplicationRows(cipher, { id: applicationId, body, submittedBy, submittedAtMs: Date.now() });

  if (opts.dealerAccount && dealerId) {
    await db
      .insert(dealers)
      .values({ id: dealerId, name: `Dealer ${dealerId}`, accountNumber: opts.dealerAccount, accountName: '北京某某汽车销售服务有限公司', bankCode: 'ICBC' })
      .onConflictDoUpdate({ target: dealers.id, set: { accountNumber: opts.dealerAccount } });
  }
  // The one field no API writes yet: the customer's own account, which the payout pays when on file.
  await db.insert(applicants).values({ ...rows.applicant, bankAccountEnc: bankAccount === null ? null : cipher.encrypt(bankAccount) });
  if (opts.blacklisted) {
    await db.insert(blacklist).values({ idNumberHash: rows.applicant.idNumberHash, reasonCode: 'FRAUD_SUSPECTED', listedBy: 'risk-officer-1' }).onConflictDoNothing();
  }
  await db.insert(applications).values(rows.application);
  await db.insert(vehicles).values(rows.vehicle);
  if (rows.documents.length > 0) await db.insert(documents).values(rows.documents);

  return {
    applicationId,
    applicantId: rows.applicant.id,
    idNumber,
    phone,
    documentIds: rows.documents.map((d) => d.id),
    input: rows.input,
  };
}

/** A document as an officer submits it (a URI, with a sandbox marker if any, and its SHA-256). */
function documentInput(applicationId: string, name: string, type: DocumentType, marker: string | undefined) {
  const uri = `s3://car-loans-docs/${applicationId}/${name}.jpg${marker ?? ''}`;
  return { type, uri, sha256: sha(uri) };
}

/** Stores more documents for an application (as the documents endpoint does) and answers their ids. */
export async function addDocuments(
  db: Db,
  applicationId: string,
  docs: { type: DocumentType; marker?: string | undefined }[],
  submittedBy = 'officer-1',
): Promise<string[]> {
  const rows = docs.map((d) => {
    const id = newId('doc');
    return documentRow(applicationId, id, documentInput(applicationId, id, d.type, d.marker), submittedBy);
  });
  if (rows.length > 0) await db.insert(documents).values(rows);
  return rows.map((r) => r.id);
}
