import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asc, eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { createLoanActivities, type ServicingRequest } from '../../src/activities/loans';
import { MIGRATIONS_FOLDER, openDb, type DbHandle } from '../../src/db/client';
import { readLedger } from '../../src/db/ledger';
import { installments, loans, loanTransactions, scheduleVersions } from '../../src/db/schema';
import { addDays, buildSchedule, computeLedger, conservationGap, LEGACY_SERVICING_TERMS, shanghaiDate } from '../../src/domain';
import { createTestDb } from '../helpers/db';
import { seedApplication } from '../helpers/seed';
import { loadSchedule, seedLoan, testCipher } from '../helpers/servicing';
import { createProviderClients } from '../../src/activities/providers';

// The ledger's database path: the activities book transactions and write the projection, and what
// is stored always is the ledger over the stored transactions — no fen created or lost on the
// way through PostgreSQL (or PGlite) either. And the migration that brought the ledger moves the
// repayments recorded before it into its transactions.

const providers = createProviderClients({
  ocr: 'http://127.0.0.1:9/ocr',
  creditBureau: 'http://127.0.0.1:9/cb',
  callCentre: 'http://127.0.0.1:9/cc',
  valuation: 'http://127.0.0.1:9/v',
  esign: 'http://127.0.0.1:9/e',
  payments: 'http://127.0.0.1:9/p',
  sms: 'http://127.0.0.1:9/s',
  withholding: 'http://127.0.0.1:9/w',
});

describe('booking through the activities', () => {
  let h: DbHandle;
  beforeAll(async () => {
    h = await createTestDb();
  });
  afterAll(() => h?.close());

  type Op = { kind: 'repayment' | 'prepayment' | 'waiver' | 'refund' | 'reversal'; day: number; amount: number; pick: number };
  const op: fc.Arbitrary<Op> = fc.record({
    kind: fc.constantFrom('repayment', 'repayment', 'repayment', 'prepayment', 'waiver', 'refund', 'reversal'),
    day: fc.integer({ min: 0, max: 400 }),
    amount: fc.integer({ min: 1, max: 2_000_000 }),
    pick: fc.nat(),
  });

  it('leaves the stored projection equal to the ledger over the stored transactions, with no fen created or lost', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.constantFrom('equal_installment' as const, 'equal_principal' as const), async (ops, method) => {
        const applicationId = `db-path-${++n}`;
        const disbursedAtMs = Date.parse('2026-01-15T02:00:00Z');
        const { loanId } = await seedLoan(h.db, testCipher(), providers, { applicationId, phone: '13900000099', disbursedAtMs, termMonths: 12, repaymentMethod: method });
        const acts = createLoanActivities({ db: h.db, cipher: testCipher(), callCentre: providers.callCentre });
        const money: string[] = [];
        let latest = '2026-01-15';
        // A refused request writes nothing: the projection is as of the last booking.
        let projectedOn = latest;
        for (const [i, o] of ops.entries()) {
          const day = addDays('2026-01-15', o.day);
          if (day > latest) latest = day;
          const paidAt = new Date(Date.parse(`${day}T10:00:00+08:00`)).toISOString();
          let request: ServicingRequest;
          if (o.kind === 'repayment' || o.kind === 'prepayment') {
            request = o.kind === 'repayment' ? { kind: 'repayment', reference: `r-${i}`, amountFen: o.amount, paidAt, actor: 'f1' } : { kind: 'prepayment', reference: `r-${i}`, amountFen: o.amount, paidAt, mode: 'reduce_term', actor: 'f1' };
            money.push(`r-${i}`);
          } else if (o.kind === 'reversal') {
            if (money.length === 0) continue;
            request = { kind: 'reversal', requestId: `rv-${i}`, reference: money[o.pick % money.length] as string, reasonCode: 'BOOKED_IN_ERROR', actor: 'f1', approvedBy: 'f2' };
          } else if (o.kind === 'waiver') request = { kind: 'waiver', requestId: `wv-${i}`, component: 'penalty', amountFen: Math.max(1, o.amount % 5_000), reasonCode: 'GOODWILL', actor: 'f1', approvedBy: 'f2' };
          else request = { kind: 'refund', requestId: `rf-${i}`, amountFen: Math.max(1, o.amount % 50_000), reasonCode: 'OVERPAYMENT', actor: 'f1', approvedBy: 'f2' };
          const r = await acts.bookServicingTransaction({ loanId, asOfDate: latest, request });
          // One reversal per reference: reversing it again (another request) is the same reversal.
          expect(o.kind === 'reversal' ? ['applied', 'refused', 'duplicate'] : ['applied', 'refused']).toContain(r.outcome);
          if (r.outcome === 'applied') projectedOn = latest;
          // Booked again, the same request changes nothing.
          const again = await acts.bookServicingTransaction({ loanId, asOfDate: latest, request });
          if (r.outcome === 'applied') expect(again.outcome).toBe('duplicate');
        }
        const stored = (await readLedger(h.db, loanId))!;
        const p = computeLedger(stored.contract, stored.transactions, latest);
        expect(conservationGap(p)).toBe(0);
        // Money in the table = what the ledger says it paid + the credit + the refunds.
        const inTable = stored.rows.filter((r) => r.kind === 'repayment' || r.kind === 'prepayment');
        const reversed = new Set(stored.rows.filter((r) => r.kind === 'reversal').map((r) => r.targetTxnId));
        const received = inTable.filter((r) => !reversed.has(r.txnId)).reduce((s, r) => s + (r.amountFen ?? 0), 0);
        const refunded = p.transactions.filter((t) => t.kind === 'refund' && t.status === 'applied').reduce((s, t) => s + t.amountFen, 0);
        expect(p.allocations.reduce((s, a) => s + a.amountFen, 0) + p.totals.creditFen + refunded).toBe(received);
        // The projection is the position of its day: credit, principal, the current version's rows.
        const q = computeLedger(stored.contract, stored.transactions, projectedOn);
        const [loan] = await h.db.select().from(loans).where(eq(loans.id, loanId));
        expect(loan).toMatchObject({ unappliedFen: q.totals.creditFen, outstandingPrincipalFen: q.totals.principalOutstandingFen, scheduleVersion: q.versions.length, positionAsOf: projectedOn });
        const rows = await h.db.select().from(installments).where(eq(installments.loanId, loanId)).orderBy(asc(installments.seq));
        expect(rows.map((r) => [r.seq, r.principalFen, r.interestFen, r.status, r.penaltyFen])).toEqual(
          q.lines.map((l) => [l.seq, l.due.principalFen, l.due.interestFen, l.status, l.outstanding.penaltyFen]),
        );
        expect((await h.db.select().from(scheduleVersions).where(eq(scheduleVersions.loanId, loanId)).orderBy(asc(scheduleVersions.version))).map((v) => v.version)).toEqual(q.versions.map((v) => v.version));
      }),
      { numRuns: Number(process.env.LEDGER_DB_RUNS ?? 25) },
    );
  });

  it('the repayment activity of runs written before the ledger books on the ledger and answers in their terms', async () => {
    const { loanId, schedule } = await seedLoan(h.db, testCipher(), providers, { applicationId: 'db-legacy', phone: '13900000098', disbursedAtMs: Date.parse('2026-01-15T02:00:00Z'), termMonths: 12 });
    const acts = createLoanActivities({ db: h.db, cipher: testCipher(), callCentre: providers.callCentre });
    const first = schedule[0]!;
    const r = await acts.applyRepayment({ loanId, reference: 'legacy-1', amountFen: first.totalFen + 100, paidAt: `${first.dueDate}T10:00:00+08:00`, actor: 'bank-feed' });
    expect(r).toMatchObject({ outcome: 'applied', kind: 'regular', allocations: [{ seq: 1, amountFen: first.totalFen }], unappliedFen: 100, repaymentCount: 1, closedBy: null });
    expect(r.paidFen[0]).toBe(first.totalFen);
    expect((await acts.applyRepayment({ loanId, reference: 'legacy-1', amountFen: first.totalFen + 100, paidAt: `${first.dueDate}T10:00:00+08:00`, actor: 'bank-feed' })).outcome).toBe('duplicate');
    expect((await acts.applyRepayment({ loanId, reference: 'legacy-1', amountFen: 5, paidAt: `${first.dueDate}T10:00:00+08:00`, actor: 'bank-feed' })).reason).toBe('REFERENCE_CONFLICT');
    const snapshot = await acts.loadServicingSnapshot({ loanId });
    expect(snapshot).toMatchObject({ unappliedFen: 100, repaymentCount: 1 });
    expect(snapshot.paidFen[0]).toBe(first.totalFen);
  });
});

describe('the migration to the ledger (0007)', () => {
  it('moves the repayments recorded before it into loan_transactions, keeps the old loans\' terms, and gives loans their branch', async () => {
    // Migrate to the release before the ledger (0000–0003), record as it did, then migrate on.
    const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    const before = journal.entries.findIndex((e) => e.tag.startsWith('0007_'));
    expect(before).toBeGreaterThan(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-before-ledger-'));
    fs.mkdirSync(path.join(dir, 'meta'));
    fs.writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, before) }));
    for (const e of journal.entries.slice(0, before)) fs.copyFileSync(path.join(MIGRATIONS_FOLDER, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));

    const h = await openDb({ migrate: false });
    try {
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(h.db as never, { migrationsFolder: dir });
      const { applicantId } = await seedApplication(h.db, { applicationId: 'old-1', applicant: { phone: '13900000097' }, loan: { amountFen: 1_200_000, termMonths: 12, repaymentMethod: 'equal_principal' } }, testCipher());
      const s = buildSchedule({ principalFen: 1_200_000, annualRateBps: 720, termMonths: 12, method: 'equal_principal', disbursementDate: '2026-01-15' });
      await h.db.execute(sql`insert into loans (id, application_id, applicant_id, principal_fen, annual_rate_bps, apr_bps, term_months, repayment_method, disbursed_at, disbursement_date, transfer_id, unapplied_fen)
        values ('L-old-1', 'old-1', ${applicantId}, 1200000, 720, 744, 12, 'equal_principal', '2026-01-15T02:00:00Z', '2026-01-15', 'tr-old-1', 0)`);
      for (const r of s) {
        await h.db.execute(sql`insert into installments (loan_id, seq, period_start_date, due_date, principal_fen, interest_fen, total_fen, opening_balance_fen, closing_balance_fen)
          values ('L-old-1', ${r.seq}, ${r.periodStartDate}, ${r.dueDate}, ${r.principalFen}, ${r.interestFen}, ${r.totalFen}, ${r.openingBalanceFen}, ${r.closingBalanceFen})`);
      }
      // Paid at 00:30 on 15 February in Shanghai (16:30 UTC the day before): its value date is the Shanghai day.
      await h.db.execute(sql`insert into repayments (loan_id, reference, amount_fen, paid_at, actor, kind, allocations)
        values ('L-old-1', 'old-ref-1', 107200, '2026-02-14T16:30:00Z', 'finance-1', 'regular', '[{"seq":1,"amountFen":107200}]'::jsonb),
               ('L-old-1', 'old-ref-2', 106600, '2026-03-15T02:00:00Z', 'finance-1', 'regular', '[{"seq":2,"amountFen":106600}]'::jsonb)`);

      await migrate(h.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
      const moved = await h.db.select().from(loanTransactions).where(eq(loanTransactions.loanId, 'L-old-1')).orderBy(asc(loanTransactions.seq));
      expect(moved.map((t) => [t.txnId, t.kind, t.reference, t.amountFen, t.valueDate, t.actor])).toEqual([
        ['ref:old-ref-1', 'repayment', 'old-ref-1', 107_200, '2026-02-15', 'finance-1'],
        ['ref:old-ref-2', 'repayment', 'old-ref-2', 106_600, '2026-03-15', 'finance-1'],
      ]);
      const [loan] = await h.db.select().from(loans).where(eq(loans.id, 'L-old-1'));
      expect(loan).toMatchObject({ branchId: 'BJ-001', servicingTerms: LEGACY_SERVICING_TERMS });
      const tables = await h.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_name = 'repayments'`);
      expect((tables as unknown as { rows: unknown[] }).rows).toHaveLength(0);
      // The ledger over the moved rows: both instalments paid, no penalty (legacy terms), nothing held.
      const stored = (await readLedger(h.db, 'L-old-1'))!;
      const p = computeLedger(stored.contract, stored.transactions, '2026-03-20');
      expect(p.lines.slice(0, 2).map((l) => l.status)).toEqual(['paid', 'paid']);
      expect(p.totals).toMatchObject({ creditFen: 0, receivedFen: 213_800 });
      expect(shanghaiDate(Date.parse('2026-02-14T16:30:00Z'))).toBe('2026-02-15');
      expect(await loadSchedule(h.db, 'L-old-1')).toHaveLength(12);
    } finally {
      await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
