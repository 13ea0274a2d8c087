import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../contracts/failures';
import { activeMandate, debitAttemptByKey, instalmentDebitAttempts, recordDebitAnswer, recordDebitRequested } from '../db/autoDebit';
import type { Db } from '../db/client';
import { readLedger } from '../db/ledger';
import { computeLedger, type DebitPolicy, DEFAULT_DEBIT_POLICY, debitIdempotencyKey, debitTarget, decideDebit, type IsoDate } from '../domain';
import type { Debit, WithholdingClient } from './providers/withholding';

/**
 * The debit of one loan on one day (issue 19), as one idempotent activity: what the ledger says
 * is owed, the loan's active mandate and the attempts so far decide (src/domain/autoDebit.ts);
 * an attempt is written before the channel is asked and its answer after, under the attempt's
 * key, so an activity retried after a crash or a lost answer asks the same debit again and the
 * channel answers the one it made. A successful debit is returned for the caller to book as a
 * repayment (reference: the channel's debit id); booking is not done here.
 */
export type DebitOutcome =
  | { outcome: 'no_mandate' | 'nothing_due' }
  | { outcome: 'waiting'; seq: number; until: IsoDate | null; reason: 'not_due' | 'next_attempt_day' | 'pending_settlement' }
  | { outcome: 'stopped'; seq: number; reason: 'paid' | 'final_answer' | 'attempts_exhausted' }
  | {
      outcome: 'answered';
      seq: number;
      attempt: number;
      idempotencyKey: string;
      debitId: string;
      amountFen: number;
      status: 'succeeded' | 'pending' | 'failed';
      failureCode: string | null;
      /** The channel had the debit already (a retry after a lost answer). */
      replayed: boolean;
    };

function answered(seq: number, attempt: number, idempotencyKey: string, debit: Debit, amountFen: number): DebitOutcome {
  return {
    outcome: 'answered',
    seq,
    attempt,
    idempotencyKey,
    debitId: debit.debitId,
    amountFen,
    status: debit.status,
    failureCode: debit.failureCode,
    replayed: debit.replayed,
  };
}

export function createAutoDebitActivities(deps: { db: Db; withholding: WithholdingClient; policy?: DebitPolicy; now?: () => Date }) {
  const { db, withholding } = deps;
  const policy = deps.policy ?? DEFAULT_DEBIT_POLICY;
  const now = deps.now ?? (() => new Date());

  return {
    async debitLoan(input: { loanId: string; today: IsoDate }): Promise<DebitOutcome> {
      const stored = await readLedger(db, input.loanId);
      if (!stored) throw ApplicationFailure.nonRetryable(`no loan ${input.loanId}`, FailureType.LoanNotFound);
      const target = debitTarget(computeLedger(stored.contract, stored.transactions, input.today));
      if (!target) return { outcome: 'nothing_due' };
      const attempts = await instalmentDebitAttempts(db, input.loanId, target.seq);
      const decision = decideDebit({ loanId: input.loanId, ...target, attempts }, input.today, policy);
      if (decision.action === 'wait' && decision.reason === 'pending_settlement') {
        // A pending debit: ask the channel what became of it, and record it once it has settled.
        const last = attempts.at(-1)!;
        const key = debitIdempotencyKey(input.loanId, target.seq, last.attempt);
        const row = await debitAttemptByKey(db, key);
        if (row?.debitId) {
          const debit = await withholding.getDebit(row.debitId);
          if (debit.status !== 'pending') {
            await recordDebitAnswer(db, key, { debitId: debit.debitId, status: debit.status, failureCode: debit.failureCode, at: now() });
            return answered(target.seq, last.attempt, key, debit, row.amountFen);
          }
        }
      }
      if (decision.action === 'wait') return { outcome: 'waiting', seq: target.seq, until: decision.until, reason: decision.reason };
      if (decision.action === 'stop') return { outcome: 'stopped', seq: target.seq, reason: decision.reason };

      let mandateId: string;
      let amountFen: number;
      if (decision.action === 'ask_again') {
        // The stored attempt is the body the channel saw: ask exactly that again.
        const row = await debitAttemptByKey(db, decision.idempotencyKey);
        if (!row) throw new Error(`debit attempt ${decision.idempotencyKey} vanished`);
        mandateId = row.mandateId;
        amountFen = row.amountFen;
      } else {
        const mandate = await activeMandate(db, input.loanId);
        if (!mandate) return { outcome: 'no_mandate' };
        mandateId = mandate.mandateId;
        amountFen = decision.amountFen;
        await recordDebitRequested(db, {
          idempotencyKey: decision.idempotencyKey,
          loanId: input.loanId,
          seq: target.seq,
          attempt: decision.attempt,
          onDate: decision.onDate,
          mandateId,
          amountFen,
        });
      }
      const debit = await withholding.requestDebit({ mandateId, amountFen, currency: 'CNY', reference: input.loanId }, decision.idempotencyKey);
      await recordDebitAnswer(db, decision.idempotencyKey, { debitId: debit.debitId, status: debit.status, failureCode: debit.failureCode, at: now() });
      return answered(target.seq, decision.attempt, decision.idempotencyKey, debit, amountFen);
    },
  };
}
