import { buildSchedule } from '../../../src/domain/schedule';
import {
  allocateRepayment,
  daysPastDue,
  installmentStatus,
  paidThroughSeq,
  reminderFor,
  reminderKey,
} from '../../../src/domain/servicing';
import { definePolicy } from '../../../src/domain/policy';
import fc from 'fast-check';

const schedule = buildSchedule({ principalFen: 10_000_000, annualRateBps: 600, termMonths: 12, method: 'equal_installment', disbursementDate: '2024-01-31' });
const first = schedule[0]!; // due 2024-02-29, 8,606.64

describe('instalment status', () => {
  test.each([
    [0, '2024-02-01', 'scheduled'],
    [0, '2024-02-25', 'scheduled'],
    [0, '2024-02-26', 'due'],
    [0, '2024-02-29', 'due'],
    [0, '2024-03-01', 'overdue'],
    [860_663, '2024-03-01', 'overdue'],
    [860_664, '2024-03-01', 'paid'],
    [860_664, '2024-02-01', 'paid'],
  ] as const)('paid %d on %s → %s', (paid, asOf, status) => {
    expect(installmentStatus(first, paid, asOf)).toBe(status);
  });

  test('days past due', () => {
    expect(daysPastDue('2024-02-29', '2024-02-28')).toBe(0);
    expect(daysPastDue('2024-02-29', '2024-02-29')).toBe(0);
    expect(daysPastDue('2024-02-29', '2024-03-31')).toBe(31);
  });
});

describe('allocating repayments', () => {
  test('oldest first, each up to its total', () => {
    const r = allocateRepayment(schedule, [], 1_000_000);
    expect(r.allocations).toEqual([
      { seq: 1, amountFen: 860_664 },
      { seq: 2, amountFen: 139_336 },
    ]);
    expect(r.paidFen.slice(0, 3)).toEqual([860_664, 139_336, 0]);
    expect(r.unappliedFen).toBe(0);
    expect(r.fullyRepaid).toBe(false);
    expect(paidThroughSeq(schedule, r.paidFen)).toBe(1);
    const next = allocateRepayment(schedule, r.paidFen, 721_328);
    expect(next.allocations).toEqual([{ seq: 2, amountFen: 721_328 }]);
    expect(paidThroughSeq(schedule, next.paidFen)).toBe(2);
  });

  test('overpayment is returned as unapplied', () => {
    const r = allocateRepayment(schedule, [], 20_000_000);
    expect(r.fullyRepaid).toBe(true);
    expect(r.unappliedFen).toBe(20_000_000 - schedule.reduce((a, i) => a + i.totalFen, 0));
    expect(paidThroughSeq(schedule, r.paidFen)).toBe(12);
  });

  test('refuses nonsense', () => {
    expect(() => allocateRepayment(schedule, [], 0)).toThrow();
    expect(() => allocateRepayment(schedule, [-1], 5)).toThrow();
    expect(() => allocateRepayment(schedule, new Array(13).fill(0), 5)).toThrow(/more paid amounts/);
  });

  test('property: money is conserved and nothing is overpaid', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3_000_000 }), { minLength: 1, maxLength: 20 }), (payments) => {
        let paid: number[] = [];
        let unapplied = 0;
        for (const p of payments) {
          const r = allocateRepayment(schedule, paid, p);
          expect(r.allocations.reduce((a, x) => a + x.amountFen, 0) + r.unappliedFen).toBe(p);
          paid = r.paidFen;
          unapplied += r.unappliedFen;
        }
        paid.forEach((x, i) => expect(x).toBeLessThanOrEqual(schedule[i]!.totalFen));
        expect(paid.reduce((a, x) => a + x, 0) + unapplied).toBe(payments.reduce((a, x) => a + x, 0));
      }),
      { numRuns: 300 },
    );
  });
});

describe('reminders', () => {
  test('3 days before, on the day, and once per overdue bucket', () => {
    expect(reminderFor(first, 0, '2024-02-25')).toBeNull();
    expect(reminderFor(first, 0, '2024-02-26')).toEqual({ kind: 'upcoming', daysBeforeDue: 3 });
    expect(reminderFor(first, 0, '2024-02-27')).toBeNull();
    expect(reminderFor(first, 0, '2024-02-29')).toEqual({ kind: 'due_today' });
    expect(reminderFor(first, 0, '2024-03-01')).toEqual({ kind: 'overdue', daysPastDue: 1, bucket: 'M1', actions: ['sms'] });
    expect(reminderFor(first, 0, '2024-06-01')).toMatchObject({ kind: 'overdue', bucket: 'M3+', actions: ['collections_handoff'] });
    expect(reminderFor(first, 860_664, '2024-02-29')).toBeNull();
  });

  test('keys make each reminder idempotent', () => {
    const a = reminderFor(first, 0, '2024-03-05')!;
    const b = reminderFor(first, 0, '2024-03-20')!;
    expect(reminderKey('L1', 1, a)).toBe('L1/1/overdue-M1');
    expect(reminderKey('L1', 1, a)).toBe(reminderKey('L1', 1, b));
    expect(reminderKey('L1', 1, { kind: 'upcoming', daysBeforeDue: 3 })).toBe('L1/1/upcoming-3d');
    expect(reminderKey('L1', 1, { kind: 'due_today' })).toBe('L1/1/due-today');
  });

  test('policy without a due-day reminder or buckets', () => {
    const p = definePolicy({ reminders: { daysBeforeDue: [7] }, overdueBuckets: [{ bucket: 'M1', minDays: 1, maxDays: 30, actions: ['sms'] }] });
    expect(reminderFor(first, 0, '2024-02-29', p)).toBeNull();
    expect(reminderFor(first, 0, '2024-02-22', p)).toEqual({ kind: 'upcoming', daysBeforeDue: 7 });
    expect(reminderFor(first, 0, '2024-05-01', p)).toBeNull();
    expect(installmentStatus(first, 0, '2024-02-22', p)).toBe('due');
  });
});
