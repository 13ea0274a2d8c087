import { REASON_CODES } from '../../domain';
import { EMERGENCY_REASON_CODES } from '../../workflows/actProof';
import { z } from '../zod';
import { FreeText, Formatted, Line, PastDateTime, PositiveFen, text } from './common';
import { addRuleIssues, DocumentInput, TermMonths, type RuleIssue } from './applications';

/**
 * Bodies of the human acts. Free text (notes, comment, reason) is audited in loan_events and never
 * sent to the workflow, whose history must stay free of anything a person typed.
 */
const Notes = () => FreeText(2000);
const Code = Formatted(/^[A-Z][A-Z0-9_]{1,63}$/, 'an upper-case code such as PHONE_RECENTLY_CHANGED', 64);

export const SubmitDocumentsBody = z
  .strictObject({ documents: z.array(DocumentInput).min(1).max(20) })
  .openapi('SubmitDocuments');

export const PhoneVerificationBody = z
  .strictObject({
    outcome: z.enum(['passed', 'failed', 'unreachable']),
    recordingRef: Line(128, { visible: true }).optional().openapi({ example: 'rec-123' }),
    checklist: z
      .strictObject({
        identityConfirmed: z.boolean(),
        incomeConfirmed: z.boolean(),
        purposeConfirmed: z.boolean(),
        anomalies: z.array(Code).max(20).optional().openapi({ description: 'Anomaly codes, e.g. PHONE_RECENTLY_CHANGED' }),
      })
      .openapi('PhoneChecklist'),
    notes: Notes().optional(),
  })
  .openapi('PhoneVerification');

/** reasonCode to reject or ask for information; offer changes only with approve (raw input, see createApplicationRules). */
export function decisionRules(raw: unknown): RuleIssue[] {
  if (!raw || typeof raw !== 'object') return [];
  const b = raw as Record<string, unknown>;
  const out: RuleIssue[] = [];
  if ((b.decision === 'reject' || b.decision === 'request_info') && !b.reasonCode) {
    out.push({ path: ['reasonCode'], message: `is required to ${b.decision === 'reject' ? 'reject' : 'ask for information'}` });
  }
  if (b.decision === 'reject' || b.decision === 'request_info') {
    for (const field of ['amountFen', 'termMonths', 'annualRateBps']) {
      if (b[field] !== undefined) out.push({ path: [field], message: 'may only be given with approve' });
    }
  }
  return out;
}

export const DecisionBody = z
  .strictObject({
    decision: z.enum(['approve', 'reject', 'request_info']),
    reasonCode: z.enum(REASON_CODES as [string, ...string[]]).optional().openapi({ description: 'Required to reject or ask for information' }),
    comment: Notes().optional(),
    amountFen: PositiveFen.optional().openapi({ description: 'Changes the offer (approve only)' }),
    termMonths: TermMonths.optional().openapi({ description: 'Changes the offer (approve only)' }),
    annualRateBps: z.int().min(0).max(10_000).optional().openapi({ description: 'Changes the offer (approve only)', example: 650 }),
  })
  .superRefine((body, ctx) => addRuleIssues(ctx, decisionRules(body)), { when: () => true })
  .openapi('Decision', { description: 'reasonCode is required for reject and request_info; amountFen, termMonths and annualRateBps only change the offer on approve' });

export const SignatureBody = z.strictObject({ signedAt: PastDateTime.optional() }).openapi('OnSiteSignature');

export const CollateralRegistrationBody = z
  .strictObject({
    registrationRef: Line(128, { visible: true }).openapi({ example: 'DJ-2026-000123' }),
    registeredAt: PastDateTime,
  })
  .openapi('CollateralRegistration');

export const WithdrawBody = z
  .strictObject({
    reason: Notes().optional(),
    reasonCode: Code.optional().openapi({ description: 'A short code, e.g. CUSTOMER_CHANGED_MIND' }),
  })
  .openapi('Withdraw');

/**
 * The emergency path (admins only): an engineer does an act in their own name with a reason code
 * and a reason, when the ordinary route cannot be used. The workflow applies its usual rules (four
 * eyes included), flags the run (EMERGENCY_ACT, the EmergencyAct search attribute) and records it.
 */
const emergency = {
  reasonCode: z.enum(EMERGENCY_REASON_CODES).openapi({ description: 'Why the ordinary route was not used' }),
  reason: text('multiline', { max: 2000, min: 10, visible: true }).openapi({ description: 'What happened and who asked for it (audit trail only)' }),
};
export const EmergencyActBody = z
  .discriminatedUnion('act', [
    z.strictObject({ act: z.literal('documentsSubmitted'), payload: z.strictObject({ documentIds: z.array(Formatted(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a document id (a UUID)', 36)).min(1).max(20) }), ...emergency }),
    z.strictObject({ act: z.literal('phoneVerificationCompleted'), payload: PhoneVerificationBody, ...emergency }),
    z.strictObject({ act: z.literal('approvalDecision'), payload: DecisionBody, ...emergency }),
    z.strictObject({ act: z.literal('contractSigned'), payload: SignatureBody, ...emergency }),
    z.strictObject({ act: z.literal('collateralRegistered'), payload: CollateralRegistrationBody, ...emergency }),
    z.strictObject({ act: z.literal('withdraw'), payload: WithdrawBody, ...emergency }),
  ])
  .openapi('EmergencyAct');

const sha = (c: string) => c.repeat(64);

export const ACTION_EXAMPLES = {
  emergency: {
    withdrawForCustomer: {
      summary: 'Withdraw while the branch system is down',
      value: { act: 'withdraw', reasonCode: 'API_OUTAGE', reason: 'Branch BJ-001 offline; customer withdrew by phone, ticket INC-4711', payload: { reasonCode: 'CUSTOMER_CHANGED_MIND' } },
    },
  },
  documents: {
    moreDocuments: {
      summary: 'A bank statement and a clearer ID card',
      value: {
        documents: [
          { type: 'bank_statement', uri: 's3://bucket/statement.pdf', sha256: sha('b') },
          { type: 'id_card', uri: 's3://bucket/id-card-2.jpg', sha256: sha('c') },
        ],
      },
    },
  },
  phoneVerification: {
    passed: {
      summary: 'Verified',
      value: {
        outcome: 'passed',
        recordingRef: 'rec-123',
        checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true },
        notes: '客户确认购车用途为自用',
      },
    },
    unreachable: {
      summary: 'No answer',
      value: { outcome: 'unreachable', checklist: { identityConfirmed: false, incomeConfirmed: false, purposeConfirmed: false } },
    },
  },
  decision: {
    approve: { summary: 'Approve as offered', value: { decision: 'approve', comment: 'OK' } },
    approveChanged: { summary: 'Approve a smaller amount', value: { decision: 'approve', amountFen: 14_000_000, termMonths: 36, annualRateBps: 650 } },
    reject: { summary: 'Reject', value: { decision: 'reject', reasonCode: 'INCOME_INSUFFICIENT', comment: '收入证明不足' } },
    requestInfo: { summary: 'Ask for more documents', value: { decision: 'request_info', reasonCode: 'DOCUMENTS_MISSING' } },
  },
  signature: {
    onSite: { summary: 'Signed on site', value: { signedAt: '2026-11-22T10:00:00+08:00' } },
    now: { summary: 'Signed now', value: {} },
  },
  collateralRegistration: {
    registered: { summary: 'Mortgage registered', value: { registrationRef: 'DJ-2026-000123', registeredAt: '2026-11-23T09:30:00+08:00' } },
  },
  withdraw: {
    changedMind: { summary: 'Customer withdrew', value: { reason: '客户决定不买车了', reasonCode: 'CUSTOMER_CHANGED_MIND' } },
  },
} as const;
