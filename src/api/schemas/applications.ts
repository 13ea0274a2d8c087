import {
  ALLOWED_TERM_MONTHS,
  CHANNELS,
  compareDates,
  DOCUMENT_TYPES,
  isValidDate,
  MOBILE_PATTERN,
  REPAYMENT_METHODS,
  RISK_GRADES,
  STAGES,
  shanghaiDate,
  validateResidentId,
  VEHICLE_CONDITIONS,
  VEHICLE_ENERGIES,
  VEHICLE_USAGES,
  type ResidentIdError,
} from '../../domain';
import type { FieldError } from '../problem';
import { STAFF_ROLES } from '../auth';
import { QUEUE_SORTS } from '../workQueue';
import { z } from '../zod';
import { Fen, Formatted, IsoDate, IsoDateTime, Line, MAX_FEN, orNull, PositiveFen, ProblemSchema, StageSchema, text } from './common';

const ID_NUMBER_MESSAGES: Record<ResidentIdError, string> = {
  FORMAT: 'a resident ID number is 17 digits followed by a digit or X',
  REGION: 'the first two digits are not a province code',
  BIRTH_DATE: 'digits 7-14 are not a real birth date',
  BIRTH_DATE_IN_FUTURE: 'the birth date is in the future',
  CHECK_DIGIT: 'the check character does not match (GB 11643, ISO 7064 MOD 11-2)',
};

const todayInShanghai = () => shanghaiDate(Date.now());

/** GB 11643: format, province, real birth date, check character. The message never echoes the number. */
export const ResidentIdNumber = z
  .string()
  .max(18, ID_NUMBER_MESSAGES.FORMAT)
  .superRefine((value, ctx) => {
    const result = validateResidentId(value, todayInShanghai());
    if (!result.valid) ctx.addIssue({ code: 'custom', message: ID_NUMBER_MESSAGES[result.error] });
  })
  .openapi({ description: 'Resident ID number (GB 11643, check character verified)', pattern: '^\\d{17}[\\dXx]$', example: '11010519491231002X' });

export const MobileNumber = Formatted(MOBILE_PATTERN, 'a mobile number is 11 digits starting 13-19', 11).openapi({ example: '13800138000' });

export const Vin = Formatted(/^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$/, 'a VIN is 17 characters from 0-9 and A-Z without I, O and Q', 17).openapi({ description: 'Vehicle identification number; a wrong check digit (position 9) is accepted and flagged for manual review', example: 'LFV2A21K2A3010006' });

export const TermMonths = z
  .int()
  .refine((v) => (ALLOWED_TERM_MONTHS as readonly number[]).includes(v), `must be one of ${ALLOWED_TERM_MONTHS.join(', ')}`)
  .openapi({ enum: [...ALLOWED_TERM_MONTHS], example: 36 });

/**
 * Where a document is: `s3://bucket/key` or `https://host/path`, nothing else (no file:, no http:,
 * no credentials in the URI). Which buckets and hosts is configuration (DOCUMENT_URI_HOSTS, checked
 * by `documentUriErrors`): the OCR provider fetches what this names, so a URI must never send it to
 * the cloud metadata address or the intranet.
 */
export const DocumentUri = Formatted(
  /^(s3:\/\/[A-Za-z0-9.-]+|https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)([/?#][^\s\\]*)?$/,
  'must be an s3:// or https:// address of the document, such as s3://bucket/id-card.jpg',
  2048,
).openapi({ description: 's3://<bucket>/<key> or https://<host>/<path>, to a bucket or host the configuration allows (DOCUMENT_URI_HOSTS)', example: 's3://bucket/id-card.jpg' });

export const DocumentInput = z
  .strictObject({
    type: z.enum(DOCUMENT_TYPES),
    uri: DocumentUri,
    sha256: Formatted(/^[0-9a-fA-F]{64}$/, 'a SHA-256 in hex (64 characters)', 64).openapi({
      example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    }),
  })
  .openapi('DocumentInput');

/** Is this (well-formed) document URI's bucket or host one the configuration allows? */
export function documentUriAllowed(uri: string, allowed: readonly string[]): boolean {
  const m = /^(s3|https):\/\/([A-Za-z0-9.-]+)(:\d{1,5})?(?:[/?#]|$)/.exec(uri);
  if (!m) return false;
  const [, scheme, rawHost, port] = m;
  if (scheme === 's3' && port) return false;
  const host = (rawHost as string).toLowerCase();
  return allowed.some((entry) => {
    const [entryScheme, pattern] = entry.split('://') as [string, string];
    if (entryScheme !== scheme) return false;
    if (pattern === '*') return scheme === 's3';
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    return host === pattern;
  });
}

/** The documents whose URI points to a bucket or host outside DOCUMENT_URI_HOSTS. */
export function documentUriErrors(docs: readonly { uri: string }[] | undefined, allowed: readonly string[], path: (string | number)[] = ['documents']): FieldError[] {
  return (docs ?? []).flatMap((d, i) =>
    documentUriAllowed(d.uri, allowed)
      ? []
      : [{ pointer: `#/${[...path, i, 'uri'].join('/')}`, in: 'body' as const, code: 'host_not_allowed', message: 'points to a bucket or host documents may not come from (DOCUMENT_URI_HOSTS)' }],
  );
}

const currentYear = () => Number(todayInShanghai().slice(0, 4));

/** A rule across fields: a path and a message. */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

export function addRuleIssues(ctx: { addIssue(i: { code: 'custom'; path: (string | number)[]; message: string }): void }, issues: RuleIssue[]): void {
  for (const i of issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
}

/**
 * The rules of a new application that span fields. They read the raw input defensively: zod skips
 * refinements once a field has a hard type error, so the pipeline also runs them on the raw body
 * and every bad field is named in one answer.
 */
export function createApplicationRules(raw: unknown): RuleIssue[] {
  const out: RuleIssue[] = [];
  if (!raw || typeof raw !== 'object') return out;
  const b = raw as { channel?: unknown; dealerId?: unknown; vehicle?: unknown; loan?: unknown };
  if (b.channel === 'dealer' && !b.dealerId) out.push({ path: ['dealerId'], message: 'is required for the dealer channel' });
  const v = (b.vehicle && typeof b.vehicle === 'object' ? b.vehicle : {}) as { condition?: unknown; firstRegistrationDate?: unknown; year?: unknown; priceFen?: unknown };
  if (v.condition === 'used' && !v.firstRegistrationDate) {
    out.push({ path: ['vehicle', 'firstRegistrationDate'], message: 'is required for a used car' });
  }
  if (typeof v.firstRegistrationDate === 'string' && isValidDate(v.firstRegistrationDate) && compareDates(v.firstRegistrationDate, todayInShanghai()) > 0) {
    out.push({ path: ['vehicle', 'firstRegistrationDate'], message: 'is in the future' });
  }
  if (typeof v.year === 'number' && v.year > currentYear() + 1) out.push({ path: ['vehicle', 'year'], message: 'is more than a year ahead' });
  const loan = (b.loan && typeof b.loan === 'object' ? b.loan : {}) as { amountFen?: unknown };
  if (typeof v.priceFen === 'number' && typeof loan.amountFen === 'number' && loan.amountFen > v.priceFen) {
    out.push({ path: ['loan', 'amountFen'], message: 'is more than the price of the vehicle' });
  }
  return out;
}

export const CreateApplicationBody = z
  .strictObject({
    channel: z.enum(CHANNELS),
    branchId: Formatted(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, - and _ (at most 32)', 32).openapi({ example: 'BJ-001' }),
    dealerId: Formatted(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, - and _ (at most 32)', 32)
      .optional()
      .openapi({ description: 'Required for the dealer channel', example: 'D-100' }),
    applicant: z
      .strictObject({
        name: text('name', { max: 64 }).openapi({ description: 'As on the ID card: at least one letter, no control or invisible formatting characters', example: '张三' }),
        idNumber: ResidentIdNumber,
        phone: MobileNumber,
        monthlyIncomeFen: Fen,
      })
      .openapi('NewApplicant'),
    vehicle: z
      .strictObject({
        vin: Vin,
        make: Line(64, { visible: true }).openapi({ example: 'BYD' }),
        model: Line(64, { visible: true }).openapi({ example: 'Han' }),
        year: z.int().min(1980).max(2200).openapi({ example: 2025 }),
        condition: z.enum(VEHICLE_CONDITIONS),
        energy: z.enum(VEHICLE_ENERGIES),
        usage: z.enum(VEHICLE_USAGES),
        priceFen: PositiveFen,
        mileageKm: z.int().min(0).max(5_000_000).openapi({ example: 0 }),
        firstRegistrationDate: IsoDate.optional().openapi({ description: 'Required for used cars' }),
      })
      .openapi('NewVehicle'),
    loan: z
      .strictObject({
        amountFen: PositiveFen,
        termMonths: TermMonths,
        repaymentMethod: z.enum(REPAYMENT_METHODS),
      })
      .openapi('LoanRequest'),
    documents: z.array(DocumentInput).max(20).optional(),
  })
  .superRefine((body, ctx) => addRuleIssues(ctx, createApplicationRules(body)), { when: () => true })
  .openapi('CreateApplication', {
    description: 'A new application. `dealerId` is required for the dealer channel, `vehicle.firstRegistrationDate` for used cars.',
  });
export type CreateApplicationBody = z.infer<typeof CreateApplicationBody>;

export const CreatedApplication = z
  .object({
    id: z.string(),
    workflowId: z.string().openapi({ example: 'loan-application-a1b2c3d4-0000-4000-8000-000000000001' }),
    stage: StageSchema.openapi({ description: '`intake`, or `rejected` when the intake screen declined the applicant (blacklist)' }),
    outcomeReason: z.string().optional().openapi({ description: 'Why it was rejected at intake: `BLACKLISTED`' }),
    flags: z.array(z.string()).openapi({ description: 'Flags raised at intake, e.g. VIN_CHECK_DIGIT_MISMATCH (manual review)' }),
  })
  .openapi('CreatedApplication');

export const DuplicateApplicationProblem = ProblemSchema.extend({
  openApplicationId: z.string().optional().openapi({ description: 'The open application of the same applicant (`code: DUPLICATE_APPLICATION`)' }),
}).openapi('DuplicateApplicationProblem', { description: 'RFC 9457 problem details; a duplicate names the open application' });

// --------------------------------------------------------------------------------------------
// The application's state (every action answers with it) and the full record

export const PendingTaskSchema = z
  .object({
    kind: z.enum(['submit_documents', 'phone_verification', 'approval', 'sign_contract', 'register_collateral']),
    role: z.enum(STAFF_ROLES),
    since: z.string(),
    deadline: z.string(),
    slaAt: z.string().optional(),
    escalated: z.boolean().optional(),
    attempt: z.int().optional(),
    approvalsNeeded: z.int().optional(),
    approvedBy: z.array(z.string()).optional(),
  })
  .openapi('PendingTask');

export const OfferSchema = z
  .object({
    amountFen: Fen,
    termMonths: z.int(),
    repaymentMethod: z.enum(REPAYMENT_METHODS),
    annualRateBps: z.int(),
    aprBps: z.int().openapi({ description: 'APR on an IRR basis, fees included (PBOC [2021] No. 3)' }),
    monthlyPaymentFen: Fen,
    upfrontFeeFen: Fen.optional(),
  })
  .openapi('Offer');

export const DecisionRecordSchema = z
  .object({
    actor: z.string(),
    decision: z.enum(['approve', 'reject', 'request_info', 'auto_decline']),
    reasonCode: z.string().optional(),
    at: z.string(),
    counted: z.boolean(),
  })
  .openapi('DecisionRecord');

export const ApplicationState = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    stage: StageSchema,
    pendingTask: orNull(PendingTaskSchema),
    offer: orNull(OfferSchema),
    loanId: z.string().nullable(),
    riskGrade: orNull(z.enum(RISK_GRADES)),
    requiresFourEyes: z.boolean().nullable(),
    decisions: z.array(DecisionRecordSchema),
    flags: z.array(z.string()),
    stageHistory: z.array(z.object({ stage: StageSchema, at: z.string() })),
    outcomeReason: z.string().nullable(),
    missingDocuments: z.array(z.enum(DOCUMENT_TYPES)).openapi({ description: 'Required documents not yet received' }),
    envelopeId: z.string().nullable().openapi({ description: 'The e-signature envelope of the contract, once sent' }),
    live: z.boolean().openapi({ description: 'True when the fields come from the running workflow; false when it did not answer and the stored mirror is shown' }),
  })
  .openapi('ApplicationState');
export type ApplicationState = z.infer<typeof ApplicationState>;

export const ApplicantView = z
  .object({
    name: z.string(),
    idNumber: z.string(),
    phone: z.string(),
    monthlyIncomeFen: Fen,
    masked: z.array(z.enum(['name', 'idNumber', 'phone'])).openapi({ description: 'The fields shown masked for your role' }),
  })
  .openapi('ApplicantView', { description: 'Personal data, masked unless your role needs the full value (every full read is audited)' });

export const ApplicationDetail = ApplicationState.extend({
  channel: z.enum(CHANNELS),
  branchId: z.string(),
  dealerId: z.string().nullable(),
  submittedBy: z.string(),
  createdAt: z.string(),
  loan: z.object({ amountFen: Fen, termMonths: z.int(), repaymentMethod: z.enum(REPAYMENT_METHODS) }),
  applicant: ApplicantView,
  vehicle: z.object({
    vin: z.string(),
    make: z.string(),
    model: z.string(),
    year: z.int(),
    condition: z.enum(VEHICLE_CONDITIONS),
    energy: z.enum(VEHICLE_ENERGIES),
    usage: z.enum(VEHICLE_USAGES),
    priceFen: Fen,
    mileageKm: z.int(),
    firstRegistrationDate: z.string().nullable(),
  }),
  documents: z.array(
    z.object({ id: z.string(), type: z.enum(DOCUMENT_TYPES), uri: z.string(), sha256: z.string(), ocrStatus: z.string(), submittedAt: z.string() }),
  ),
}).openapi('ApplicationDetail');
export type ApplicationDetail = z.infer<typeof ApplicationDetail>;

export const PENDING_TASK_KINDS = ['submit_documents', 'phone_verification', 'approval', 'sign_contract', 'register_collateral'] as const;
export const PENDING_TASK_FILTERS = [...PENDING_TASK_KINDS, 'none'] as const;

/**
 * A query parameter that may be repeated (`stage=approval&stage=signing`) or comma-separated
 * (`stage=approval,signing`): either way a list of allowed values.
 */
function manyOf<T extends readonly [string, ...string[]]>(values: T, description: string) {
  return z
    .preprocess(
      (v) => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(',').filter(Boolean) : [x]))),
      z.array(z.enum(values)).min(1).max(20).optional(),
    )
    .openapi({ description: `${description} Repeat the parameter or separate values with commas for several (any of them).`, type: 'array', items: { type: 'string', enum: [...values] } });
}

const flag = (description: string) => z.enum(['true', 'false']).transform((v) => v === 'true').optional().openapi({ type: 'boolean', description });

const STAFF_FILTER = z.string().regex(/^[A-Za-z0-9._@:-]{1,128}$/, 'a staff id, or me');
const BRANCH = /^[A-Za-z0-9_-]{1,32}$/;
const Branch = z.string().regex(BRANCH, 'letters, digits, - and _ (at most 32)');

export const ListApplicationsQuery = z.strictObject({
  stage: manyOf(STAGES, 'Stages to include.'),
  pendingTask: manyOf(PENDING_TASK_FILTERS, 'Pending tasks to include; `none`: applications nobody has to act on.'),
  branchId: z
    .preprocess((v) => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(',').filter(Boolean) : [x]))), z.array(Branch).min(1).max(20).optional())
    .openapi({ description: 'Branches to include (e.g. DEMO-001, the branch of `npm run demo`). Repeat or separate with commas.', type: 'array', items: { type: 'string', pattern: BRANCH.source } }),
  riskGrade: manyOf(RISK_GRADES, 'Risk grades to include (A best … E).'),
  escalated: flag('Only tasks that passed their SLA and went to a supervisor (true), or only those that did not (false).'),
  slaBreached: flag('Only open tasks whose SLA time has passed (true), or only those within it (false).'),
  assignee: STAFF_FILTER.or(z.literal('none')).optional().openapi({ description: 'Who has claimed the task: a staff id, `me`, or `none` for unclaimed tasks.' }),
  approvedBy: STAFF_FILTER.optional().openapi({ description: 'Applications this approver (a staff id or `me`) has already approved: four-eyes cases waiting for someone else.' }),
  sort: z.enum(QUEUE_SORTS).optional().openapi({ description: 'Order: `createdAt` (default, oldest first), `slaAt` (soonest SLA first), `deadline`, `pendingSince`, `amountFen`; a leading `-` reverses. Tasks without the field come last.' }),
  cursor: Formatted(/^[A-Za-z0-9_-]+$/, 'is not a cursor this API gave out: pass nextCursor of the previous page', 512)
    .optional()
    .openapi({ description: 'nextCursor of the previous page (with the same sort and filters)' }),
  limit: z.coerce.number().int().min(1).max(100).optional().openapi({ type: 'integer', minimum: 1, maximum: 100, description: 'Page size, default 20, at most 100', example: 20 }),
});

export const EscalationsQuery = ListApplicationsQuery.pick({ pendingTask: true, branchId: true, assignee: true, cursor: true, limit: true });

export const ClaimSchema = z
  .object({
    claimedBy: z.string(),
    claimedAt: z.string(),
    expiresAt: z.string().openapi({ description: 'The claim lapses then unless renewed (claiming again renews it)' }),
  })
  .openapi('Claim');

export const QueueTask = z
  .object({
    kind: z.enum(PENDING_TASK_KINDS),
    role: z.enum(STAFF_ROLES).nullable(),
    since: z.string().nullable(),
    slaAt: z.string().nullable().openapi({ description: 'When it escalates to a supervisor (null: no SLA, or a run started before the queues mirrored it)' }),
    deadline: z.string().nullable().openapi({ description: 'When the application expires if nobody acts' }),
    escalated: z.boolean(),
    slaBreached: z.boolean(),
    claim: orNull(ClaimSchema),
    approvals: orNull(
      z
        .object({
          needed: z.int(),
          given: z.int(),
          approvedBy: z.array(z.string()),
          approvedByMe: z.boolean().openapi({ description: 'You approved already: four eyes need someone else' }),
        })
        .openapi('ApprovalProgress'),
    ),
  })
  .openapi('QueueTask');

export const ApplicationSummary = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    stage: StageSchema,
    pendingTask: z.string().nullable(),
    task: orNull(QueueTask),
    channel: z.enum(CHANNELS),
    branchId: z.string(),
    dealerId: z.string().nullable(),
    amountFen: Fen,
    termMonths: z.int(),
    riskGrade: z.string().nullable(),
    loanId: z.string().nullable(),
    submittedBy: z.string(),
    createdAt: z.string(),
  })
  .openapi('ApplicationSummary');

export const ApplicationPage = z
  .object({
    items: z.array(ApplicationSummary),
    total: z.int().openapi({ description: 'How many applications match the filters (all pages)' }),
    nextCursor: z.string().nullable().openapi({ description: 'Pass as cursor for the next page; null on the last page' }),
  })
  .openapi('ApplicationPage');

export const ClaimResult = z
  .object({
    applicationId: z.string(),
    task: z.enum(PENDING_TASK_KINDS).nullable(),
    claim: orNull(ClaimSchema),
  })
  .openapi('ClaimResult');

export const LoanEventSchema = z
  .object({
    seq: z.int(),
    at: z.string(),
    kind: z.string().openapi({ description: 'stage_entered, application_created, approval_decision, phone_verification_completed, escalated, act_refused, task_claimed, pii_read, …' }),
    actor: z.string().openapi({ description: 'Staff id, `system`, `customer` or a provider' }),
    stage: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    before: z.record(z.string(), z.unknown()).nullable(),
    after: z.record(z.string(), z.unknown()).nullable(),
    withheld: z.array(z.string()).openapi({ description: 'Free-text fields (notes, comment, reason) your role does not see, shown as null' }),
  })
  .openapi('LoanEvent');

export const LoanEventPage = z
  .object({
    applicationId: z.string(),
    items: z.array(LoanEventSchema),
    nextCursor: z.string().nullable(),
  })
  .openapi('LoanEventPage');

export const LoanEventsQuery = z.strictObject({
  cursor: z.string().regex(/^\d{1,18}$/, 'an opaque cursor from nextCursor').optional().openapi({ description: 'nextCursor of the previous page' }),
  limit: z.coerce.number().int().min(1).max(200).optional().openapi({ type: 'integer', description: 'Page size, default 50, at most 200', example: 50 }),
});

export const CREATE_APPLICATION_EXAMPLES = {
  newCarBranch: {
    summary: 'New car at a branch',
    value: {
      channel: 'branch',
      branchId: 'BJ-001',
      applicant: { name: '张三', idNumber: '11010519491231002X', phone: '13800138000', monthlyIncomeFen: 2_000_000 },
      vehicle: {
        vin: 'LFV2A21K2A3010006',
        make: 'BYD',
        model: 'Han',
        year: 2025,
        condition: 'new',
        energy: 'new_energy',
        usage: 'personal',
        priceFen: 25_000_000,
        mileageKm: 0,
      },
      loan: { amountFen: 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment' },
      documents: [
        { type: 'id_card', uri: 's3://bucket/id-card.jpg', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
        { type: 'driver_license', uri: 's3://bucket/licence.jpg', sha256: '60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752' },
        { type: 'income_proof', uri: 's3://bucket/income.pdf', sha256: 'fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13' },
        { type: 'purchase_contract', uri: 's3://bucket/contract.pdf', sha256: 'a4e624d686e03ed2767c0abd85c14426b0b1157d2ce81d27bb4fe4f6f01d688a' },
      ],
    },
  },
  usedCarDealer: {
    summary: 'Used car through a dealer',
    value: {
      channel: 'dealer',
      branchId: 'SH-002',
      dealerId: 'D-100',
      applicant: { name: '李四', idNumber: '110105198506151236', phone: '13912345678', monthlyIncomeFen: 1_500_000 },
      vehicle: {
        vin: '1M8GDM9AXKP042788',
        make: 'Toyota',
        model: 'Camry',
        year: 2021,
        condition: 'used',
        energy: 'conventional',
        usage: 'personal',
        priceFen: 12_000_000,
        mileageKm: 45_000,
        firstRegistrationDate: '2021-05-01',
      },
      loan: { amountFen: 8_000_000, termMonths: 24, repaymentMethod: 'equal_principal' },
    },
  },
} as const;

export { IsoDateTime, MAX_FEN };
