import { sleep } from '@temporalio/workflow';
import { FailureType, refusalCode } from '../../../contracts/failures';
import type { Offer } from '../../../domain';
import { call, payments, settlement } from '../activities';
import { PATCH } from '../patches';
import { yuan } from '../publish';
import { StageExit, type ApplicationRun } from '../run';

/** How long runs that started before the settlement activity wait between looks at a pending transfer. */
const TRANSFER_POLL_MS = 5_000;

/**
 * disbursement: the dealer or the customer paid exactly once (the payment's key is the
 * application's), the transfer waited for until it settles, then the loan and its schedule stored.
 */
export async function disbursement(run: ApplicationRun): Promise<void> {
  const { state, applicationId } = run;
  await run.enter('disbursement');
  const offer = state.offer as Offer;
  const amountFen = offer.amountFen - offer.upfrontFeeFen;
  let paid;
  try {
    paid = await call(payments.disburseLoan, `pay out ${yuan(amountFen)} (exactly once, keyed by the application)`, { applicationId, amountFen });
  } catch (err) {
    const code = refusalCode(err, FailureType.PaymentRefused);
    if (code === null && refusalCode(err, FailureType.PayeeAccountMissing) === null) throw err;
    run.addFlag(code ? `PAYMENT_${code.toUpperCase()}` : 'PAYEE_ACCOUNT_MISSING');
    throw new StageExit('failed', 'DISBURSEMENT_REFUSED');
  }
  state.transferId = paid.transferId;
  if (paid.sandboxFallbackAccount) run.addFlag('SANDBOX_PAYEE_ACCOUNT');
  const transferId = paid.transferId;
  run.saga.add('payout', async (reason) => {
    const r = await call(payments.reverseDisbursement, `reverse transfer ${transferId}`, { applicationId, transferId, reasonCode: reason });
    return r.status;
  });
  let status = paid.status;
  if (status === 'pending' && run.patched(PATCH.transferSettlementActivity)) {
    status = (await call(settlement.awaitTransferSettled, `wait for transfer ${transferId} to settle`, { applicationId, transferId })).status;
  }
  // Runs that started before the settlement activity look at the transfer every 5 s.
  while (status === 'pending') {
    await sleep(TRANSFER_POLL_MS, { summary: 'wait for the transfer to settle' });
    status = (await call(payments.transferStatus, `look at transfer ${transferId}`, { applicationId, transferId })).status;
  }
  await run.recordEvent('disbursed', 'disbursed', { transferId, payee: paid.payee, bankCode: paid.bankCode, accountLast4: paid.accountLast4, amountFen, replayed: paid.replayed });
  const disbursedAtMs = run.now();
  const { loanId } = await call(run.loans.createLoan, 'store the loan and its repayment schedule', { applicationId, offer, disbursedAtMs, transferId });
  state.loanId = loanId;
  // The loan is booked: from here nothing is undone, it is serviced.
  run.saga.clear();
  await run.recordEvent('loan_created', 'loan-created', { loanId, transferId });
  await run.notify('loan_disbursed', 'loan-disbursed', { amountFen });
}
