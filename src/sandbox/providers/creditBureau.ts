import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { hashInt, isValidResidentId, parseBody, refuse, sha256Hex } from '../http';
import {
  CREDIT_BLACKLISTED_ID,
  CREDIT_FRAUD_ALERT_ID,
  CREDIT_HIGH_DEBT_ID,
  CREDIT_LOW_SCORE_ID,
  CREDIT_MANY_INQUIRIES_ID,
  CREDIT_MARGINAL_SCORE_ID,
  CREDIT_NO_FILE_ID,
} from '../test-values';

/**
 * Credit bureau (in the manner of the PBOC credit reference centre's report, reduced to what the
 * decision rules read): a score on a 300–900 scale, open debts with their monthly repayments, hard
 * inquiries and risk flags. The report is a pure function of the ID number; the report id of
 * (ID number, consent), so a retried pull is the same report.
 */
const reportSchema = z.object({
  idNumber: z.string().min(1).max(32),
  name: z.string().min(1).max(64),
  consentRef: z.string().min(1).max(128),
});

export type CreditFlag = 'court_enforcement_blacklist' | 'fraud_alert' | 'current_overdue';

interface OpenDebt {
  type: 'credit_card' | 'mortgage' | 'auto_loan' | 'consumer_loan';
  lender: string;
  balanceFen: number;
  monthlyPaymentFen: number;
  overdue: boolean;
}

interface Profile {
  score: number;
  openDebts: OpenDebt[];
  inquiriesLast6Months: number;
  flags: CreditFlag[];
}

function ordinaryProfile(id: string): Profile {
  const cardMonthly = 20_000 + hashInt(id, 280_001, 'card'); // 200–3,000 CNY a month
  return {
    score: 720 + hashInt(id, 130, 'score'),
    openDebts: [
      { type: 'credit_card', lender: '招商银行', balanceFen: cardMonthly * 10, monthlyPaymentFen: cardMonthly, overdue: false },
    ],
    inquiriesLast6Months: hashInt(id, 3, 'inq'),
    flags: [],
  };
}

const mortgage = (monthlyPaymentFen: number): OpenDebt => ({
  type: 'mortgage',
  lender: '中国建设银行',
  balanceFen: monthlyPaymentFen * 240,
  monthlyPaymentFen,
  overdue: false,
});

const TEST_PROFILES: Record<string, Profile> = {
  [CREDIT_LOW_SCORE_ID]: {
    score: 455,
    openDebts: [{ type: 'consumer_loan', lender: '某消费金融公司', balanceFen: 3_000_000, monthlyPaymentFen: 280_000, overdue: true }],
    inquiriesLast6Months: 6,
    flags: ['current_overdue'],
  },
  [CREDIT_MARGINAL_SCORE_ID]: { score: 610, openDebts: [mortgage(450_000)], inquiriesLast6Months: 3, flags: [] },
  [CREDIT_HIGH_DEBT_ID]: {
    score: 700,
    openDebts: [
      mortgage(1_200_000),
      { type: 'auto_loan', lender: '某汽车金融公司', balanceFen: 9_000_000, monthlyPaymentFen: 450_000, overdue: false },
      { type: 'credit_card', lender: '中信银行', balanceFen: 1_500_000, monthlyPaymentFen: 150_000, overdue: false },
    ],
    inquiriesLast6Months: 2,
    flags: [],
  },
  [CREDIT_MANY_INQUIRIES_ID]: { score: 640, openDebts: [], inquiriesLast6Months: 14, flags: [] },
  [CREDIT_BLACKLISTED_ID]: { score: 380, openDebts: [], inquiriesLast6Months: 1, flags: ['court_enforcement_blacklist'] },
  [CREDIT_FRAUD_ALERT_ID]: { score: 520, openDebts: [], inquiriesLast6Months: 4, flags: ['fraud_alert'] },
};

export function creditBureauRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/reports', (req, res) => {
    const body = parseBody(reportSchema, req, res);
    if (!body) return;
    if (!isValidResidentId(body.idNumber)) {
      refuse(res, 422, 'invalid_id_number', 'the ID number is not a valid resident ID number');
      return;
    }
    const reportId = `cr_${sha256Hex(`${body.idNumber}|${body.consentRef}`).slice(0, 20)}`;
    if (body.idNumber === CREDIT_NO_FILE_ID) {
      ctx.logger.info({ reportId }, 'credit bureau: no file');
      refuse(res, 422, 'no_credit_file', 'the bureau holds no credit file for this person');
      return;
    }
    const profile = TEST_PROFILES[body.idNumber] ?? ordinaryProfile(body.idNumber);
    const monthlyDebtFen = profile.openDebts.reduce((sum, d) => sum + d.monthlyPaymentFen, 0);
    ctx.logger.info({ reportId, score: profile.score, flags: profile.flags }, 'credit bureau: report issued');
    res.json({
      reportId,
      generatedAt: ctx.now().toISOString(),
      score: profile.score,
      openDebts: profile.openDebts,
      monthlyDebtFen,
      inquiriesLast6Months: profile.inquiriesLast6Months,
      flags: profile.flags,
    });
  });

  return router;
}
