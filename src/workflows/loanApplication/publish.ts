/**
 * What the world sees of a run, kept in step with its state: the typed search attributes (LoanStage,
 * PendingTask, RiskGrade), the run's current details in the Temporal UI, and the applications row
 * the work queues read (the mirror).
 */
import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { STAGE_LABELS_ZH, bpsToPercentString, fenToYuanString, shanghaiDateTime } from '../../domain';
import type { PendingTask } from '../messages';
import * as SA from '../searchAttributes';
import { call, db } from './activities';
import { PATCH } from './patches';
import type { ApplicationRun } from './run';

export const yuan = (fen: number) => `${fenToYuanString(fen, { grouping: true })} CNY`;
/** A time of the run's state (ISO) as the current details show it: Asia/Shanghai, to the minute. */
const local = (iso: string) => shanghaiDateTime(Date.parse(iso));

export class Publisher {
  // Runs started before this change mirror stage, task kind and grade only; decided once, at the
  // start, so a replayed run keeps the mirror writes it made.
  private readonly mirrorTaskDetail = patched(PATCH.mirrorTaskDetail);
  private published = { stage: '', pending: '', grade: '', task: '' };
  // Mirror writes run one after another, so the row never ends on an older state than the last.
  private mirrored: Promise<void> = Promise.resolve();

  constructor(private readonly run: ApplicationRun) {}

  private taskKey(t: PendingTask | null): string {
    return this.mirrorTaskDetail && t ? `${t.since}|${t.escalated}|${t.approvedBy?.length ?? 0}|${t.approvalsNeeded ?? 0}` : '';
  }

  /** Publishes what changed since the last call; the promise is the mirror write's, in order with the earlier ones. */
  publish(): Promise<void> {
    const state = this.run.state;
    const pending = state.pendingTask?.kind ?? 'none';
    const grade = state.riskGrade ?? '';
    const t = state.pendingTask;
    const task = this.taskKey(t);
    setCurrentDetails(this.currentDetails());
    const searchable = this.published.stage !== state.stage || this.published.pending !== pending || this.published.grade !== grade;
    if (!searchable && this.published.task === task) return this.mirrored;
    if (searchable) {
      upsertSearchAttributes([
        { key: SA.LoanStage, value: state.stage },
        { key: SA.PendingTask, value: pending },
        ...(grade ? [{ key: SA.RiskGrade, value: grade }] : []),
      ]);
    }
    this.published = { stage: state.stage, pending, grade, task };
    const row = {
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
    this.mirrored = this.mirrored.then(() => call(db.mirrorStage, `mirror stage ${row.stage} / ${pending} to the applications row`, row));
    return this.mirrored;
  }

  /** The run's current details in the Temporal UI: stage, waiting task, grade, offer, loan, flags (times in Shanghai, rates in percent). */
  currentDetails(): string {
    const state = this.run.state;
    const lines = [`**Stage** ${state.stage} (${STAGE_LABELS_ZH[state.stage]})`];
    const t = state.pendingTask;
    if (t) {
      lines.push(
        `**Waiting for** ${t.kind} by ${t.role} since ${local(t.since)}` +
          (t.slaAt ? ` · SLA ${local(t.slaAt)}` : '') +
          ` · deadline ${local(t.deadline)}` +
          (t.escalated ? ' · **escalated to a supervisor**' : '') +
          (t.attempt ? ` · attempt ${t.attempt}` : '') +
          (t.approvalsNeeded ? ` · approvals ${t.approvedBy?.length ?? 0}/${t.approvalsNeeded}` : ''),
      );
    }
    if (state.riskGrade) lines.push(`**Risk grade** ${state.riskGrade}${state.recommendation ? ` · ${state.recommendation}` : ''}`);
    if (state.offer) {
      const o = state.offer;
      lines.push(`**Offer** ${yuan(o.amountFen)} · ${o.termMonths} months · ${bpsToPercentString(o.annualRateBps)} a year (APR ${bpsToPercentString(o.aprBps)}) · monthly ${yuan(o.monthlyPaymentFen)}`);
    }
    if (state.loanId) lines.push(`**Loan** ${state.loanId} · servicing workflow ${this.run.servicingWorkflowId ?? '-'}`);
    if (state.flags.length) lines.push(`**Flags** ${state.flags.join(', ')}`);
    if (state.outcomeReason) lines.push(`**Outcome** ${state.outcomeReason}`);
    return lines.join('\n');
  }
}
