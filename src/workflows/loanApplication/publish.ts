/**
 * What the world sees of a run, kept in step with its state: the typed search attributes (LoanStage,
 * PendingTask, RiskGrade), the run's current details in the Temporal UI, and the applications row
 * the work queues read (the mirror).
 */
import { condition, patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { STAGE_LABELS_ZH, bpsToPercentString, fenToYuanString, shanghaiDateTime } from '../../domain';
import type { PendingTask } from '../messages';
import * as SA from '../searchAttributes';
import type { LoanEventInput, StageMirror } from '../../activities/loanEvents';
import { call, db } from './activities';
import { PATCH } from './patches';
import type { ApplicationRun } from './run';

export const yuan = (fen: number) => `${fenToYuanString(fen, { grouping: true })} CNY`;
/** A time of the run's state (ISO) as the current details show it: Asia/Shanghai, to the minute. */
const local = (iso: string) => shanghaiDateTime(Date.parse(iso));

/**
 * Resolves once the run's current reaction has settled: the workflow checks blocked conditions
 * again after the code they woke has run up to its next wait, and this one is true from its
 * second look on (the first, as it is made, finds it false).
 */
function afterThisReaction(): Promise<void> {
  let looked = false;
  return condition(() => looked || !(looked = true));
}

export class Publisher {
  // Runs started before this change record each event and mirror each change by an activity of
  // its own; the others write both together, by a local activity. Decided once, at the start, so
  // a run of an earlier release (moved to this build in servicing) replays the commands it issued.
  readonly lean = patched(PATCH.leanHistory);
  // Runs started before this change mirror stage, task kind and grade only; decided once, at the
  // start, so a replayed run keeps the mirror writes it made. (A lean run is newer than the patch.)
  private readonly mirrorTaskDetail = this.lean || patched(PATCH.mirrorTaskDetail);
  // Search attributes that never change, sent with the first upsert of a lean run.
  private constant: SearchAttributeUpdatePair[] = [];
  private published = { stage: '', pending: '', grade: '', task: '' };
  // A lean run's write asked for and not yet started: what else the run asks for joins it.
  private batch: { events: LoanEventInput[]; done: Promise<void> } | null = null;
  // Mirror writes run one after another, so the row never ends on an older state than the last.
  private mirrored: Promise<void> = Promise.resolve();

  constructor(private readonly run: ApplicationRun) {}

  /** Search attributes fixed for the run: upserted now, or on a lean run with the first publish (one event less). */
  searchOnce(attributes: SearchAttributeUpdatePair[]): void {
    if (this.lean) this.constant = attributes;
    else upsertSearchAttributes(attributes);
  }

  private taskKey(t: PendingTask | null): string {
    return this.mirrorTaskDetail && t ? `${t.since}|${t.escalated}|${t.approvedBy?.length ?? 0}|${t.approvalsNeeded ?? 0}` : '';
  }

  /** What the world would see of the run now, and whether it differs from what it was last shown. */
  private look() {
    const state = this.run.state;
    const now = { stage: state.stage as string, pending: state.pendingTask?.kind ?? 'none', grade: state.riskGrade ?? '', task: this.taskKey(state.pendingTask) };
    const was = this.published;
    const searchable = was.stage !== now.stage || was.pending !== now.pending || was.grade !== now.grade;
    return { now, searchable, changed: searchable || was.task !== now.task };
  }

  /** Upserts the search attributes when they changed; from here the run counts as shown as it now is. */
  private show(): { pending: string } {
    const { now, searchable } = this.look();
    if (searchable) {
      upsertSearchAttributes([
        ...this.constant.splice(0),
        { key: SA.LoanStage, value: now.stage },
        { key: SA.PendingTask, value: now.pending },
        ...(now.grade ? [{ key: SA.RiskGrade, value: now.grade }] : []),
      ]);
    }
    this.published = now;
    return now;
  }

  /**
   * Publishes what changed since the last call; the promise is the mirror write's, in order with
   * the earlier ones. On a lean run the audit events of the change go with it (the others record
   * theirs by recordLoanEvent).
   */
  publish(events: LoanEventInput[] = []): Promise<void> {
    setCurrentDetails(this.currentDetails());
    if (this.lean) return this.book(events);
    if (!this.look().changed) return this.mirrored;
    const { pending } = this.show();
    const row = this.row();
    this.mirrored = this.mirrored.then(() => call(db.mirrorStage, `mirror stage ${row.stage} / ${pending} to the applications row`, row));
    return this.mirrored;
  }

  /**
   * A lean run's bookkeeping: every write asked for while the run reacts (an act, the stage it
   * ends, the next stage entered) goes as one local activity, started once the reaction has
   * settled, with the row and search attributes as they then are, after the earlier writes.
   */
  private book(events: LoanEventInput[]): Promise<void> {
    if (this.batch) {
      this.batch.events.push(...events);
      return this.batch.done;
    }
    if (events.length === 0 && !this.look().changed) return this.mirrored;
    const batch: { events: LoanEventInput[]; done: Promise<void> } = { events: [...events], done: this.mirrored };
    this.batch = batch;
    batch.done = this.mirrored = this.mirrored.then(async () => {
      await afterThisReaction();
      this.batch = null;
      const { pending } = this.show();
      const row = { ...this.row(), events: batch.events };
      const mirror = `mirror ${row.stage} / ${pending} to the applications row`;
      await call(this.run.local.db.mirrorStage, batch.events.length ? `record ${batch.events.map((e) => e.kind).join(', ')}; ${mirror}` : mirror, row);
    });
    return batch.done;
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
