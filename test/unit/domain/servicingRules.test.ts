import {
  buildSchedule,
  collateralReminderDue,
  collateralReminderText,
  delinquencyOn,
  instalmentReminderText,
  isFullyPaid,
  nextChangeDate,
  nextCollateralReminder,
  outstandingPrincipalFen,
  payoffDateProblem,
  payoffSettlement,
  reminderRemindOn,
  statusesOn,
  type ScheduleRow,
} from '../../../src/domain';

// Three instalments of 100,000 fen principal each at 12% a year, equal principal, paid out on
// 2026-01-10: interest 3,000 / 2,000 / 1,000 fen (1% a month on the balance), due on the 10th.
const schedule: ScheduleRow[] = buildSchedule({ principalFen: 300_000, annualRateBps: 1200, termMonths: 3, method: 'equal_principal', disbursementDate: '2026-01-10' });

describe('servicing rules over a small loan worked out by hand', () => {
  it('is the schedule the figures below assume', () => {
    expect(schedule.map((r) => [r.dueDate, r.principalFen, r.interestFen, r.totalFen])).toEqual([
      ['2026-02-10', 100_000, 3_000, 103_000],
      ['2026-03-10', 100_000, 2_000, 102_000],
      ['2026-04-10', 100_000, 1_000, 101_000],
    ]);
  });

  it('counts principal as paid only after the interest of its instalment', () => {
    expect(outstandingPrincipalFen(schedule, [])).toBe(300_000);
    expect(outstandingPrincipalFen(schedule, [3_000])).toBe(300_000);
    expect(outstandingPrincipalFen(schedule, [53_000])).toBe(250_000);
    expect(outstandingPrincipalFen(schedule, [103_000, 102_000, 101_000])).toBe(0);
    expect(isFullyPaid(schedule, [103_000, 102_000, 100_999])).toBe(false);
    expect(isFullyPaid(schedule, [103_000, 102_000, 101_000])).toBe(true);
  });

  it('gives each instalment its status and the loan its bucket by the calendar', () => {
    expect(statusesOn(schedule, [103_000], '2026-03-10')).toEqual(['paid', 'due', 'scheduled']);
    expect(statusesOn(schedule, [], '2026-02-11')).toEqual(['overdue', 'scheduled', 'scheduled']);
    expect(delinquencyOn(schedule, [], '2026-02-10')).toBeNull();
    expect(delinquencyOn(schedule, [], '2026-02-11')).toMatchObject({ seq: 1, daysPastDue: 1, bucket: 'M1', actions: ['sms'] });
    // 2026-02-10 + 31 days: the oldest arrear enters M2.
    expect(delinquencyOn(schedule, [50_000], '2026-03-13')).toMatchObject({ seq: 1, daysPastDue: 31, bucket: 'M2' });
    expect(delinquencyOn(schedule, [103_000], '2026-03-11')).toMatchObject({ seq: 2, bucket: 'M1' });
    expect(delinquencyOn(schedule, [103_000, 102_000, 101_000], '2026-06-01')).toBeNull();
  });

  it('wakes on the next day something changes: a reminder window, a due date passed, the next bucket', () => {
    // Three days before the first due date the upcoming reminder is owed.
    expect(nextChangeDate(schedule, [], '2026-01-20')).toBe('2026-02-07');
    expect(nextChangeDate(schedule, [], '2026-02-07')).toBe('2026-02-11');
    expect(nextChangeDate(schedule, [], '2026-02-11')).toBe('2026-03-07');
    // A collateral reminder earlier than any of those wins.
    expect(nextChangeDate(schedule, [], '2026-01-20', [null, '2026-01-24'])).toBe('2026-01-24');
    expect(nextChangeDate(schedule, [103_000, 102_000, 101_000], '2026-01-20')).toBeNull();
  });

  it('quotes an early payoff less what was already paid towards the instalments it settles', () => {
    // On the first due date with nothing paid: the first instalment in full, the rest at par.
    const onDue = payoffSettlement(schedule, [], '2026-02-10', 0);
    expect(onDue).toMatchObject({ amountToCloseFen: 303_000, feeFen: 0, shares: [103_000, 100_000, 100_000] });
    const fee = payoffSettlement(schedule, [], '2026-02-10', 300);
    expect(fee.feeFen).toBe(6_000);
    expect(fee.amountToCloseFen).toBe(309_000);
    const partly = payoffSettlement(schedule, [3_000], '2026-02-10', 0);
    expect(partly.amountToCloseFen).toBe(300_000);
    expect(partly.shares.reduce((a, b) => a + b, 0)).toBe(300_000);
  });

  it('refuses a payoff date that is not a date, past, too far ahead or before the money went out', () => {
    expect(payoffDateProblem(schedule, 'soon', '2026-02-01')).toMatch(/YYYY-MM-DD/);
    expect(payoffDateProblem(schedule, '2026-01-31', '2026-02-01')).toMatch(/past/);
    expect(payoffDateProblem(schedule, '2026-03-04', '2026-02-01')).toMatch(/too far/);
    expect(payoffDateProblem(schedule, '2026-01-05', '2026-01-01')).toMatch(/before disbursement/);
    expect(payoffDateProblem(schedule, '2026-02-10', '2026-02-01')).toBeNull();
  });

  it('texts amounts and dates only, keyed so a reminder is sent once', () => {
    const upcoming = instalmentReminderText('L-1', 1, '2026-02-10', 103_000, { kind: 'upcoming', daysBeforeDue: 3 });
    expect(upcoming).toMatchObject({ kind: 'upcoming_3d', remindOn: '2026-02-07', template: 'repayment_upcoming' });
    expect(upcoming.text).toContain('1,030.00');
    expect(instalmentReminderText('L-1', 1, '2026-02-10', 103_000, { kind: 'due_today' })).toMatchObject({ kind: 'due_today', remindOn: '2026-02-10' });
    const overdue = instalmentReminderText('L-1', 1, '2026-02-10', 103_000, { kind: 'overdue', daysPastDue: 95, bucket: 'M3+', actions: ['collections_handoff'] });
    expect(overdue).toMatchObject({ kind: 'overdue_M3+', template: 'repayment_overdue_M3plus', remindOn: '2026-05-12' });
    expect(reminderRemindOn('2026-02-10', { kind: 'overdue', daysPastDue: 40, bucket: 'M2', actions: [] })).toBe('2026-03-13');
    expect(collateralReminderText('L-1', '2026-01-17')).toMatchObject({ messageId: 'L-1/0/collateral-2026-01-17', template: 'collateral_registration_due' });
  });

  it('owes a collateral reminder every seven days after disbursement, once each', () => {
    expect(collateralReminderDue('2026-01-10', '2026-01-16', null)).toBeNull();
    expect(collateralReminderDue('2026-01-10', '2026-01-17', null)).toBe('2026-01-17');
    expect(collateralReminderDue('2026-01-10', '2026-01-20', '2026-01-17')).toBeNull();
    expect(collateralReminderDue('2026-01-10', '2026-01-25', '2026-01-17')).toBe('2026-01-24');
    expect(nextCollateralReminder('2026-01-10', '2026-01-17')).toBe('2026-01-24');
  });
});
