import fs from 'node:fs';
import path from 'node:path';

/**
 * The sandbox's memory: call tasks, envelopes, transfers with their ledger, SMS messages, withholding
 * mandates and debits with their ledger, and the
 * idempotency records that make retries safe. With a state file every change is appended as one JSON
 * line (last write of an entity wins on replay), so a restarted sandbox still knows which payments it
 * made and which keys it has seen — the property the exactly-once tests rely on.
 *
 * The file is the sandbox's database and so holds what the providers hold (names, phones, account
 * numbers); it is never a log.
 */

export interface CallTask {
  taskId: string;
  applicationId: string;
  idempotencyKey: string;
  phone: string;
  script: string;
  priority: 'normal' | 'high';
  status: 'queued' | 'completed' | 'cancelled';
  outcome: 'passed' | 'failed' | 'unreachable' | null;
  recordingRef: string | null;
  cancelReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookAttempt {
  at: string;
  status: number | null;
  error: string | null;
}

export interface WebhookDelivery {
  eventId: string;
  type: 'envelope.signed' | 'envelope.declined';
  url: string | null;
  state: 'pending' | 'delivered' | 'failed' | 'not_configured';
  payload: string;
  attempts: WebhookAttempt[];
}

export interface Envelope {
  envelopeId: string;
  applicationId: string;
  idempotencyKey: string;
  documentHash: string;
  signerRef: string;
  callbackUrl: string | null;
  status: 'sent' | 'signed' | 'declined' | 'voided' | 'expired';
  signingUrl: string;
  createdAt: string;
  expiresAt: string;
  signedAt: string | null;
  declinedAt: string | null;
  voidedAt: string | null;
  voidReason: string | null;
  webhooks: WebhookDelivery[];
}

export interface Transfer {
  transferId: string;
  idempotencyKey: string;
  amountFen: number;
  currency: 'CNY';
  reference: string;
  toAccount: { accountNumber: string; accountName: string; bankCode: string };
  status: 'pending' | 'succeeded' | 'reversed';
  createdAt: string;
  /** When a pending transfer settles (lazily applied on read). */
  settlesAt: string | null;
  completedAt: string | null;
  reversal: { reversalId: string; reason: string | null; createdAt: string } | null;
}

/** Money paid back to a customer (an overpayment held as credit), like a payout to their account. */
export interface Refund {
  refundId: string;
  idempotencyKey: string;
  amountFen: number;
  currency: 'CNY';
  reference: string;
  toAccount: { accountNumber: string; accountName: string; bankCode: string };
  reason: string | null;
  status: 'succeeded';
  createdAt: string;
}

export interface LedgerEntry {
  entryId: string;
  /** The transfer, or for a refund the refund id. */
  transferId: string;
  kind: 'payout' | 'reversal' | 'refund';
  /** Positive for a payout or a refund, negative for a reversal: the ledger's sum is the money out. */
  amountFen: number;
  currency: 'CNY';
  reference: string;
  bankCode: string;
  accountLast4: string;
  idempotencyKey: string;
  createdAt: string;
}

/** A withholding authorisation (代扣授权) of one bank card, registered by the lender for a loan. */
export interface Mandate {
  mandateId: string;
  idempotencyKey: string;
  /** The lender's reference (the loan id). */
  reference: string;
  bankCode: string;
  cardNumber: string;
  holderName: string;
  idNumber: string;
  status: 'active' | 'revoked';
  /** What the card can still be debited (a test hook sets it); null: no limit but the daily one. */
  balanceFen: number | null;
  createdAt: string;
  revokedAt: string | null;
}

/** One debit request under a mandate, with the bank's answer. */
export interface Debit {
  debitId: string;
  idempotencyKey: string;
  mandateId: string;
  reference: string;
  amountFen: number;
  currency: 'CNY';
  status: 'succeeded' | 'pending' | 'failed';
  failureCode: string | null;
  createdAt: string;
  /** When a pending debit settles (lazily applied on read). */
  settlesAt: string | null;
  settledAt: string | null;
}

/** Money taken from a customer's card: one entry per debit that succeeded (a pending one when it settles). */
export interface WithholdingEntry {
  entryId: string;
  debitId: string;
  mandateId: string;
  idempotencyKey: string;
  reference: string;
  amountFen: number;
  currency: 'CNY';
  bankCode: string;
  cardLast4: string;
  settledAt: string;
}

export interface SmsMessage {
  messageId: string;
  providerMessageId: string;
  to: string;
  text: string;
  template: string | null;
  tag: string | null;
  bodyHash: string;
  acceptedAt: string;
}

export interface IdempotencyRecord {
  scope: string;
  key: string;
  bodyHash: string;
  /** HTTP status of the first answer, replayed with it. */
  status: number;
  /** The entity the first request created (its current state is replayed) … */
  entityId: string | null;
  /** … or the first answer itself when nothing was created (a refusal). */
  body: unknown;
  createdAt: string;
}

type StateRecord =
  | { k: 'task'; v: CallTask }
  | { k: 'envelope'; v: Envelope }
  | { k: 'transfer'; v: Transfer }
  | { k: 'refund'; v: Refund }
  | { k: 'ledger'; v: LedgerEntry }
  | { k: 'sms'; v: SmsMessage }
  | { k: 'mandate'; v: Mandate }
  | { k: 'debit'; v: Debit }
  | { k: 'wledger'; v: WithholdingEntry }
  | { k: 'idem'; v: IdempotencyRecord };

export class SandboxStore {
  readonly tasks = new Map<string, CallTask>();
  readonly envelopes = new Map<string, Envelope>();
  readonly transfers = new Map<string, Transfer>();
  readonly refunds = new Map<string, Refund>();
  readonly ledger: LedgerEntry[] = [];
  readonly sms = new Map<string, SmsMessage>();
  readonly mandates = new Map<string, Mandate>();
  readonly debits = new Map<string, Debit>();
  readonly withholdingLedger: WithholdingEntry[] = [];
  private readonly idempotency = new Map<string, IdempotencyRecord>();

  constructor(private readonly stateFile?: string) {
    if (stateFile) {
      fs.mkdirSync(path.dirname(stateFile), { recursive: true });
      this.replay(stateFile);
    }
  }

  putTask(t: CallTask): void {
    this.tasks.set(t.taskId, t);
    this.append({ k: 'task', v: t });
  }

  putEnvelope(e: Envelope): void {
    this.envelopes.set(e.envelopeId, e);
    this.append({ k: 'envelope', v: e });
  }

  putTransfer(t: Transfer): void {
    this.transfers.set(t.transferId, t);
    this.append({ k: 'transfer', v: t });
  }

  putRefund(r: Refund): void {
    this.refunds.set(r.refundId, r);
    this.append({ k: 'refund', v: r });
  }

  addLedgerEntry(e: LedgerEntry): void {
    this.ledger.push(e);
    this.append({ k: 'ledger', v: e });
  }

  putSms(m: SmsMessage): void {
    this.sms.set(m.messageId, m);
    this.append({ k: 'sms', v: m });
  }

  putMandate(m: Mandate): void {
    this.mandates.set(m.mandateId, m);
    this.append({ k: 'mandate', v: m });
  }

  putDebit(d: Debit): void {
    this.debits.set(d.debitId, d);
    this.append({ k: 'debit', v: d });
  }

  addWithholdingEntry(e: WithholdingEntry): void {
    this.withholdingLedger.push(e);
    this.append({ k: 'wledger', v: e });
  }

  getIdempotency(scope: string, key: string): IdempotencyRecord | undefined {
    return this.idempotency.get(`${scope}\u0000${key}`);
  }

  putIdempotency(r: IdempotencyRecord): void {
    this.idempotency.set(`${r.scope}\u0000${r.key}`, r);
    this.append({ k: 'idem', v: r });
  }

  /** Forgets everything, on disk too (tests start from a clean sandbox). */
  reset(): void {
    this.tasks.clear();
    this.envelopes.clear();
    this.transfers.clear();
    this.refunds.clear();
    this.ledger.length = 0;
    this.sms.clear();
    this.mandates.clear();
    this.debits.clear();
    this.withholdingLedger.length = 0;
    this.idempotency.clear();
    if (this.stateFile) fs.writeFileSync(this.stateFile, '');
  }

  private append(rec: StateRecord): void {
    // Synchronous so that an answer is only sent once its effect is on disk.
    if (this.stateFile) fs.appendFileSync(this.stateFile, `${JSON.stringify(rec)}\n`);
  }

  private replay(file: string): void {
    if (!fs.existsSync(file)) return;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    for (const line of lines) {
      if (!line.trim()) continue;
      let rec: StateRecord;
      try {
        rec = JSON.parse(line) as StateRecord;
      } catch {
        continue; // a line torn by a crash mid-write: its request was never answered
      }
      switch (rec.k) {
        case 'task':
          this.tasks.set(rec.v.taskId, rec.v);
          break;
        case 'envelope':
          this.envelopes.set(rec.v.envelopeId, rec.v);
          break;
        case 'transfer':
          this.transfers.set(rec.v.transferId, rec.v);
          break;
        case 'refund':
          this.refunds.set(rec.v.refundId, rec.v);
          break;
        case 'ledger':
          this.ledger.push(rec.v);
          break;
        case 'sms':
          this.sms.set(rec.v.messageId, rec.v);
          break;
        case 'mandate':
          this.mandates.set(rec.v.mandateId, rec.v);
          break;
        case 'debit':
          this.debits.set(rec.v.debitId, rec.v);
          break;
        case 'wledger':
          this.withholdingLedger.push(rec.v);
          break;
        case 'idem':
          this.idempotency.set(`${rec.v.scope}\u0000${rec.v.key}`, rec.v);
          break;
      }
    }
  }
}
