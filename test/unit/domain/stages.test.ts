import {
  ACTIVE_STAGES,
  IllegalTransitionError,
  STAGES,
  STAGE_LABELS_ZH,
  STAGE_TRANSITIONS,
  TERMINAL_STAGES,
  type Stage,
  assertTransition,
  canTransition,
  isStage,
  isTerminal,
  nextStages,
  withdrawable,
} from '../../../src/domain/stages';

/**
 * The product's stage graph (SPEC §2, docs/architecture.md "Stage flow"), written out by hand: the
 * table in src/domain/stages.ts must allow exactly these moves and no other.
 */
const EXPECTED_MOVES: Record<Stage, Stage[]> = {
  intake: ['document_check', 'rejected', 'withdrawn', 'failed'], // blacklist / duplicate → rejected
  document_check: ['phone_verification', 'rejected', 'expired', 'withdrawn', 'failed'], // 7 days → expired
  phone_verification: ['valuation', 'rejected', 'expired', 'withdrawn', 'failed'], // failed call / unreachable ×3 → rejected; 72 h → expired
  valuation: ['approval', 'rejected', 'withdrawn', 'failed'], // stolen vehicle → rejected
  approval: ['signing', 'document_check', 'rejected', 'expired', 'withdrawn', 'failed'], // request_info → document_check; 7 days → expired
  signing: ['disbursement', 'expired', 'withdrawn', 'failed'], // offer unsigned 7 days → expired
  disbursement: ['servicing', 'failed'], // money sent: no withdrawal
  servicing: ['closed'],
  closed: [],
  rejected: [],
  withdrawn: [],
  expired: [],
  failed: [],
};

/**
 * Which terminal stages can still be reached, by any path, from each stage (by hand: every stage
 * before disbursement can still end every way but closed only through servicing, and so on).
 */
const ALL_ENDINGS: Stage[] = ['closed', 'rejected', 'withdrawn', 'expired', 'failed'];
const EXPECTED_ENDINGS: Record<Stage, Stage[]> = {
  intake: ALL_ENDINGS,
  document_check: ALL_ENDINGS,
  phone_verification: ALL_ENDINGS,
  valuation: ALL_ENDINGS,
  approval: ALL_ENDINGS,
  signing: ['closed', 'withdrawn', 'expired', 'failed'], // rejection is behind it
  disbursement: ['closed', 'failed'],
  servicing: ['closed'],
  closed: [],
  rejected: [],
  withdrawn: [],
  expired: [],
  failed: [],
};

/** Every stage reachable from `from` by following allowed moves (breadth first, `from` excluded). */
function reachable(from: Stage): Set<Stage> {
  const seen = new Set<Stage>();
  const queue: Stage[] = [from];
  while (queue.length > 0) {
    const s = queue.shift() as Stage;
    for (const next of STAGES) {
      if (canTransition(s, next) && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

describe('the transition graph', () => {
  test.each(STAGES.map((s) => [s]))('%s allows exactly the moves of the product, and no other', (from) => {
    const allowed = STAGES.filter((to) => canTransition(from, to));
    expect(allowed.sort()).toEqual([...EXPECTED_MOVES[from]].sort());
    // The table and the functions over it say the same thing.
    expect([...nextStages(from)].sort()).toEqual([...EXPECTED_MOVES[from]].sort());
    for (const to of STAGES) {
      if (EXPECTED_MOVES[from].includes(to)) expect(assertTransition(from, to)).toBe(to);
      else expect(() => assertTransition(from, to)).toThrow(IllegalTransitionError);
    }
  });

  test.each(STAGES.map((s) => [s]))('from %s every terminal stage it allows is reachable, and no other', (from) => {
    const endings = [...reachable(from)].filter((s) => isTerminal(s));
    expect(endings.sort()).toEqual([...EXPECTED_ENDINGS[from]].sort());
  });

  test('every active stage is reachable from intake, and every path ends: no stage is a dead end but the terminal ones', () => {
    const fromIntake = reachable('intake');
    for (const s of STAGES) if (s !== 'intake') expect(fromIntake).toContain(s);
    for (const s of ACTIVE_STAGES) expect(nextStages(s).length).toBeGreaterThan(0);
    // intake is never re-entered (the only loop is request_info back to document_check).
    expect(STAGES.filter((s) => canTransition(s, 'intake'))).toEqual([]);
    expect(STAGES.filter((s) => reachable(s).has(s))).toEqual(['document_check', 'phone_verification', 'valuation', 'approval']);
  });
});

describe('stage table', () => {
  test('every stage is in the table and labelled', () => {
    expect(Object.keys(STAGE_TRANSITIONS).sort()).toEqual([...STAGES].sort());
    expect(Object.keys(STAGE_LABELS_ZH).sort()).toEqual([...STAGES].sort());
    for (const targets of Object.values(STAGE_TRANSITIONS)) for (const t of targets) expect(STAGES).toContain(t);
  });

  test('the happy path is allowed in order', () => {
    for (let i = 1; i < ACTIVE_STAGES.length; i++) {
      expect(canTransition(ACTIVE_STAGES[i - 1] as Stage, ACTIVE_STAGES[i] as Stage)).toBe(true);
    }
    expect(canTransition('servicing', 'closed')).toBe(true);
  });

  test('request_info sends approval back to document_check', () => {
    expect(canTransition('approval', 'document_check')).toBe(true);
    expect(canTransition('signing', 'approval')).toBe(false);
  });

  test('terminal stages go nowhere; no stage moves to itself', () => {
    for (const t of TERMINAL_STAGES) {
      expect(isTerminal(t)).toBe(true);
      expect(nextStages(t)).toEqual([]);
      for (const s of STAGES) expect(canTransition(t, s)).toBe(false);
    }
    for (const s of STAGES) expect(canTransition(s, s)).toBe(false);
    for (const s of ACTIVE_STAGES) expect(isTerminal(s)).toBe(false);
  });

  test('withdrawal is possible before disbursement only', () => {
    expect(ACTIVE_STAGES.filter(withdrawable)).toEqual(['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing']);
    expect(withdrawable('disbursement')).toBe(false);
    expect(withdrawable('servicing')).toBe(false);
    expect(withdrawable('withdrawn')).toBe(false);
  });

  test('closed only from servicing; every stage with an external call can fail', () => {
    expect(STAGES.filter((s) => canTransition(s, 'closed'))).toEqual(['servicing']);
    for (const s of ['intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing', 'disbursement'] as const) {
      expect(canTransition(s, 'failed')).toBe(true);
    }
    expect(canTransition('disbursement', 'withdrawn')).toBe(false);
    expect(canTransition('intake', 'approval')).toBe(false);
  });

  test('assertTransition throws a typed error', () => {
    expect(assertTransition('intake', 'document_check')).toBe('document_check');
    expect(() => assertTransition('closed', 'servicing')).toThrow(IllegalTransitionError);
    try {
      assertTransition('servicing', 'approval');
      throw new Error('unreachable');
    } catch (e) {
      expect(e).toBeInstanceOf(IllegalTransitionError);
      expect(e).toMatchObject({ from: 'servicing', to: 'approval', name: 'IllegalTransitionError', message: 'illegal stage transition servicing -> approval' });
    }
    expect(IllegalTransitionError.type).toBe('IllegalTransition');
  });

  test('isStage guards input', () => {
    expect(isStage('approval')).toBe(true);
    expect(isStage('approved')).toBe(false);
    expect(isStage(3)).toBe(false);
    expect(canTransition('bogus' as Stage, 'closed')).toBe(false);
    expect(nextStages('bogus' as Stage)).toEqual([]);
  });
});
