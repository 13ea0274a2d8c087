import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import { fenToYuanString } from '../domain';
import { decryptApplicant, loadApplicationRecord } from './applications';
import type { ApplicantSmsTemplate, NotifyApplicantInput, SmsOutcome } from './contracts';
import { FailureType, refusalCode } from '../contracts/failures';
import type { SmsClient } from './providers';

const str = (v: string | number | undefined) => (v === undefined ? '' : String(v));
const yuan = (v: string | number | undefined) => (typeof v === 'number' ? fenToYuanString(v, { grouping: true }) : str(v));

/** The texts, by template; params carry non-personal values only. */
export const SMS_TEXTS: Record<ApplicantSmsTemplate, (p: Record<string, string | number>) => string> = {
  signing_link: (p) => `【车贷】您的贷款合同已生成，请在${str(p.days)}天内点击链接完成签署：${str(p.url)}`,
  documents_missing: (p) => `【车贷】您的贷款申请还缺少资料（${str(p.count)}项），请尽快联系客户经理补充。`,
  application_rejected: () => '【车贷】很抱歉，您的贷款申请未获批准。如需人工复核，请联系客户经理。',
  application_expired: () => '【车贷】您的贷款申请已超过办理时限，已自动关闭。',
  application_withdrawn: () => '【车贷】您的贷款申请已撤回。',
  contract_cancelled: () => '【车贷】您的贷款合同已取消，未发生放款。如有疑问请联系客户经理。',
  loan_disbursed: (p) => `【车贷】您的贷款${yuan(p.amountFen)}元已发放，请按期还款。`,
};

export function createSmsActivities(deps: { db: Db; cipher: PiiCipher; sms: SmsClient }) {
  const { db, cipher, sms } = deps;
  return {
    /**
     * Texts the applicant (the number comes from the database). The gateway dedupes on the
     * messageId, so a retry sends nothing twice. An undeliverable number is reported, not thrown:
     * a notification is never a reason to fail a loan.
     */
    async notifyApplicant(input: NotifyApplicantInput): Promise<SmsOutcome> {
      const { applicant } = await loadApplicationRecord(db, input.applicationId);
      const { phone } = decryptApplicant(cipher, applicant);
      try {
        const r = await sms.send({
          messageId: input.messageId,
          to: phone,
          text: SMS_TEXTS[input.template](input.params ?? {}),
          template: input.template,
          tag: 'loan-application',
        });
        return { messageId: input.messageId, status: r.status, code: null };
      } catch (err) {
        const code = refusalCode(err, FailureType.SmsRefused);
        if (code === null) throw err;
        return { messageId: input.messageId, status: 'rejected', code };
      }
    },
  };
}
