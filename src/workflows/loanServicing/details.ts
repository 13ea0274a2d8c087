/**
 * The servicing run's current details in the Temporal UI: the loan's terms, where it stands, what
 * it waits for and when the run next looks at it. Times in Asia/Shanghai, rates as percentages.
 */
import { bpsToPercentString, fenToYuanString, shanghaiDateTime } from '../../domain';
import type { ServicingRun } from './run';

const yuan = (fen: number): string => `${fenToYuanString(fen, { grouping: true })} CNY`;

function standing(run: ServicingRun): string[] {
  const p = run.position;
  if (!p) return [];
  const lines = [`**Outstanding principal** ${yuan(p.outstandingPrincipalFen)} of ${yuan(p.principalFen)} · balance ${yuan(p.balanceFen)} · credit ${yuan(p.creditFen)} (as of ${p.asOfDate})`];
  if (p.nextDue && !run.carried.closed) lines.push(`**Next due** instalment ${p.nextDue.seq} on ${p.nextDue.dueDate} · ${yuan(p.nextDue.amountFen)}`);
  if (run.carried.bucket) lines.push(`**Overdue** ${run.carried.bucket} · ${yuan(p.overdueFen)} + penalty ${yuan(p.penaltyFen)}`);
  return lines;
}

export function servicingDetails(run: ServicingRun): string {
  const { carried, input } = run;
  const closed = carried.closed;
  const lines = [
    closed
      ? `**Stage** closed (${closed.how}) at ${shanghaiDateTime(closed.atMs)} · loan ${run.loanId} · application ${run.applicationId}`
      : `**Stage** servicing · loan ${run.loanId} · application ${run.applicationId}`,
  ];
  const o = input.handedOver?.offer;
  if (o) lines.push(`**Terms** ${yuan(o.amountFen)} · ${o.termMonths} months · ${bpsToPercentString(o.annualRateBps)} a year (APR ${bpsToPercentString(o.aprBps)})`);
  lines.push(...standing(run));
  if (carried.collateralOutstanding && !closed) lines.push('**Waiting for** the mortgage registration (抵押登记)');
  if (carried.openCallTasks.length) lines.push(`**Collections calls open** ${carried.openCallTasks.length}`);
  if (carried.pending.length) lines.push(`**Awaiting a second finance user** ${carried.pending.map((r) => `${r.kind} ${r.requestId} by ${r.requestedBy}`).join(', ')}`);
  if (run.nextLookMs !== null) lines.push(`**Next look** ${shanghaiDateTime(run.nextLookMs)}`);
  lines.push(`**Run** ${carried.run} (continues as new after ${run.perRun} instalments)`);
  return lines.join('\n');
}
