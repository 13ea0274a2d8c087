import { maskIdNumber, maskMobile, maskName, isStage, type Stage } from '../domain';
import type { applications } from '../db/schema';
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
  return {
    id: row.id,
    workflowId: row.workflowId,
    stage: state.stage,
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
    stageHistory: state.stageHistory.map((v) => ({ stage: v.stage, at: v.at })),
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
