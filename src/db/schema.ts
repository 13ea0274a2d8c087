import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  date,
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
    /**
     * The pending task's clock and progress, mirrored for the work queues (null while nothing is
     * pending, and for runs started before the workflow mirrored them): since when, when it
     * escalates (SLA) and expires, whether it has escalated, and the approvals it needs and has.
     */
    pendingSince: timestamp('pending_since', { withTimezone: true, mode: 'date' }),
    slaAt: timestamp('sla_at', { withTimezone: true, mode: 'date' }),
    deadlineAt: timestamp('deadline_at', { withTimezone: true, mode: 'date' }),
    escalated: boolean('escalated').notNull().default(false),
    approvalsNeeded: integer('approvals_needed'),
    approvedBy: jsonb('approved_by').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    riskGrade: text('risk_grade'),
    loanId: text('loan_id'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /**
     * When some process first saw this application's workflow exist (the API or the reconciler
     * after starting it, the workflow's own first activity). Null: perhaps no workflow yet, which
     * the reconciler repairs (src/workflows/applicationReconciler.ts).
     */
    workflowStartedAt: timestamp('workflow_started_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    // Work queues page by (stage, pending task) in creation order.
    index('applications_queue_idx').on(t.stage, t.pendingTask, t.createdAt, t.id),
    index('applications_created_idx').on(t.createdAt, t.id),
    index('applications_applicant_idx').on(t.applicantId),
    // The supervisor's queue and the "SLA breached" filter look at open tasks by their SLA.
    index('applications_escalated_idx').on(t.slaAt, t.id).where(sql`escalated`),
    index('applications_sla_idx').on(t.slaAt, t.id).where(sql`pending_task is not null`),
    index('applications_branch_idx').on(t.branchId, t.stage),
    // The reconciler pages the applications nobody has seen a workflow of: a handful, not the table.
    index('applications_unstarted_idx').on(t.createdAt, t.id).where(sql`workflow_started_at is null`),
  ],
);

/**
 * Who is working on an application's pending task. A claim belongs to one task instance (its kind
 * and `since`): when the workflow moves on, the claim no longer applies. It lapses at `expires_at`
 * unless renewed. Written by the API only; every claim and release is also in loan_events.
 */
export const taskClaims = pgTable(
  'task_claims',
  {
    applicationId: text('application_id')
      .primaryKey()
      .references(() => applications.id),
    taskKind: text('task_kind').notNull(),
    taskSince: timestamp('task_since', { withTimezone: true, mode: 'date' }),
    claimedBy: text('claimed_by').notNull(),
    claimedAt: timestamp('claimed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('task_claims_claimant_idx').on(t.claimedBy, t.expiresAt)],
);

/**
 * The duplicate screen's one fact: for each person (keyed hash of the ID number) the one application
 * that may be open. The API claims it before it writes an application and the workflow's screen
 * confirms it; whoever does not hold the claim is the duplicate. A claim whose workflow nobody has
 * seen for ORPHAN_AFTER_MS is an orphan's and may be taken over, so an application whose workflow
 * does not exist never blocks the person. Written only by src/db/openApplications.ts.
 */
export const openApplications = pgTable('open_applications', {
  idNumberHash: text('id_number_hash').primaryKey(),
  applicationId: text('application_id').notNull().unique(),
  claimedAt: timestamp('claimed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  /** When the holder's workflow was seen to exist; from then on the claim is never taken over. */
  workflowSeenAt: timestamp('workflow_seen_at', { withTimezone: true, mode: 'date' }),
});

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
 * same keyed hash of the ID number as `applicants.id_number_hash` (`cipher.lookupHash('id_number', …)`,
 * as the API stores it): no ID number in clear here either.
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

// ---------------------------------------------------------------------------------------------
// Servicing (issue 7): loans, their instalments, repayments and the reminders sent about them.
// The database is the source of truth for what was paid; the loan-servicing workflow decides
// statuses and buckets from it and mirrors them here for the API and the reminder sweep.

const tz = { withTimezone: true, mode: 'date' } as const;

/** One disbursed loan (`L-<applicationId>`). No personal data: the phone is read via the applicant. */
export const loans = pgTable(
  'loans',
  {
    id: text('id').primaryKey(),
    applicationId: text('application_id')
      .notNull()
      .unique()
      .references(() => applications.id),
    applicantId: text('applicant_id')
      .notNull()
      .references(() => applicants.id),
    principalFen: fen('principal_fen').notNull(),
    annualRateBps: integer('annual_rate_bps').notNull(),
    aprBps: integer('apr_bps').notNull(),
    termMonths: integer('term_months').notNull(),
    repaymentMethod: text('repayment_method').notNull(),
    upfrontFeeFen: fen('upfront_fee_fen').notNull().default(0),
    disbursedAt: timestamp('disbursed_at', tz).notNull(),
    /** Asia/Shanghai calendar date of the disbursement: interest runs from here. */
    disbursementDate: date('disbursement_date', { mode: 'string' }).notNull(),
    transferId: text('transfer_id').notNull(),
    /** `active` | `closed` (mirror of the servicing workflow). */
    status: text('status').notNull().default('active'),
    /** Overdue bucket of the oldest unpaid instalment: M1 | M2 | M3 | M3+ | null. */
    bucket: text('bucket'),
    /** Money received beyond everything owed (refunded at closure). */
    unappliedFen: fen('unapplied_fen').notNull().default(0),
    collateralRegistrationOutstanding: boolean('collateral_registration_outstanding').notNull().default(false),
    collateralRegistrationRef: text('collateral_registration_ref'),
    collateralRegisteredAt: timestamp('collateral_registered_at', tz),
    closedAt: timestamp('closed_at', tz),
    /** `repaid` | `early_payoff`. */
    closedHow: text('closed_how'),
    /** The branch of the application (copied at booking, for the loan book). */
    branchId: text('branch_id'),
    /**
     * The servicing terms the loan was signed with (penalty, cost cap, allocation order, fee
     * schedule: ServicingTerms); loans booked before the ledger have the legacy terms.
     */
    servicingTerms: jsonb('servicing_terms').notNull(),
    // The ledger's position as last computed (the loan book reads it; the ledger is the truth).
    positionAsOf: date('position_as_of', { mode: 'string' }),
    outstandingPrincipalFen: fen('outstanding_principal_fen'),
    overdueFen: fen('overdue_fen').notNull().default(0),
    penaltyFen: fen('penalty_fen').notNull().default(0),
    daysPastDue: integer('days_past_due').notNull().default(0),
    scheduleVersion: integer('schedule_version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', tz).notNull().defaultNow(),
  },
  (t) => [
    index('loans_status_bucket_idx').on(t.status, t.bucket),
    index('loans_applicant_idx').on(t.applicantId),
    // The loan book pages by id within status, bucket and branch.
    index('loans_book_idx').on(t.status, t.bucket, t.branchId, t.id),
  ],
);

/** The repayment schedule with what has been paid towards each instalment. */
export const installments = pgTable(
  'installments',
  {
    loanId: text('loan_id')
      .notNull()
      .references(() => loans.id),
    seq: integer('seq').notNull(),
    periodStartDate: date('period_start_date', { mode: 'string' }).notNull(),
    dueDate: date('due_date', { mode: 'string' }).notNull(),
    principalFen: fen('principal_fen').notNull(),
    interestFen: fen('interest_fen').notNull(),
    totalFen: fen('total_fen').notNull(),
    openingBalanceFen: fen('opening_balance_fen').notNull(),
    closingBalanceFen: fen('closing_balance_fen').notNull(),
    paidFen: fen('paid_fen').notNull().default(0),
    /** scheduled | due | paid | overdue. `paid` is written with paid_fen in one transaction. */
    status: text('status').notNull().default('scheduled'),
    /** The schedule version the amounts come from (a prepayment re-amortises into a new one). */
    version: integer('version').notNull().default(1),
    /** Penalty interest owed on it and not yet paid, as last computed by the ledger. */
    penaltyFen: fen('penalty_fen').notNull().default(0),
    paidAt: timestamp('paid_at', tz),
    updatedAt: timestamp('updated_at', tz).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.loanId, t.seq] }),
    // The reminder sweep pages by (due_date, loan_id, seq) over unpaid instalments only: paid ones,
    // the vast majority over a loan's life, are not even in the index.
    index('installments_unpaid_due_idx').on(t.dueDate, t.loanId, t.seq).where(sql`status <> 'paid'`),
    index('installments_status_due_idx').on(t.status, t.dueDate),
  ],
);

/**
 * Every transaction of a loan's servicing ledger, in booking order (`seq`): money received
 * (repayments, prepayments: idempotent by the bank's reference), and the acts a second finance
 * user approved (reversals, waivers, refunds). Balances are never stored as truth: they are the
 * ledger (src/domain/ledger) over these rows. Append-only; written by src/activities/loans.ts.
 */
export const loanTransactions = pgTable(
  'loan_transactions',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    loanId: text('loan_id')
      .notNull()
      .references(() => loans.id),
    /** The ledger's id of the transaction, unique in the loan (`ref:<reference>`, `reversal:<reference>`, `waiver:<id>`, `refund:<id>`). */
    txnId: text('txn_id').notNull(),
    /** repayment | prepayment | reversal | waiver | refund */
    kind: text('kind').notNull(),
    /** The bank's payment reference of money received. */
    reference: text('reference'),
    amountFen: fen('amount_fen'),
    /** Asia/Shanghai date it takes effect on. */
    valueDate: date('value_date', { mode: 'string' }).notNull(),
    /** When the money arrived (money received). */
    paidAt: timestamp('paid_at', tz),
    /** Prepayment: reduce_installment | reduce_term. */
    mode: text('mode'),
    /** Waiver: penalty | interest | fee. */
    component: text('component'),
    /** Reversal: the txn_id of the money it takes out. */
    targetTxnId: text('target_txn_id'),
    reasonCode: text('reason_code'),
    /** Who booked it (finance user, `bank-feed`), and for four-eyes acts who approved it. */
    actor: text('actor').notNull(),
    approvedBy: text('approved_by'),
    /** The payment provider's refund id (refunds). */
    providerRef: text('provider_ref'),
    bookedAt: createdAt(),
  },
  (t) => [
    uniqueIndex('loan_transactions_txn_idx').on(t.loanId, t.txnId),
    // One bank reference is one payment, whatever kind.
    uniqueIndex('loan_transactions_reference_idx').on(t.loanId, t.reference).where(sql`reference is not null`),
    index('loan_transactions_loan_idx').on(t.loanId, t.seq),
  ],
);

/**
 * The schedule versions of a loan as the ledger computes them: version 1 at booking, one more for
 * every prepayment that re-amortised the principal (the lines of the whole schedule as it then
 * stood). Rewritten with the ledger's answer whenever a transaction is booked.
 */
export const scheduleVersions = pgTable(
  'schedule_versions',
  {
    loanId: text('loan_id')
      .notNull()
      .references(() => loans.id),
    version: integer('version').notNull(),
    /** origination | prepayment | payoff */
    reason: text('reason').notNull(),
    /** The loan_transactions.txn_id that made it (null for version 1). */
    createdBy: text('created_by'),
    effectiveDate: date('effective_date', { mode: 'string' }).notNull(),
    fromSeq: integer('from_seq').notNull(),
    mode: text('mode'),
    principalFen: fen('principal_fen').notNull(),
    /** [{ seq, periodStartDate, dueDate, principalFen, interestFen, totalFen, openingBalanceFen, closingBalanceFen }] */
    lines: jsonb('lines').notNull(),
    recordedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.loanId, t.version] })],
);

/**
 * Each reminder text, recorded BEFORE it is sent (status pending) and marked sent after. The
 * business key (instalment, kind, day) is unique, so a reminder is claimed once however often the
 * sweep runs; `message_id` is the SMS gateway's dedupe key, so a resend after a crash between the
 * send and the mark is answered `duplicate` instead of texting twice. seq 0 = a loan-level reminder
 * (collateral registration).
 */
export const reminders = pgTable(
  'reminders',
  {
    messageId: text('message_id').primaryKey(),
    loanId: text('loan_id')
      .notNull()
      .references(() => loans.id),
    seq: integer('seq').notNull(),
    /** upcoming_3d | due_today | overdue_M1 | overdue_M2 | collateral_registration … */
    kind: text('kind').notNull(),
    /** The day the reminder is owed from (for an overdue bucket: the bucket's first day). */
    remindOn: date('remind_on', { mode: 'string' }).notNull(),
    template: text('template').notNull(),
    /** The exact text, fixed at claim time so a resend is byte-identical (the gateway compares). */
    text: text('text').notNull(),
    amountFen: fen('amount_fen'),
    /** pending | sent | rejected */
    status: text('status').notNull().default('pending'),
    providerMessageId: text('provider_message_id'),
    /** Gateway code of a rejection, or `duplicate` when the gateway had it already. */
    code: text('code'),
    /** Who claimed it: `sweep` or `servicing`. */
    source: text('source').notNull(),
    createdAt: createdAt(),
    sentAt: timestamp('sent_at', tz),
  },
  (t) => [
    uniqueIndex('reminders_once_idx').on(t.loanId, t.seq, t.kind, t.remindOn),
    index('reminders_pending_idx').on(t.remindOn).where(sql`status = 'pending'`),
  ],
);

// ---------------------------------------------------------------------------------------------
// Auto-debit (代扣, issue 19): the withholding mandate of a loan's repayment card and every debit
// asked under it. The card number is personal data: encrypted, with a keyed hash to find it and
// the last four digits to show.

/** A mandate the channel registered for a loan; at most one `active` per loan. */
export const loanMandates = pgTable(
  'loan_mandates',
  {
    /** The channel's mandate id. */
    mandateId: text('mandate_id').primaryKey(),
    loanId: text('loan_id')
      .notNull()
      .references(() => loans.id),
    bankCode: text('bank_code').notNull(),
    cardLast4: text('card_last4').notNull(),
    cardNumberEnc: text('card_number_enc').notNull(),
    cardNumberHash: text('card_number_hash').notNull(),
    /** active | replaced | revoked */
    status: text('status').notNull().default('active'),
    registeredBy: text('registered_by').notNull(),
    createdAt: createdAt(),
    endedAt: timestamp('ended_at', tz),
    endedBy: text('ended_by'),
  },
  (t) => [
    uniqueIndex('loan_mandates_one_active_idx').on(t.loanId).where(sql`status = 'active'`),
    index('loan_mandates_card_hash_idx').on(t.cardNumberHash),
  ],
);

/** One debit attempt of one instalment, keyed as the channel knows it (src/domain/autoDebit.ts). */
export const debitAttempts = pgTable(
  'debit_attempts',
  {
    /** `auto-debit:<loanId>:<seq>:<attempt>`, the channel's idempotency key. */
    idempotencyKey: text('idempotency_key').primaryKey(),
    loanId: text('loan_id')
      .notNull()
      .references(() => loans.id),
    seq: integer('seq').notNull(),
    attempt: integer('attempt').notNull(),
    /** The Asia/Shanghai date the attempt was made for. */
    onDate: date('on_date', { mode: 'string' }).notNull(),
    mandateId: text('mandate_id')
      .notNull()
      .references(() => loanMandates.mandateId),
    amountFen: fen('amount_fen').notNull(),
    /** requested (no answer yet) | succeeded | pending | failed */
    status: text('status').notNull().default('requested'),
    /** The bank's answer when failed (insufficient_funds, account_frozen …). */
    failureCode: text('failure_code'),
    debitId: text('debit_id'),
    createdAt: createdAt(),
    answeredAt: timestamp('answered_at', tz),
  },
  (t) => [
    uniqueIndex('debit_attempts_once_idx').on(t.loanId, t.seq, t.attempt),
    index('debit_attempts_open_idx').on(t.onDate).where(sql`status in ('requested', 'pending')`),
  ],
);
