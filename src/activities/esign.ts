import { createHash } from 'node:crypto';
import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { disclosure, type Offer } from '../domain';
import { decryptApplicant, loadApplicationRecord } from './applications';
import type { EnvelopeRef, OpenEnvelopeInput, VoidEnvelopeInput, VoidEnvelopeResult } from './contracts';
import { FailureType, refusalCode } from '../contracts/failures';
import type { EsignClient } from './providers';

/** Days the customer has to sign: the offer's validity (policy offerExpiryMs is 7 days too). */
export const ENVELOPE_VALID_DAYS = 7;

/**
 * The loan contract with its 贷款须知 disclosure (amount, term, method, annual rate, APR on an IRR
 * basis, every instalment). Deterministic: the same offer, borrower and day render the same bytes,
 * so a retried envelope carries the same document hash.
 */
export function renderContract(input: { applicationId: string; borrowerName: string; idNumber: string; offer: Offer; asOfDate: string }): string {
  const { offer } = input;
  const d = disclosure({
    principalFen: offer.amountFen,
    annualRateBps: offer.annualRateBps,
    termMonths: offer.termMonths,
    method: offer.repaymentMethod,
    disbursementDate: input.asOfDate,
    upfrontFeeFen: offer.upfrontFeeFen,
  });
  const lines = [
    '汽车消费贷款合同',
    `合同编号：${input.applicationId}`,
    `借款人：${input.borrowerName}（身份证号码 ${input.idNumber}）`,
    '',
    '贷款须知',
    `贷款金额：${d.amountYuan} 元`,
    `贷款期限：${d.termMonths} 个月`,
    `还款方式：${d.methodLabelZh}`,
    `年利率（单利）：${d.annualRatePercent}`,
    `年化利率（APR，${d.aprBasis}）：${d.aprPercent}`,
    `一次性费用：${d.upfrontFeeFen} 分；实际到账 ${d.amountReceivedFen} 分`,
    `利息总额：${d.totalInterestFen} 分；还款总额：${d.totalRepaymentFen} 分`,
    '',
    '还款计划（期次 到期日 本金 利息 合计，单位：分）',
    ...d.installments.map((i) => `${i.seq} ${i.dueDate} ${i.principalFen} ${i.interestFen} ${i.totalFen}`),
  ];
  return lines.join('\n');
}

export function createEsignActivities(deps: { db: Db; cipher: PiiCipher; esign: EsignClient }) {
  const { db, cipher, esign } = deps;
  return {
    /** Renders the contract for the offer and opens an e-signature envelope for the borrower. */
    async openEnvelope(input: OpenEnvelopeInput): Promise<EnvelopeRef> {
      const { applicant } = await loadApplicationRecord(db, input.applicationId);
      const pii = decryptApplicant(cipher, applicant);
      const contract = renderContract({
        applicationId: input.applicationId,
        borrowerName: pii.name,
        idNumber: pii.idNumber,
        offer: input.offer,
        asOfDate: input.asOfDate,
      });
      const documentHash = createHash('sha256').update(contract, 'utf8').digest('hex');
      const envelope = await esign.createEnvelope({
        applicationId: input.applicationId,
        idempotencyKey: input.idempotencyKey,
        documentHash,
        signerRef: `applicant-${input.applicationId}`,
        signer: { name: pii.name, idNumber: pii.idNumber, phone: pii.phone },
        expiresInDays: ENVELOPE_VALID_DAYS,
      });
      return { envelopeId: envelope.envelopeId, documentHash, signingUrl: envelope.signingUrl, expiresAt: envelope.expiresAt };
    },

    /** Compensation: voids an unsigned envelope. A signed one cannot be voided and is reported as such. */
    async voidEnvelope(input: VoidEnvelopeInput): Promise<VoidEnvelopeResult> {
      try {
        await esign.voidEnvelope(input.envelopeId, input.reasonCode);
        return { envelopeId: input.envelopeId, status: 'voided' };
      } catch (err) {
        if (refusalCode(err, FailureType.EsignRefused) === 'envelope_already_signed') {
          return { envelopeId: input.envelopeId, status: 'already_signed' };
        }
        if (refusalCode(err, FailureType.ProviderResourceNotFound) !== null) return { envelopeId: input.envelopeId, status: 'not_found' };
        throw err;
      }
    },
  };
}
