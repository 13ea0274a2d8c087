import { maskIdNumber, maskMobile, maskName, isStage, type Stage } from '../domain';
import { loanEventKind } from '../contracts/loanEvents';
import type { applications, loanEvents } from '../db/schema';
import type { LoanState, StaffRole } from '../workflows/messages';
import type { Staff } from './auth';
import type { ApplicationState } from './schemas/applications';

export type ApplicationRow = typeof applications.$inferSelect;
export type PiiField = 'name' | 'idNumber' | 'phone';

/**
 * Which personal fields a role sees in full. The verifier calls the applicant and confirms who
 * answers; nobody else needs more than the masked form (PIPL: minimum necessary).
 */
export const FULL_PII_BY_ROLE: Readonly<Record<StaffRole, readonly PiiField[]>> = {
  officer: [],
  verifier: ['name', 'phone'],
  approver: [],
  supervisor: [],
  finance: [],
  collections: [],
  admin: [],
};

export function fullFieldsFor(staff: Staff): Set<PiiField> {
  const out = new Set<PiiField>();
  for (const role of staff.roles) for (const f of FULL_PII_BY_ROLE[role]) out.add(f);
  return out;
}

const MASKS: Record<PiiField, (v: string) => string> = { name: maskName, idNumber: maskIdNumber, phone: maskMobile };

export function applicantView(
  plain: Record<PiiField, string> & { monthlyIncomeFen: number },
  full: ReadonlySet<PiiField>,
): { name: string; idNumber: string; phone: string; monthlyIncomeFen: number; masked: PiiField[] } {
  const fields: PiiField[] = ['name', 'idNumber', 'phone'];
  const show = (f: PiiField) => (full.has(f) ? plain[f] : MASKS[f](plain[f]));
  return {
    name: show('name'),
    idNumber: show('idNumber'),
    phone: show('phone'),
    monthlyIncomeFen: plain.monthlyIncomeFen,
    masked: fields.filter((f) => !full.has(f)),
  };
}

/** The application's state as every action answers it: live from the workflow, or the stored mirror. */
export function stateView(row: ApplicationRow, state: LoanState | null): ApplicationState {
  if (!state) {
    return {
      id: row.id,
      workflowId: row.workflowId,
      stage: (isStage(row.stage) ? row.stage : 'intake') as Stage,
      pendingTask: null,
      offer: null,
      loanId: row.loanId,
      riskGrade: (row.riskGrade as ApplicationState['riskGrade']) ?? null,
      requiresFourEyes: null,
      decisions: [],
      flags: [],
      stageHistory: [],
      outcomeReason: null,
      missingDocuments: [],
      envelopeId: null,
      live: false,
    };
  }
  const t = state.pendingTask;
  // A run that handed its loan to servicing ended in `servicing`; the loan's servicing run records
  // its closure in the row, and the application's stage follows the loan.
  const loanClosed = state.stage === 'servicing' && row.stage === 'closed';
  return {
    id: row.id,
    workflowId: row.workflowId,
    stage: loanClosed ? 'closed' : state.stage,
    pendingTask: t
      ? {
          kind: t.kind,
          role: t.role,
          since: t.since,
          deadline: t.deadline,
          ...(t.slaAt !== undefined ? { slaAt: t.slaAt } : {}),
          escalated: t.escalated,
          ...(t.attempt !== undefined ? { attempt: t.attempt } : {}),
          ...(t.approvalsNeeded !== undefined ? { approvalsNeeded: t.approvalsNeeded } : {}),
          ...(t.approvedBy !== undefined ? { approvedBy: t.approvedBy } : {}),
        }
      : null,
    offer: state.offer
      ? {
          amountFen: state.offer.amountFen,
          termMonths: state.offer.termMonths,
          repaymentMethod: state.offer.repaymentMethod,
          annualRateBps: state.offer.annualRateBps,
          aprBps: state.offer.aprBps,
          monthlyPaymentFen: state.offer.monthlyPaymentFen,
          upfrontFeeFen: state.offer.upfrontFeeFen,
        }
      : null,
    loanId: state.loanId ?? row.loanId,
    riskGrade: state.riskGrade ?? null,
    requiresFourEyes: state.requiresFourEyes,
    decisions: state.decisions.map((d) => ({
      actor: d.actor,
      decision: d.decision,
      ...(d.reasonCode !== undefined ? { reasonCode: d.reasonCode } : {}),
      at: d.at,
      counted: d.counted,
    })),
    flags: [...state.flags],
    stageHistory: [...state.stageHistory.map((v) => ({ stage: v.stage, at: v.at })), ...(loanClosed ? [{ stage: 'closed' as const, at: row.updatedAt.toISOString() }] : [])],
    outcomeReason: state.outcomeReason,
    missingDocuments: [...(state.documents?.missing ?? [])],
    envelopeId: state.envelopeId ?? null,
    live: true,
  };
}

/** What the audit trail keeps of a state: stage and task, never personal data. */
export function auditSnapshot(s: { stage: string; pendingTask?: { kind: string } | string | null }): Record<string, unknown> {
  const task = typeof s.pendingTask === 'string' ? s.pendingTask : (s.pendingTask?.kind ?? null);
  return { stage: s.stage, pendingTask: task };
}

// ---------------------------------------------------------------------------------------------
// The audit trail as staff read it

export type FreeTextField = 'notes' | 'comment' | 'reason';

/**
 * Who reads what other staff wrote: the verifier's call notes matter to the approver deciding and
 * to other verifiers; an approver's comment tells the officer what information is wanted; the
 * reason of a withdrawal is the officer's and the approver's business. Supervisors and admins read
 * all of it; finance and collections none.
 */
export const FREE_TEXT_BY_ROLE: Readonly<Record<StaffRole, readonly FreeTextField[]>> = {
  officer: ['comment', 'reason'],
  verifier: ['notes'],
  approver: ['notes', 'comment', 'reason'],
  supervisor: ['notes', 'comment', 'reason'],
  finance: [],
  collections: [],
  admin: ['notes', 'comment', 'reason'],
};
const FREE_TEXT_FIELDS: readonly FreeTextField[] = ['notes', 'comment', 'reason'];

type EventRow = typeof loanEvents.$inferSelect;
type Json = Record<string, unknown>;

const ID_NUMBER_ANYWHERE = /(?<![0-9])[1-9]\d{16}[\dXx](?![0-9A-Za-z])/g;
const MOBILE_ANYWHERE = /(?<![0-9])1[3-9]\d{9}(?![0-9])/g;

/**
 * Masks personal data in anything staff could have typed: the applicant's own name, ID number and
 * phone (unless the role sees them in full), and anything shaped like an ID or mobile number.
 */
export function maskText(text: string, personal: Record<PiiField, string> | null, full: ReadonlySet<PiiField>): string {
  let out = text;
  if (personal) {
    for (const f of ['idNumber', 'phone', 'name'] as const) {
      const value = personal[f];
      if (!full.has(f) && value && value.length > 1) out = out.split(value).join(MASKS[f](value));
    }
  }
  if (!full.has('idNumber')) out = out.replace(ID_NUMBER_ANYWHERE, (m) => maskIdNumber(m));
  if (!full.has('phone')) out = out.replace(MOBILE_ANYWHERE, (m) => maskMobile(m));
  return out;
}

function maskDeep(value: unknown, mask: (s: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return mask(value);
  if (depth > 12 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, mask, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v, mask, depth + 1)]));
}

export function eventView(e: EventRow, staff: Staff, personal: Record<PiiField, string> | null, full: ReadonlySet<PiiField>) {
  const readable = new Set<FreeTextField>();
  for (const role of staff.roles) for (const f of FREE_TEXT_BY_ROLE[role]) readable.add(f);
  const withheld = new Set<string>();
  const mask = (s: string) => maskText(s, personal, full);
  const part = (obj: unknown): Json | null => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
    const copy: Json = { ...(obj as Json) };
    for (const f of FREE_TEXT_FIELDS) {
      if (copy[f] !== undefined && copy[f] !== null && !readable.has(f)) {
        copy[f] = null;
        withheld.add(f);
      }
    }
    return maskDeep(copy, mask) as Json;
  };
  const data = part(e.data) ?? {};
  const before = part(e.before);
  const after = part(e.after);
  return {
    seq: e.seq,
    at: e.occurredAt.toISOString(),
    // Rows the workflow wrote before it used the act kinds read as those kinds.
    kind: loanEventKind(e.kind) ?? e.kind,
    actor: e.actor,
    stage: e.stage,
    data,
    before,
    after,
    withheld: [...withheld].sort(),
  };
}
