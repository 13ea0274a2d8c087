import { randomInt } from 'node:crypto';
import { residentIdCheckChar } from '../../src/domain';

/**
 * Application bodies the API accepts and the sandbox answers favourably (an ordinary applicant, a
 * new car bought through a branch, a loan below the four-eyes threshold, the four documents a new
 * car needs). Every body has its own applicant: intake's duplicate screen declines a second open
 * application with the same ID number. The values are synthetic, like the sandbox's test values.
 */
export class ApplicantFactory {
  private next = 0;
  /** A random offset per run, so two runs against one database do not collide either. */
  private readonly base = randomInt(0, 1_000_000);

  idNumber(): string {
    // 110105 + a birth date between 1970 and 1999 + a 3-digit sequence: 30 × 336 × 1000 distinct numbers.
    const n = (this.base + this.next++) % (30 * 12 * 28 * 1000);
    const seq = n % 1000;
    const day = Math.floor(n / 1000) % 28;
    const month = Math.floor(n / 28_000) % 12;
    const year = 1970 + Math.floor(n / 336_000);
    const first17 = `110105${year}${String(month + 1).padStart(2, '0')}${String(day + 1).padStart(2, '0')}${String(seq).padStart(3, '0')}`;
    return `${first17}${residentIdCheckChar(first17)}`;
  }

  phone(): string {
    return `139${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
  }

  body() {
    const tag = `${this.base}-${this.next}`;
    const sha = (type: string) => Buffer.from(`${tag}/${type}`.padEnd(32, '0').slice(0, 32)).toString('hex');
    const documents = ['id_card', 'driver_license', 'income_proof', 'purchase_contract'].map((type) => ({
      type,
      uri: `s3://bench/${tag}/${type}.jpg`,
      sha256: sha(type),
    }));
    return {
      channel: 'branch',
      branchId: 'BJ-001',
      applicant: { name: '张三', idNumber: this.idNumber(), phone: this.phone(), monthlyIncomeFen: 3_000_000 },
      vehicle: {
        vin: 'LFV2A21K2A3010006',
        make: 'BYD',
        model: 'Han',
        year: 2025,
        condition: 'new',
        energy: 'new_energy',
        usage: 'personal',
        priceFen: 30_000_000,
        mileageKm: 0,
      },
      loan: { amountFen: 15_000_000, termMonths: 36, repaymentMethod: 'equal_installment' },
      documents,
    };
  }
}

export const PHONE_PASSED = {
  outcome: 'passed',
  recordingRef: 'rec-bench',
  checklist: { identityConfirmed: true, incomeConfirmed: true, purposeConfirmed: true },
};
export const APPROVE = { decision: 'approve' };
