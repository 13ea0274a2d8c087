import { FailureType, refusalCode } from '../../../contracts/failures';
import { shanghaiDate, type Offer } from '../../../domain';
import { call, esign } from '../activities';
import { awaitHumanAct } from '../humanWaits';
import { StageExit, type ApplicationRun } from '../run';

/**
 * signing: the contract rendered with the offer and its disclosure, an e-signature envelope opened
 * and the link texted; the signature (provider callback or on site) awaited until the offer
 * expires (7 days), and for a used car the mortgage registration before the money.
 */
export async function signing(run: ApplicationRun, round: number): Promise<void> {
  const { state, applicationId, policy } = run;
  // A signature given while the envelope is being opened waits for it (decideAct).
  await run.enter('signing', {}, 'contractSigned');
  const offer = state.offer as Offer;
  run.signature = null;
  let envelope;
  try {
    envelope = await call(esign.openEnvelope, 'render the contract and open the e-signature envelope', {
      applicationId,
      idempotencyKey: `${run.workflowId}/signing/${round}`,
      offer,
      asOfDate: shanghaiDate(run.now()),
    });
  } catch (err) {
    const code = refusalCode(err, FailureType.EsignRefused);
    if (code === null) throw err;
    run.addFlag(`ESIGN_${code.toUpperCase()}`);
    throw new StageExit('failed', 'CONTRACT_NOT_SENT');
  }
  const envelopeId = envelope.envelopeId;
  state.envelopeId = envelopeId;
  run.upcoming = null;
  run.saga.add('envelope', async (reason) => {
    const r = await call(esign.voidEnvelope, `void envelope ${envelopeId}`, { applicationId, envelopeId, reasonCode: reason });
    // A contract signed (through the provider or on site) is not voided but cancelled, and the customer told.
    if (r.status === 'already_signed' || run.signature !== null) {
      await run.notify('contract_cancelled', `contract-cancelled/${envelopeId}`);
      return 'contract_cancelled';
    }
    return r.status;
  });
  await run.recordEvent('envelope_sent', `envelope:${round}`, { envelopeId, documentHash: envelope.documentHash });
  await run.notify('signing_link', `signing-link/${envelopeId}`, { url: envelope.signingUrl, days: Math.round(policy.deadlines.offerExpiryMs / 86_400_000) });

  const expiryAt = run.now() + policy.deadlines.offerExpiryMs;
  const signTask = await run.setPending('sign_contract', 'officer', expiryAt);
  await awaitHumanAct(run, () => run.signature !== null, signTask, { slaAt: null, expiryAt }, 'offer', 'OFFER_EXPIRED');
  if (run.collateralRequiredBeforeDisbursement && !state.collateralRegistered) {
    // Used cars: the mortgage registration (抵押登记) comes before the money.
    const regTask = await run.setPending('register_collateral', 'officer', expiryAt);
    await awaitHumanAct(run, () => state.collateralRegistered, regTask, { slaAt: null, expiryAt }, 'collateral registration', 'OFFER_EXPIRED');
  }
  await run.clearPending();
}
