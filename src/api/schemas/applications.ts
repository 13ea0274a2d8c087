import {
  ALLOWED_TERM_MONTHS,
  CHANNELS,
  compareDates,
  DOCUMENT_TYPES,
  MOBILE_PATTERN,
  REPAYMENT_METHODS,
  RISK_GRADES,
  shanghaiDate,
  validateResidentId,
  VEHICLE_CONDITIONS,
  VEHICLE_ENERGIES,
  VEHICLE_USAGES,
  type ResidentIdError,
} from '../../domain';
import { z } from '../zod';
import { Fen, IsoDate, IsoDateTime, MAX_FEN, orNull, PositiveFen, StageSchema } from './common';

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

export const MobileNumber = z
  .string()
  .regex(MOBILE_PATTERN, 'a mobile number is 11 digits starting 13-19')
  .openapi({ example: '13800138000' });

export const Vin = z
  .string()
  .regex(/^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$/, 'a VIN is 17 characters from 0-9 and A-Z without I, O and Q')
  .openapi({ description: 'Vehicle identification number; a wrong check digit (position 9) is accepted and flagged for manual review', example: 'LFV2A21K2A3010006' });

export const TermMonths = z
  .int()
  .refine((v) => (ALLOWED_TERM_MONTHS as readonly number[]).includes(v), `must be one of ${ALLOWED_TERM_MONTHS.join(', ')}`)
  .openapi({ enum: [...ALLOWED_TERM_MONTHS], example: 36 });

export const DocumentInput = z
  .strictObject({
    type: z.enum(DOCUMENT_TYPES),
    uri: z
      .string()
      .max(2048)
      .regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, 'a URI such as s3://bucket/key.jpg')
      .openapi({ example: 's3://bucket/id-card.jpg' }),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 in hex (64 characters)')
      .openapi({ example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }),
  })
  .openapi('DocumentInput');

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
  if (typeof v.firstRegistrationDate === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v.firstRegistrationDate) && compareDates(v.firstRegistrationDate, todayInShanghai()) > 0) {
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
    branchId: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, - and _ (at most 32)').openapi({ example: 'BJ-001' }),
    dealerId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, - and _ (at most 32)')
      .optional()
      .openapi({ description: 'Required for the dealer channel', example: 'D-100' }),
    applicant: z
      .strictObject({
        name: z.string().min(1).max(64).openapi({ example: '张三' }),
        idNumber: ResidentIdNumber,
        phone: MobileNumber,
        monthlyIncomeFen: Fen,
      })
      .openapi('NewApplicant'),
    vehicle: z
      .strictObject({
        vin: Vin,
        make: z.string().min(1).max(64).openapi({ example: 'BYD' }),
        model: z.string().min(1).max(64).openapi({ example: 'Han' }),
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
    stage: StageSchema,
    flags: z.array(z.string()).openapi({ description: 'Flags raised at intake, e.g. VIN_CHECK_DIGIT_MISMATCH (manual review)' }),
  })
  .openapi('CreatedApplication');

// --------------------------------------------------------------------------------------------
// The application's state (every action answers with it) and the full record

export const PendingTaskSchema = z
  .object({
    kind: z.enum(['submit_documents', 'phone_verification', 'approval', 'sign_contract', 'register_collateral']),
    role: z.enum(['officer', 'verifier', 'approver', 'finance', 'collections', 'admin']),
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

export const PENDING_TASK_FILTERS = ['submit_documents', 'phone_verification', 'approval', 'sign_contract', 'register_collateral', 'none'] as const;

export const ListApplicationsQuery = z.strictObject({
  stage: StageSchema.optional(),
  pendingTask: z.enum(PENDING_TASK_FILTERS).optional().openapi({ description: '`none`: applications nobody has to act on' }),
  cursor: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/, 'an opaque cursor from nextCursor')
    .optional()
    .openapi({ description: 'nextCursor of the previous page' }),
  limit: z.coerce.number().int().min(1).max(100).optional().openapi({ type: 'integer', description: 'Page size, default 20, at most 100', example: 20 }),
});

export const ApplicationSummary = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    stage: StageSchema,
    pendingTask: z.string().nullable(),
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
    nextCursor: z.string().nullable().openapi({ description: 'Pass as cursor for the next page; null on the last page' }),
  })
  .openapi('ApplicationPage');

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
