/**
 * What the world sees of a run, kept in step with its state: the typed search attributes (LoanStage,
 * PendingTask, RiskGrade), the run's current details in the Temporal UI, and the applications row
 * the work queues read (the mirror).
 */
import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { STAGE_LABELS_ZH, fenToYuanString } from '../../domain';
import type { PendingTask } from '../messages';
import * as SA from '../searchAttributes';
import type { LoanEventInput, StageMirror } from '../../activities/loanEvents';
import { bookkeeping, call, db } from './activities';
import { PATCH } from './patches';
import type { ApplicationRun } from './run';

export const yuan = (fen: number) => `${fenToYuanString(fen, { grouping: true })} CNY`;

export class Publisher {
  // Runs started before this change mirror stage, task kind and grade only; decided once, at the
  // start, so a replayed run keeps the mirror writes it made.
  private readonly mirrorTaskDetail = patched(PATCH.mirrorTaskDetail);
  // Runs started before this change record each event and mirror each change by an activity of
  // its own; the others write both together, by a local activity. Decided once, at the start, so
  // a run of an earlier release (moved to this build in servicing) replays the commands it issued.
  readonly lean = patched(PATCH.leanHistory);
  private published = { stage: '', pending: '', grade: '', task: '' };
  // Mirror writes run one after another, so the row never ends on an older state than the last.
  private mirrored: Promise<void> = Promise.resolve();

  constructor(private readonly run: ApplicationRun) {}

  private taskKey(t: PendingTask | null): string {
    return this.mirrorTaskDetail && t ? `${t.since}|${t.escalated}|${t.approvedBy?.length ?? 0}|${t.approvalsNeeded ?? 0}` : '';
  }

  /**
   * Publishes what changed since the last call, with the audit events of the change (lean runs
   * only: the others record theirs by recordLoanEvent); the promise is the write's, in order with
   * the earlier ones.
   */
  publish(events: LoanEventInput[] = []): Promise<void> {
    const state = this.run.state;
    const pending = state.pendingTask?.kind ?? 'none';
    const grade = state.riskGrade ?? '';
    const task = this.taskKey(state.pendingTask);
    setCurrentDetails(this.currentDetails());
    const searchable = this.published.stage !== state.stage || this.published.pending !== pending || this.published.grade !== grade;
    if (!searchable && this.published.task === task && events.length === 0) return this.mirrored;
    if (searchable) {
      upsertSearchAttributes([
        { key: SA.LoanStage, value: state.stage },
        { key: SA.PendingTask, value: pending },
        ...(grade ? [{ key: SA.RiskGrade, value: grade }] : []),
      ]);
    }
    this.published = { stage: state.stage, pending, grade, task };
    const row = this.row();
    const mirror = `${row.stage} / ${pending} to the applications row`;
    this.mirrored = this.mirrored.then(() =>
      this.lean
        ? call(bookkeeping.mirrorStage, events.length ? `record ${events.map((e) => e.kind).join(', ')}; mirror ${mirror}` : `mirror ${mirror}`, { ...row, events })
        : call(db.mirrorStage, `mirror stage ${mirror}`, row),
    );
    return this.mirrored;
  }

  /** The applications row as the run now stands. */
  private row(): StageMirror {
    const state = this.run.state;
    const t = state.pendingTask;
    return {
      applicationId: this.run.applicationId,
      stage: state.stage,
      pendingTask: t?.kind ?? null,
      riskGrade: state.riskGrade,
      loanId: state.loanId,
      // The work queues' SLA, escalation and four-eyes progress (a change of any is mirrored).
      ...(this.mirrorTaskDetail
        ? {
            task: t
              ? { since: t.since, slaAt: t.slaAt ?? null, deadline: t.deadline, escalated: t.escalated, approvalsNeeded: t.approvalsNeeded ?? null, approvedBy: [...(t.approvedBy ?? [])] }
              : null,
          }
        : {}),
    };
  }

  /** The run's current details in the Temporal UI: stage, waiting task, grade, offer, loan, flags. */
  currentDetails(): string {
    const state = this.run.state;
    const lines = [`**Stage** ${state.stage} (${STAGE_LABELS_ZH[state.stage]})`];
    const t = state.pendingTask;
    if (t) {
      lines.push(
        `**Waiting for** ${t.kind} by ${t.role} since ${t.since}` +
          (t.slaAt ? ` · SLA ${t.slaAt}` : '') +
          ` · deadline ${t.deadline}` +
          (t.escalated ? ' · **escalated to a supervisor**' : '') +
          (t.attempt ? ` · attempt ${t.attempt}` : '') +
          (t.approvalsNeeded ? ` · approvals ${t.approvedBy?.length ?? 0}/${t.approvalsNeeded}` : ''),
      );
    }
    if (state.riskGrade) lines.push(`**Risk grade** ${state.riskGrade}${state.recommendation ? ` · ${state.recommendation}` : ''}`);
    if (state.offer) {
      const o = state.offer;
      lines.push(`**Offer** ${yuan(o.amountFen)} · ${o.termMonths} months · ${o.annualRateBps} bps (APR ${o.aprBps} bps) · monthly ${yuan(o.monthlyPaymentFen)}`);
    }
    if (state.loanId) lines.push(`**Loan** ${state.loanId} · servicing workflow ${this.run.servicingWorkflowId ?? '-'}`);
    if (state.flags.length) lines.push(`**Flags** ${state.flags.join(', ')}`);
    if (state.outcomeReason) lines.push(`**Outcome** ${state.outcomeReason}`);
    return lines.join('\n');
  }
}
