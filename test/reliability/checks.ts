import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { eq, inArray, sql } from 'drizzle-orm';
import { applicants, applications, loans } from '../../src/db/schema';
import { loanApplicationWorkflowId } from '../../src/workflows/messages';
import type { Cluster } from './cluster';
import type { AppState, LoanDriver } from './driver';

/**
 * What every fault test proves at its end, from the systems of record rather than from the API's
 * answers: the application is in PostgreSQL and in Temporal, it reached servicing with a loan, the
 * payment provider's ledger holds exactly one payout of the disbursed amount and no reversal, and
 * there is exactly one loan row. Anything else is counted as a loss or a duplicate.
 */
export interface Tally {
  faults: number;
  checked: Set<string>;
  losses: string[];
  duplicates: string[];
  /** Committed applications (a row in PostgreSQL) without a workflow in Temporal. */
  orphans: string[];
}

export const newTally = (): Tally => ({ faults: 0, checked: new Set(), losses: [], duplicates: [], orphans: [] });

export function summaryLine(t: Tally): string {
  return `faults injected: ${t.faults}, applications checked: ${t.checked.size}, losses: ${t.losses.length}, duplicates: ${t.duplicates.length}, orphans: ${t.orphans.length}`;
}

async function workflowExists(temporal: Client, applicationId: string): Promise<boolean> {
  try {
    await temporal.workflow.getHandle(loanApplicationWorkflowId(applicationId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Orphans, from the systems of record: every application row in PostgreSQL (all of them, also
 * those no test was told about, such as the one whose API died before it answered) must have its
 * workflow in Temporal. One without is given `graceMs` to get it (the reconciler's bound:
 * ORPHAN_AFTER_MS plus RECONCILE_EVERY_MS and a margin); still without, it is an orphan.
 */
export async function checkOrphans(cluster: Cluster, temporal: Client, tally: Tally, label: string, graceMs: number): Promise<string[]> {
  const rows = await cluster.db.db.select({ id: applications.id }).from(applications);
  let missing: string[] = [];
  for (const { id } of rows) if (!(await workflowExists(temporal, id))) missing.push(id);
  const deadline = Date.now() + graceMs;
  while (missing.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2_000));
    const still: string[] = [];
    for (const id of missing) if (!(await workflowExists(temporal, id))) still.push(id);
    missing = still;
  }
  const orphans = missing.map((id) => `${label} ${id}: committed, no workflow after ${Math.round(graceMs / 1000)} s`);
  // Counted once however many checks find the same one.
  tally.orphans.push(...orphans.filter((o, i) => !tally.orphans.some((t) => t.includes(` ${missing[i]}:`))));
  return orphans;
}

/** A Temporal client with NO payload codec: it sees what the server stores. */
export async function rawClient(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: 'default' });
}

export async function checkApplications(
  cluster: Cluster,
  driver: LoanDriver,
  temporal: Client,
  ids: string[],
  finalStates: Map<string, AppState | undefined>,
  tally: Tally,
  label: string,
): Promise<{ losses: string[]; duplicates: string[] }> {
  const losses: string[] = [];
  const duplicates: string[] = [];
  const rows = ids.length ? await cluster.db.db.select().from(applications).where(inArray(applications.id, ids)) : [];
  for (const id of ids) {
    tally.checked.add(id);
    const row = rows.find((r) => r.id === id);
    if (!row) {
      losses.push(`${label} ${id}: no applications row`);
      continue;
    }
    try {
      const d = await temporal.workflow.getHandle(loanApplicationWorkflowId(id)).describe();
      if (d.status.name === 'FAILED' || d.status.name === 'TERMINATED' || d.status.name === 'TIMED_OUT') losses.push(`${label} ${id}: workflow ${d.status.name}`);
    } catch (err) {
      losses.push(`${label} ${id}: ${err instanceof WorkflowNotFoundError ? 'no workflow' : (err as Error).message}`);
      continue;
    }
    const s = finalStates.get(id);
    if (!s || s.stage !== 'servicing' || !s.loanId) {
      losses.push(`${label} ${id}: ended in ${s?.stage ?? 'unknown'} (${s?.outcomeReason ?? ''} ${JSON.stringify(s?.flags ?? [])}) instead of servicing`);
    }
    const ledger = await driver.sandbox.ledger({ reference: `loan-application-${id}` });
    const payouts = ledger.entries.filter((e) => e.kind === 'payout');
    const reversals = ledger.entries.filter((e) => e.kind === 'reversal');
    if (payouts.length === 0) losses.push(`${label} ${id}: never paid`);
    if (payouts.length > 1) duplicates.push(`${label} ${id}: paid ${payouts.length} times`);
    if (reversals.length > 0) duplicates.push(`${label} ${id}: ${reversals.length} reversal(s)`);
    if (s?.offer && payouts.length === 1) {
      const expected = s.offer.amountFen - (s.offer.upfrontFeeFen ?? 0);
      if (ledger.totalFen !== expected) duplicates.push(`${label} ${id}: ledger holds ${ledger.totalFen} fen, the offer disburses ${expected}`);
    }
    const loanRows = await cluster.db.db.select({ id: loans.id }).from(loans).where(eq(loans.applicationId, id));
    if (loanRows.length !== 1 && s?.loanId) losses.push(`${label} ${id}: ${loanRows.length} loan rows`);
  }
  // No applicant submitted twice: one application per ID number among these.
  if (ids.length) {
    const perApplicant = await cluster.db.db
      .select({ hash: applicants.idNumberHash, n: sql<number>`count(*)::int` })
      .from(applications)
      .innerJoin(applicants, eq(applicants.id, applications.applicantId))
      .where(inArray(applications.id, ids))
      .groupBy(applicants.idNumberHash);
    for (const g of perApplicant) if (g.n > 1) duplicates.push(`${label}: ${g.n} applications for one applicant`);
  }
  tally.losses.push(...losses);
  tally.duplicates.push(...duplicates);
  return { losses, duplicates };
}
