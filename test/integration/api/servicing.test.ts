import Ajv2020 from 'ajv/dist/2020';
import { addDays, shanghaiDate } from '../../../src/domain';
import { loanServicingWorkflowId } from '../../../src/workflows/messages';
import { loadSchedule, sandboxProviders, seedLoan } from '../../helpers/servicing';
import { startApiHarness, type ApiHarness } from './harness';

// Servicing through the API, end to end: real Temporal dev server and worker, the servicing
// workflow of each loan, a real database, the payment sandbox over HTTP. Loans are seeded as
// createLoan books them, drawn some days ago, so that instalments are already overdue today.
// Every answer is checked against the OpenAPI document.

const DAY = 86_400_000;
let h: ApiHarness;
let finance1: string;
let finance2: string;
let collections: string;
let doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: unknown };
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

beforeAll(async () => {
  h = await startApiHarness();
  [finance1, finance2, collections] = await Promise.all([h.token('fin-one', 'finance'), h.token('fin-two', 'finance'), h.token('coll-one', 'collections')]);
  doc = (await h.http.get('/openapi.json')).body;
});
afterAll(() => h?.stop());

/** The body matches what the document says this operation answers with this status. */
function documented(method: string, path: string, res: { status: number; body: unknown; headers: Record<string, string> }) {
  const op = doc.paths[path]?.[method];
  expect({ path, status: res.status, documented: Boolean(op?.responses[String(res.status)]) }).toEqual({ path, status: res.status, documented: true });
  const media = Object.entries(op!.responses[String(res.status)]!.content ?? {}).find(([t]) => String(res.headers['content-type']).startsWith(t));
  expect(media).toBeDefined();
  const check = ajv.compile({ ...(media![1].schema as object), components: doc.components });
  if (!check(res.body)) throw new Error(`${method} ${path} ${res.status}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(res.body)}`);
}

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const today = () => shanghaiDate(Date.now());
const days = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / DAY);

let seq = 0;
/** A loan drawn `daysAgo` days ago, booked as createLoan books it, with its servicing workflow running. */
async function loan(daysAgo: number, termMonths = 12) {
  const applicationId = `api-svc-${++seq}-${Date.now().toString(36)}`;
  const seeded = await seedLoan(h.db.db, h.cipher, sandboxProviders(h.sandbox), {
    applicationId,
    phone: `1390000${String(1000 + seq).slice(-4)}`,
    disbursedAtMs: Date.now() - daysAgo * DAY,
    termMonths,
  });
  await h.env.client.workflow.start('loanServicing', {
    taskQueue: h.config.TEMPORAL_TASK_QUEUE,
    workflowId: loanServicingWorkflowId(seeded.loanId),
    args: [{ loanId: seeded.loanId, applicationId, collateralRegistrationOutstanding: false }],
  });
  return { ...seeded, applicationId };
}

const pay = (loanId: string, reference: string, amountFen: number, token = finance1) =>
  h.http.post(`/loans/${loanId}/repayments`).set(auth(token)).send({ amountFen, paidAt: new Date().toISOString(), reference });
const statement = (loanId: string, token = collections) => h.http.get(`/loans/${loanId}/statement`).set(auth(token));

describe('an overdue loan through the API', () => {
  let l: Awaited<ReturnType<typeof loan>>;
  let penaltyToday: number;
  beforeAll(async () => {
    l = await loan(45);
  });

  it('collections reads its statement: instalment 1 overdue with its penalty by day range, worked out by hand', async () => {
    const res = await statement(l.loanId);
    expect(res.status).toBe(200);
    documented('get', '/loans/{id}/statement', res);
    const first = l.schedule[0]!;
    const late = days(first.dueDate, today());
    expect(late).toBeGreaterThan(3); // beyond the grace days: penalty from the due date
    // 6.5% × 1.5 = 9.75% a year, /360 a day, on the overdue principal, for every day late.
    penaltyToday = Math.round((first.principalFen * 975 * late) / 3_600_000);
    expect(res.body.instalments[0]).toMatchObject({
      seq: 1,
      status: 'overdue',
      due: { principalFen: first.principalFen, interestFen: first.interestFen, penaltyFen: penaltyToday },
      outstanding: { principalFen: first.principalFen, interestFen: first.interestFen, penaltyFen: penaltyToday },
      daysPastDue: late,
    });
    expect(res.body.instalments[0].penaltyRanges).toEqual([
      { from: addDays(first.dueDate, 1), to: today(), days: late, baseFen: first.principalFen, annualRateBps: 975, penaltyFen: penaltyToday, capped: false, forgiven: false },
    ]);
    expect(res.body.totals).toMatchObject({ overdueFen: first.totalFen + penaltyToday, unappliedFen: 0 });
  });

  it('finance books part of the instalment: penalty, then interest, then principal; collections may not', async () => {
    expect((await pay(l.loanId, 'api-part-1', 200_000, collections)).status).toBe(403);
    const res = await pay(l.loanId, 'api-part-1', 200_000);
    expect(res.status).toBe(200);
    documented('post', '/loans/{id}/repayments', res);
    const first = l.schedule[0]!;
    expect(res.body).toMatchObject({ outcome: 'applied', kind: 'regular', bucket: 'M1' });
    expect(res.body.allocations).toEqual([
      { seq: 1, component: 'penalty', amountFen: penaltyToday },
      { seq: 1, component: 'interest', amountFen: first.interestFen },
      { seq: 1, component: 'principal', amountFen: 200_000 - penaltyToday - first.interestFen },
    ]);
    const after = (await statement(l.loanId)).body;
    const paid = after.instalments[0].paid;
    expect(paid.principalFen + paid.interestFen + paid.penaltyFen).toBe(200_000);
    expect(after.totals.receivedFen).toBe(200_000);
  });

  it('a reversal takes effect only when a second finance user approves it, and restores the loan with its penalty', async () => {
    const asked = await h.http.post(`/loans/${l.loanId}/repayments/api-part-1/reversal`).set(auth(finance1)).send({ reasonCode: 'BOOKED_IN_ERROR', reason: '客户转错账户' });
    expect(asked.status).toBe(202);
    documented('post', '/loans/{id}/repayments/{reference}/reversal', asked);
    expect(asked.body).toMatchObject({ kind: 'reversal', status: 'pending_approval', pendingApprovals: [expect.objectContaining({ kind: 'reversal', requestedBy: 'fin-one', reference: 'api-part-1' })] });
    // Asked again: the same request, still waiting.
    const again = await h.http.post(`/loans/${l.loanId}/repayments/api-part-1/reversal`).set(auth(finance1)).send({ reasonCode: 'BOOKED_IN_ERROR' });
    expect(again.status).toBe(202);
    expect(again.body.requestId).toBe(asked.body.requestId);

    const own = await h.http.post(`/loans/${l.loanId}/repayments/api-part-1/reversal/approve`).set(auth(finance1)).send({});
    expect(own.status).toBe(403);
    expect(own.body).toMatchObject({ code: 'SAME_FINANCE_USER' });
    expect((await statement(l.loanId)).body.totals.receivedFen).toBe(200_000);

    const approved = await h.http.post(`/loans/${l.loanId}/repayments/api-part-1/reversal/approve`).set(auth(finance2)).send({ decision: 'approve' });
    expect(approved.status).toBe(200);
    documented('post', '/loans/{id}/repayments/{reference}/reversal/approve', approved);
    expect(approved.body).toMatchObject({ status: 'applied', pendingApprovals: [] });
    const first = l.schedule[0]!;
    const restored = (await statement(l.loanId)).body;
    expect(restored.instalments[0]).toMatchObject({ status: 'overdue', paid: { principalFen: 0, interestFen: 0, penaltyFen: 0 }, outstanding: { principalFen: first.principalFen, penaltyFen: penaltyToday } });
    expect(restored.transactions).toEqual([expect.objectContaining({ kind: 'repayment', reference: 'api-part-1', status: 'reversed' }), expect.objectContaining({ kind: 'reversal', status: 'applied' })]);
    expect((await h.http.post(`/loans/${l.loanId}/repayments/api-part-1/reversal/approve`).set(auth(finance2)).send({})).status).toBe(409);
  });

  it('a penalty waiver by two finance users, then the instalment paid settles it', async () => {
    const asked = await h.http.post(`/loans/${l.loanId}/waivers`).set(auth(finance2)).send({ component: 'penalty', amountFen: penaltyToday, reasonCode: 'GOODWILL' });
    expect(asked.status).toBe(202);
    documented('post', '/loans/{id}/waivers', asked);
    const tooMuch = await h.http.post(`/loans/${l.loanId}/waivers`).set(auth(finance2)).send({ component: 'penalty', amountFen: penaltyToday + 10_000, reasonCode: 'GOODWILL' });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body).toMatchObject({ ledgerCode: 'WAIVER_EXCEEDS_OUTSTANDING' });
    const approved = await h.http.post(`/loans/${l.loanId}/waivers/${asked.body.requestId}/approve`).set(auth(finance1)).send({});
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'applied', waivedFen: penaltyToday, penaltyFen: 0 });
    const res = await pay(l.loanId, 'api-full-1', l.schedule[0]!.totalFen);
    expect(res.body).toMatchObject({ outcome: 'applied', bucket: null, overdueFen: 0 });
  });
});

describe('one payment reference, told the truth (issue 15, finding 3)', () => {
  it('two amounts at once: one is booked (200 applied), the other is 409; ten repeats at once: one applied, nine duplicates with the original booking', async () => {
    const l = await loan(45);
    const [a, b] = await Promise.all([pay(l.loanId, 'api-twice', 10_000), pay(l.loanId, 'api-twice', 20_000)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? a : b;
    const loser = a.status === 200 ? b : a;
    expect(winner.body.outcome).toBe('applied');
    expect(loser.body).toMatchObject({ code: 'REFERENCE_CONFLICT' });
    const booked = (await statement(l.loanId)).body.transactions;
    expect(booked).toHaveLength(1);
    expect(booked[0].amountFen).toBe(winner.body.allocations.reduce((s: number, x: { amountFen: number }) => s + x.amountFen, 0) + winner.body.creditFen);

    const ten = await Promise.all(Array.from({ length: 10 }, () => pay(l.loanId, 'api-ten', 30_000)));
    expect(ten.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(ten.filter((r) => r.body.outcome === 'applied')).toHaveLength(1);
    expect(ten.filter((r) => r.body.outcome === 'duplicate')).toHaveLength(9);
    const original = ten.find((r) => r.body.outcome === 'applied')!.body.allocations;
    for (const r of ten) expect(r.body.allocations).toEqual(original);
    expect((await statement(l.loanId)).body.transactions).toHaveLength(2);
    // Later, the same reference and amount again is a duplicate; another amount a conflict.
    expect((await pay(l.loanId, 'api-ten', 30_000)).body).toMatchObject({ outcome: 'duplicate', allocations: original });
    expect((await pay(l.loanId, 'api-ten', 30_001)).status).toBe(409);
  });
});

describe('overpayment, refund, payoff and prepayment', () => {
  it('an overpayment is held as credit; a refund approved by a second finance user leaves it at zero, and the provider paid one refund', async () => {
    const l = await loan(2);
    const paid = await pay(l.loanId, 'api-over', 25_000);
    expect(paid.body).toMatchObject({ outcome: 'applied', allocations: [], creditFen: 25_000 });
    const asked = await h.http.post(`/loans/${l.loanId}/refunds`).set(auth(finance1)).set('Idempotency-Key', `rf-${l.loanId}`).send({ amountFen: 25_000, reasonCode: 'OVERPAYMENT' });
    expect(asked.status).toBe(202);
    documented('post', '/loans/{id}/refunds', asked);
    expect((await h.http.post(`/loans/${l.loanId}/refunds/${asked.body.requestId}/approve`).set(auth(finance1)).send({})).status).toBe(403);
    // A waiver id is not a refund.
    expect((await h.http.post(`/loans/${l.loanId}/waivers/${asked.body.requestId}/approve`).set(auth(finance2)).send({})).status).toBe(404);
    const approved = await h.http.post(`/loans/${l.loanId}/refunds/${asked.body.requestId}/approve`).set(auth(finance2)).send({});
    expect(approved.status).toBe(200);
    documented('post', '/loans/{id}/refunds/{requestId}/approve', approved);
    expect(approved.body).toMatchObject({ status: 'applied', refundedFen: 25_000, creditFen: 0 });
    const ledger = (await (await fetch(`${h.sandbox.url}/payments/v1/ledger?reference=${encodeURIComponent(`${l.loanId}/refund/${asked.body.requestId}`)}`)).json()) as { entries: unknown[] };
    expect(ledger.entries).toEqual([expect.objectContaining({ kind: 'refund', amountFen: 25_000 })]);
    expect((await statement(l.loanId)).body.totals).toMatchObject({ unappliedFen: 0, refundedFen: 25_000, receivedFen: 25_000 });
  });

  it('a payoff quote paid on its date closes the loan with the fee', async () => {
    const l = await loan(10);
    const res = await h.http.get(`/loans/${l.loanId}/payoff-quote?date=${today()}`).set(auth(collections));
    expect(res.status).toBe(200);
    documented('get', '/loans/{id}/payoff-quote', res);
    // By hand: all the principal, instalment 1's interest for the days elapsed, and the 3% fee of
    // the first year, held to what the 24% cap leaves after that interest (the cap binds this early).
    const first = l.schedule[0]!;
    const elapsed = days(first.periodStartDate, today());
    const period = days(first.periodStartDate, first.dueDate);
    const accrued = Math.round((first.interestFen * elapsed) / period);
    const allowance = Math.floor((15_000_000 * 2400 * elapsed) / (10_000 * 360) - accrued);
    const fee = Math.min(Math.round(15_000_000 * 0.03), allowance);
    expect(res.body).toMatchObject({ asOfDate: today(), validUntil: today(), principalFen: 15_000_000, accruedInterestFen: accrued, feeFen: fee, feeBps: 300, totalFen: 15_000_000 + accrued + fee });
    const paid = await pay(l.loanId, 'api-payoff', res.body.totalFen);
    expect(paid.body).toMatchObject({ outcome: 'applied', kind: 'early_payoff', outstandingPrincipalFen: 0 });
    const deadline = Date.now() + 60_000;
    let closed;
    do {
      closed = (await statement(l.loanId)).body;
      if (closed.status === 'closed') break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < deadline);
    expect(closed).toMatchObject({ status: 'closed', settled: { how: 'early_payoff' }, totals: { paidFen: { feeFen: fee }, balanceFen: 0, unappliedFen: 0 } });
    expect((await h.http.get(`/loans/${l.loanId}/payoff-quote`).set(auth(finance1))).status).toBe(409);
  });

  it('a partial prepayment re-amortises the rest: a new schedule version whose principal parts sum to the outstanding principal', async () => {
    const l = await loan(5, 24);
    const res = await h.http.post(`/loans/${l.loanId}/prepayments`).set(auth(finance1)).send({ amountFen: 3_000_000, mode: 'reduce_installment', reference: 'api-pre' });
    expect(res.status).toBe(200);
    documented('post', '/loans/{id}/prepayments', res);
    expect(res.body).toMatchObject({ outcome: 'applied', kind: 'prepayment', newSchedule: { version: 2, instalments: 24 } });
    const schedule = await h.http.get(`/loans/${l.loanId}/schedule`).set(auth(finance1));
    expect(schedule.body.scheduleVersion).toBe(2);
    const principal = schedule.body.installments.reduce((s: number, i: { principalFen: number }) => s + i.principalFen, 0);
    expect(principal).toBe(res.body.outstandingPrincipalFen);
    expect(schedule.body.installments[0].totalFen).toBe(res.body.newSchedule.instalmentFen);
    expect(schedule.body.installments[0].totalFen).toBeLessThan(l.schedule[0]!.totalFen);
    expect((await loadSchedule(h.db.db, l.loanId)).every((r) => r.version === 2)).toBe(true);
  });
});

describe('the loan book', () => {
  it('filters by status, bucket and branch, pages with a cursor, for finance and collections', async () => {
    const overdue = await loan(45);
    const current = await loan(3);
    // The bucket is the one the servicing workflow mirrored at its start.
    const deadline = Date.now() + 60_000;
    let page;
    do {
      page = await h.http.get('/loans?status=active&bucket=M1&branchId=BJ-001&limit=100').set(auth(collections));
      if (page.body.items?.some((i: { loanId: string }) => i.loanId === overdue.loanId)) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < deadline);
    expect(page.status).toBe(200);
    documented('get', '/loans', page);
    const item = page.body.items.find((i: { loanId: string }) => i.loanId === overdue.loanId);
    expect(item).toMatchObject({ status: 'active', bucket: 'M1', branchId: 'BJ-001', daysPastDue: days(overdue.schedule[0]!.dueDate, today()) });
    expect(page.body.items.some((i: { loanId: string }) => i.loanId === current.loanId)).toBe(false);
    const none = await h.http.get('/loans?bucket=none&limit=100').set(auth(finance1));
    expect(none.body.items.some((i: { loanId: string }) => i.loanId === current.loanId)).toBe(true);
    // Pages of one: every loan once, in id order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const p: { body: { items: { loanId: string }[]; nextCursor: string | null } } = await h.http.get(`/loans?limit=1${cursor ? `&cursor=${cursor}` : ''}`).set(auth(finance1));
      seen.push(...p.body.items.map((i) => i.loanId));
      cursor = p.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining([overdue.loanId, current.loanId]));
    expect((await h.http.get('/loans').set(auth(await h.token('officer-x', 'officer')))).status).toBe(403);
  });
});

describe('bad input is a 400 naming the field, before anything reaches a workflow', () => {
  let loanId: string;
  beforeAll(async () => {
    ({ loanId } = await loan(20));
  });
  const now = () => new Date().toISOString();
  it.each([
    ['post', '/repayments', { amountFen: 0, paidAt: now(), reference: 'r' }, '#/amountFen'],
    ['post', '/repayments', { amountFen: 1.5, paidAt: now(), reference: 'r' }, '#/amountFen'],
    ['post', '/repayments', { amountFen: '100', paidAt: now(), reference: 'r' }, '#/amountFen'],
    ['post', '/repayments', { amountFen: 100, paidAt: new Date(Date.now() + 3_600_000).toISOString(), reference: 'r' }, '#/paidAt'],
    ['post', '/repayments', { amountFen: 100, paidAt: '2026-02-30T10:00:00+08:00', reference: 'r' }, '#/paidAt'],
    ['post', '/repayments', { amountFen: 100, paidAt: '2001-01-01T10:00:00+08:00', reference: 'r' }, '#/paidAt'],
    ['post', '/repayments', { amountFen: 100, paidAt: now(), reference: 'has space' }, '#/reference'],
    ['post', '/repayments', { amountFen: 100, paidAt: now(), reference: 'x'.repeat(129) }, '#/reference'],
    ['post', '/prepayments', { amountFen: 100, mode: 'shorter', reference: 'p' }, '#/mode'],
    ['post', '/waivers', { component: 'principal', amountFen: 100, reasonCode: 'GOODWILL' }, '#/component'],
    ['post', '/waivers', { component: 'penalty', amountFen: 100, reasonCode: 'goodwill' }, '#/reasonCode'],
    ['post', '/waivers', { component: 'penalty', amountFen: 100, reasonCode: 'GOODWILL', reason: 'bad \u0007 bell' }, '#/reason'],
    ['post', '/refunds', { amountFen: -1, reasonCode: 'OVERPAYMENT' }, '#/amountFen'],
    ['post', '/refunds', { amountFen: 100, reasonCode: 'OVERPAYMENT', extra: 1 }, '#/extra'],
    ['get', `/payoff-quote?date=${addDays(shanghaiDate(Date.now()), 31)}`, undefined, '#/date'],
    ['get', `/payoff-quote?date=${addDays(shanghaiDate(Date.now()), -1)}`, undefined, '#/date'],
    ['get', '/payoff-quote?date=2026-13-01', undefined, '#/date'],
    ['get', `/statement?asOf=${addDays(shanghaiDate(Date.now()), 1)}`, undefined, '#/asOf'],
  ] as const)('%s …%s %j → 400 at %s', async (method, suffix, body, pointer) => {
    const req = h.http[method](`/loans/${loanId}${suffix}`).set(auth(finance1));
    const res = method === 'post' ? await req.send(body as object) : await req;
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
  });

  it('a cursor the API did not give out, and an unknown loan', async () => {
    const bad = await h.http.get(`/loans?cursor=${Buffer.from('\u0000x').toString('base64url')}`).set(auth(finance1));
    expect(bad.status).toBe(400);
    expect((await h.http.get('/loans/no-such-loan/statement').set(auth(finance1))).status).toBe(404);
    expect((await h.http.post('/loans/no-such-loan/repayments/r/reversal').set(auth(finance1)).send({ reasonCode: 'BOOKED_IN_ERROR' })).status).toBe(404);
    expect((await h.http.post(`/loans/${loanId}/repayments/never-paid/reversal`).set(auth(finance1)).send({ reasonCode: 'BOOKED_IN_ERROR' })).status).toBe(404);
  });
});
