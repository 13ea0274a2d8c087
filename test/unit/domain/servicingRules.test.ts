import {
  type Installment,
  buildSchedule,
  collateralReminderDue,
  collateralReminderText,
  delinquencyOn,
  instalmentReminderText,
  isFullyPaid,
  loanIdForApplication,
  nextChangeDate,
  nextCollateralReminder,
  outstandingPrincipalFen,
  payoffDateProblem,
  payoffSettlement,
  reminderKind,
  reminderRemindOn,
  scheduleChangeText,
  statusesOn,
  type ScheduleRow,
} from '../../../src/domain';

// The servicing rules the loan workflow and the reminder sweep share, with answers worked out by
// hand. The schedule: 12,000 CNY over 12 months, 等额本金 at 7.20% from 15 January 2026, so each
// instalment is 1,000.00 principal plus 0.6% of the balance: #1 1,072.00 (15 Feb), #2 1,066.00
// (15 Mar, a 28-day period), #3 1,060.00 (15 Apr).
const schedule: Installment[] = buildSchedule({ principalFen: 1_200_000, annualRateBps: 720, termMonths: 12, method: 'equal_principal', disbursementDate: '2026-01-15' });
const none = schedule.map(() => 0);
/** #1 paid in full, #2 partly (500.00). */
const partly = [107_200, 50_000, ...schedule.slice(2).map(() => 0)];

describe('the payoff settlement of servicing runs that predate the ledger', () => {
  test('after a partial payment: the quote less what was paid towards the instalments it settles', () => {
    // On 1 March (14 of #2's 28 days): principal not yet due 11,000.00 at par, #2's interest
    // 66.00 × 14/28 = 33.00, no fee: 11,033.00. The 500.00 paid towards #2 is deducted: 10,533.00.
    const s = payoffSettlement(schedule, partly, '2026-03-01', 0);
    expect(s).toMatchObject({ asOfDate: '2026-03-01', quoteTotalFen: 1_103_300, amountToCloseFen: 1_053_300, feeFen: 0 });
    // #2 still owes its principal and the accrued interest less the 500.00: 1,033.00 − 500.00 = 533.00;
    // #3..#12 their principal, 1,000.00 each.
    expect(s.shares).toEqual([0, 53_300, ...schedule.slice(2).map(() => 100_000)]);
    expect(s.shares.reduce((a, b) => a + b, 0)).toBe(s.amountToCloseFen);
  });

  test('a prepayment fee is added on the principal not yet due', () => {
    const s = payoffSettlement(schedule, partly, '2026-03-01', 300); // 3% of 11,000.00 = 330.00
    expect(s).toMatchObject({ quoteTotalFen: 1_136_300, amountToCloseFen: 1_086_300, feeFen: 33_000 });
    expect(s.shares.reduce((a, b) => a + b, 0)).toBe(1_086_300 - 33_000);
  });

  test('an instalment already due is owed in full', () => {
    // On 20 March #2 is due: 1,066.00 less the 500.00; #3 is the current period (5 of 31 days):
    // 1,000,000 principal not yet due counts from #3's opening balance.
    const s = payoffSettlement(schedule, partly, '2026-03-20', 0);
    const accrued3 = Math.round((6_000 * 5) / 31); // #3's interest 60.00 × 5/31
    expect(s.quoteTotalFen).toBe(106_600 + 1_000_000 + accrued3);
    expect(s.amountToCloseFen).toBe(106_600 + 1_000_000 + accrued3 - 50_000);
  });

  test('which dates a quote may be given for', () => {
    expect(payoffDateProblem(schedule, 'soon', '2026-03-01')).toMatch(/YYYY-MM-DD/);
    expect(payoffDateProblem(schedule, '2026-02-30', '2026-03-01')).toMatch(/YYYY-MM-DD/);
    expect(payoffDateProblem(schedule, '2026-02-28', '2026-03-01')).toMatch(/past/);
    // 30 days ahead is the limit: 1 March + 30 = 31 March.
    expect(payoffDateProblem(schedule, '2026-04-01', '2026-03-01')).toMatch(/too far/);
    expect(payoffDateProblem(schedule, '2026-03-31', '2026-03-01')).toBeNull();
    expect(payoffDateProblem(schedule, '2026-01-10', '2026-01-01')).toMatch(/before disbursement/);
    expect(payoffDateProblem([], '2026-03-01', '2026-03-01')).toMatch(/before disbursement/);
  });
});

describe('figures of the servicing state', () => {
  test('principal still owed: a payment covers an instalment\'s interest first', () => {
    // #2's 500.00 covers its 66.00 interest and 434.00 of principal: 566.00 + 10 × 1,000.00 left.
    expect(outstandingPrincipalFen(schedule, partly)).toBe(56_600 + 1_000_000);
    expect(outstandingPrincipalFen(schedule, none)).toBe(1_200_000);
  });

  test('fully paid only when every instalment is', () => {
    expect(isFullyPaid(schedule, schedule.map((r) => r.totalFen))).toBe(true);
    expect(isFullyPaid(schedule, [...schedule.slice(0, -1).map((r) => r.totalFen), 1])).toBe(false);
  });

  test('statuses: paid, due within three days, overdue after the due date, scheduled beyond', () => {
    expect(statusesOn(schedule, partly, '2026-03-13').slice(0, 3)).toEqual(['paid', 'due', 'scheduled']);
    expect(statusesOn(schedule, partly, '2026-03-16').slice(0, 3)).toEqual(['paid', 'overdue', 'scheduled']);
  });

  test('delinquency: the oldest unpaid instalment past due and its bucket', () => {
    // Nothing paid, 20 March: #1 is 33 days past due (16 Feb .. 20 Mar): M2, a text and a call.
    expect(delinquencyOn(schedule, none, '2026-03-20')).toEqual({ seq: 1, daysPastDue: 33, bucket: 'M2', actions: ['sms', 'call_task'] });
    expect(delinquencyOn(schedule, partly, '2026-03-15')).toBeNull(); // #2 due today, not yet overdue
    expect(delinquencyOn(schedule, partly, '2026-03-16')).toMatchObject({ seq: 2, daysPastDue: 1, bucket: 'M1' });
    expect(delinquencyOn(schedule, schedule.map((r) => r.totalFen), '2027-06-01')).toBeNull();
  });

  test('the next day something changes by the calendar alone', () => {
    // Nothing paid, 1 Feb: #1 enters its 3-day window on 12 Feb.
    expect(nextChangeDate(schedule, none, '2026-02-01')).toBe('2026-02-12');
    expect(nextChangeDate(schedule, none, '2026-02-01', ['2026-02-05', null])).toBe('2026-02-05');
    // 20 Feb, #1 overdue (M1 since 16 Feb): #2's window opens 12 Mar, before M2 on 18 Mar.
    expect(nextChangeDate(schedule, none, '2026-02-20')).toBe('2026-03-12');
    // 14 Mar: #2 falls overdue on 16 Mar; #1 enters M2 on 18 Mar.
    expect(nextChangeDate(schedule, none, '2026-03-14')).toBe('2026-03-16');
    expect(nextChangeDate(schedule, schedule.map((r) => r.totalFen), '2026-03-14')).toBeNull();
  });
});

describe('reminders', () => {
  const due = '2026-02-15';
  test('kind and day a reminder is owed from', () => {
    expect(reminderKind({ kind: 'upcoming', daysBeforeDue: 3 })).toBe('upcoming_3d');
    expect(reminderKind({ kind: 'due_today' })).toBe('due_today');
    expect(reminderKind({ kind: 'overdue', daysPastDue: 40, bucket: 'M2', actions: ['sms'] })).toBe('overdue_M2');
    expect(reminderRemindOn(due, { kind: 'upcoming', daysBeforeDue: 3 })).toBe('2026-02-12');
    expect(reminderRemindOn(due, { kind: 'due_today' })).toBe(due);
    // M2 starts on day 31: 15 Feb + 31 = 18 Mar, whichever day of the bucket the sweep runs.
    expect(reminderRemindOn(due, { kind: 'overdue', daysPastDue: 40, bucket: 'M2', actions: ['sms'] })).toBe('2026-03-18');
  });

  test('texts carry the amount and the date, never a name or a number', () => {
    expect(instalmentReminderText('L-1', 1, due, 107_200, { kind: 'upcoming', daysBeforeDue: 3 })).toEqual({
      messageId: 'L-1/1/upcoming-3d',
      kind: 'upcoming_3d',
      remindOn: '2026-02-12',
      template: 'repayment_upcoming',
      text: '【车贷】您的车贷第1期应还1,072.00元，将于2026-02-15到期，请按时还款。',
    });
    expect(instalmentReminderText('L-1', 1, due, 107_200, { kind: 'due_today' })).toMatchObject({ messageId: 'L-1/1/due-today', template: 'repayment_due_today' });
    expect(instalmentReminderText('L-1', 1, due, 107_200, { kind: 'overdue', daysPastDue: 95, bucket: 'M3+', actions: [] })).toMatchObject({
      messageId: 'L-1/1/overdue-M3+',
      template: 'repayment_overdue_M3plus',
    });
    expect(scheduleChangeText('L-1', 2, '2026-03-01', 90_360, 7, '2026-03-15')).toEqual({
      messageId: 'L-1/0/schedule-v2',
      kind: 'schedule_v2',
      remindOn: '2026-03-01',
      template: 'schedule_changed',
      text: '【车贷】您的提前还款已入账，还款计划已调整：自2026-03-15起每期应还903.60元，共7期。',
    });
    expect(collateralReminderText('L-1', '2026-01-22')).toMatchObject({ messageId: 'L-1/0/collateral-2026-01-22', kind: 'collateral_registration', remindOn: '2026-01-22' });
  });

  test('collateral registration reminders every 7 days after disbursement, each once', () => {
    const drawn = '2026-01-15';
    expect(collateralReminderDue(drawn, '2026-01-21', null)).toBeNull();
    expect(collateralReminderDue(drawn, '2026-01-22', null)).toBe('2026-01-22');
    expect(collateralReminderDue(drawn, '2026-01-30', null)).toBe('2026-01-29');
    expect(collateralReminderDue(drawn, '2026-01-30', '2026-01-29')).toBeNull();
    expect(collateralReminderDue(drawn, '2026-02-05', '2026-01-29')).toBe('2026-02-05');
    expect(nextCollateralReminder(drawn, '2026-01-15')).toBe('2026-01-22');
    expect(nextCollateralReminder(drawn, '2026-01-22')).toBe('2026-01-29');
  });

  test('the loan id of an application', () => {
    expect(loanIdForApplication('a-1')).toBe('L-a-1');
  });
});

describe('servicing rules over a small loan worked out by hand', () => {
  // Three instalments of 100,000 fen principal each at 12% a year, equal principal, paid out on
  // 2026-01-10: interest 3,000 / 2,000 / 1,000 fen (1% a month on the balance), due on the 10th.
  const schedule: ScheduleRow[] = buildSchedule({ principalFen: 300_000, annualRateBps: 1200, termMonths: 3, method: 'equal_principal', disbursementDate: '2026-01-10' });

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
