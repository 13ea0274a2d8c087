import { eq, sql } from 'drizzle-orm';
import { writeTogether, type DbHandle } from '../../src/db/client';
import { PiiCipher } from '../../src/db/pii';
import { applicants, applications, loanEvents } from '../../src/db/schema';
import { createLoanEventActivities } from '../../src/activities/loanEvents';
import { createTestDb } from '../helpers/db';

describe(`database (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: DbHandle;
  beforeAll(async () => {
    h = await createTestDb();
  });
  afterAll(() => h?.close());

  it('applies the generated migrations', async () => {
    await h.ping();
    const rows = await h.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
    const names = (Array.isArray(rows) ? rows : (rows as unknown as { rows: { table_name: string }[] }).rows).map((r: { table_name: string }) => r.table_name);
    expect(names).toEqual(expect.arrayContaining(['applicants', 'applications', 'documents', 'idempotency_keys', 'loan_events', 'vehicles']));
  });

  it('records a loan event once however often the activity retries', async () => {
    const acts = createLoanEventActivities(h.db);
    const e = { eventKey: 'wf-1:stage:intake', applicationId: 'app-1', kind: 'stage_entered', actor: 'system', stage: 'intake' };
    await acts.recordLoanEvent(e);
    await acts.recordLoanEvent(e);
    const rows = await h.db.select().from(loanEvents).where(eq(loanEvents.eventKey, e.eventKey));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.stage).toBe('intake');
  });

  it('keeps loan_events append-only', async () => {
    // drizzle wraps the database error; the trigger's message is its cause.
    const refused = { cause: expect.objectContaining({ message: expect.stringMatching(/append-only/) }) };
    await expect(h.db.update(loanEvents).set({ kind: 'edited' })).rejects.toMatchObject(refused);
    await expect(h.db.delete(loanEvents)).rejects.toMatchObject(refused);
    expect(await h.db.select().from(loanEvents)).toHaveLength(1);
  });

  it('stores personal data only encrypted, with a keyed hash to find it', async () => {
    const cipher = new PiiCipher({ currentKeyId: 'k1', keys: { k1: Buffer.alloc(32, 3) }, hashKey: Buffer.alloc(32, 4) });
    await h.db.insert(applicants).values({
      id: 'applicant-1',
      nameEnc: cipher.encrypt('张三'),
      idNumberEnc: cipher.encrypt('11010519491231002X'),
      phoneEnc: cipher.encrypt('13800138000'),
      idNumberHash: cipher.lookupHash('id_number', '11010519491231002X'),
      phoneHash: cipher.lookupHash('phone', '13800138000'),
      monthlyIncomeFen: 2_000_000,
    });
    const raw = await h.db.execute(sql`select * from applicants`);
    const text = JSON.stringify(raw);
    expect(text).not.toContain('11010519491231002X');
    expect(text).not.toContain('13800138000');
    expect(text).not.toContain('张三');
    const [found] = await h.db.select().from(applicants).where(eq(applicants.idNumberHash, cipher.lookupHash('id_number', '11010519491231002X')));
    expect(cipher.decrypt(found!.nameEnc)).toBe('张三');
  });

  it('writes several rows in one statement: all or none, children before their parent, a repeat changes nothing', async () => {
    const applicant = (id: string) =>
      h.db
        .insert(applicants)
        .values({ id, nameEnc: 'n', idNumberEnc: 'i', phoneEnc: 'p', idNumberHash: `ih-${id}`, phoneHash: `ph-${id}`, monthlyIncomeFen: 1 })
        .onConflictDoNothing();
    const application = (id: string, applicantId: string) =>
      h.db
        .insert(applications)
        .values({ id, workflowId: `wf-${id}`, applicantId, channel: 'dealer', branchId: 'SH-001', submittedBy: 'officer-1', amountFen: 100, termMonths: 12, repaymentMethod: 'equal_installment', stage: 'intake' })
        .onConflictDoNothing();
    const count = async (id: string) => (await h.db.select().from(applications).where(eq(applications.id, id))).length;

    // The application names its applicant before the applicant's row: checked at the statement's end.
    await writeTogether(h.db, [application('app-together', 'applicant-together'), applicant('applicant-together')]);
    expect(await count('app-together')).toBe(1);
    await writeTogether(h.db, [application('app-together', 'applicant-together'), applicant('applicant-together')]);
    expect(await count('app-together')).toBe(1);

    // One write fails (an applicant nobody inserted): none of them stays.
    await expect(writeTogether(h.db, [applicant('applicant-orphan'), application('app-orphan', 'no-such-applicant')])).rejects.toThrow();
    expect(await count('app-orphan')).toBe(0);
    expect(await h.db.select().from(applicants).where(eq(applicants.id, 'applicant-orphan'))).toHaveLength(0);
  });
});
