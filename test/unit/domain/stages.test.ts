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
