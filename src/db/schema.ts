import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/*
 * One schema for PostgreSQL and PGlite. Money is integer fen (bigint read as a JS number: exact up
 * to 9e15 fen, far beyond any car loan). Personal data is stored only encrypted (`*_enc`, AES-GCM
 * with a key id prefix so keys can rotate) with a keyed hash beside it for look-ups.
 */

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const fen = (name: string) => bigint(name, { mode: 'number' });

export const applicants = pgTable(
  'applicants',
  {
    id: text('id').primaryKey(),
    nameEnc: text('name_enc').notNull(),
    idNumberEnc: text('id_number_enc').notNull(),
    phoneEnc: text('phone_enc').notNull(),
    bankAccountEnc: text('bank_account_enc'),
    idNumberHash: text('id_number_hash').notNull(),
    phoneHash: text('phone_hash').notNull(),
    monthlyIncomeFen: fen('monthly_income_fen').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('applicants_id_number_hash_idx').on(t.idNumberHash), index('applicants_phone_hash_idx').on(t.phoneHash)],
);

export const applications = pgTable(
  'applications',
  {
    id: text('id').primaryKey(),
    workflowId: text('workflow_id').notNull().unique(),
    applicantId: text('applicant_id')
      .notNull()
      .references(() => applicants.id),
    channel: text('channel').notNull(),
    branchId: text('branch_id').notNull(),
    dealerId: text('dealer_id'),
    submittedBy: text('submitted_by').notNull(),
    amountFen: fen('amount_fen').notNull(),
    termMonths: integer('term_months').notNull(),
    repaymentMethod: text('repayment_method').notNull(),
    /** Mirror of the workflow's stage for work queues; the workflow is the source of truth. */
    stage: text('stage').notNull().default('intake'),
    pendingTask: text('pending_task'),
    riskGrade: text('risk_grade'),
    loanId: text('loan_id'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    // Work queues page by (stage, pending task) in creation order.
    index('applications_queue_idx').on(t.stage, t.pendingTask, t.createdAt, t.id),
    index('applications_created_idx').on(t.createdAt, t.id),
    index('applications_applicant_idx').on(t.applicantId),
  ],
);

export const vehicles = pgTable('vehicles', {
  id: text('id').primaryKey(),
  applicationId: text('application_id')
    .notNull()
    .unique()
    .references(() => applications.id),
  vin: text('vin').notNull(),
  make: text('make').notNull(),
  model: text('model').notNull(),
  year: integer('year').notNull(),
  condition: text('condition').notNull(),
  energy: text('energy').notNull(),
  usage: text('usage').notNull(),
  priceFen: fen('price_fen').notNull(),
  mileageKm: integer('mileage_km').notNull(),
  firstRegistrationDate: text('first_registration_date'),
});

export const documents = pgTable(
  'documents',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id')
      .notNull()
      .references(() => applications.id),
    type: text('type').notNull(),
    uri: text('uri').notNull(),
    sha256: text('sha256').notNull(),
    ocrStatus: text('ocr_status').notNull().default('pending'),
    ocrResult: jsonb('ocr_result'),
    submittedBy: text('submitted_by').notNull(),
    submittedAt: createdAt(),
  },
  (t) => [uniqueIndex('documents_app_sha_idx').on(t.applicationId, t.type, t.sha256)],
);

/**
 * Append-only audit trail: every stage change, human act, read of full personal data and API write.
 * `eventKey` makes recording idempotent (activities retry). A trigger refuses UPDATE and DELETE.
 */
export const loanEvents = pgTable(
  'loan_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    eventKey: text('event_key').notNull().unique(),
    applicationId: text('application_id'),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    stage: text('stage'),
    data: jsonb('data').notNull().default(sql`'{}'::jsonb`),
    before: jsonb('before'),
    after: jsonb('after'),
    occurredAt: createdAt(),
  },
  (t) => [index('loan_events_application_idx').on(t.applicationId, t.seq)],
);

/** Idempotency-Key records of the API: the first answer is replayed for a repeat with the same body. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: text('status').notNull().default('in_progress'),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    responseHeaders: jsonb('response_headers'),
    createdAt: createdAt(),
    completedAt: timestamp('completed_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] })],
);

/**
 * Applicants the lender will not lend to (fraud, court enforcement, internal decisions), keyed by the
 * same keyed hash of the ID number as `applicants.id_number_hash`: no ID number in clear here either.
 */
export const blacklist = pgTable('blacklist', {
  idNumberHash: text('id_number_hash').primaryKey(),
  /** A domain reason code, e.g. FRAUD_SUSPECTED. */
  reasonCode: text('reason_code').notNull(),
  listedBy: text('listed_by').notNull(),
  listedAt: createdAt(),
});

/**
 * Dealers the lender pays for new cars bought through them. A dealer's settlement account is the
 * dealer's business data, not personal data, so it is stored in clear.
 */
export const dealers = pgTable('dealers', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  accountNumber: text('account_number').notNull(),
  accountName: text('account_name').notNull(),
  bankCode: text('bank_code').notNull(),
  createdAt: createdAt(),
});
