/**
 * Every input that makes the sandbox answer adversely, like a payment processor's test card numbers.
 * Anything not listed here gets a favourable answer, so a happy path needs no setup.
 *
 * The ID numbers carry valid GB 11643 check digits and real birth dates, the VINs valid ISO 3779
 * check digits (position 9) and the bank accounts valid Luhn digits, so they pass the system's own
 * validation and reach the provider. docs/sandbox.md lists the same values for people.
 */

// ---------------------------------------------------------------- resident ID numbers (credit bureau)

/** An ordinary applicant (the SPEC's example); credit is good. Default name/ID the OCR reads. */
export const ORDINARY_ID_NUMBER = '11010519491231002X';
export const ORDINARY_NAME = '张三';

/** Credit score 455: below every sensible floor, so the decision rules auto-decline. */
export const CREDIT_LOW_SCORE_ID = '110105198506151017';
/** Credit score 610: between floor and good, so it goes to a human approver. */
export const CREDIT_MARGINAL_SCORE_ID = '110105197601016070';
/** Score 700 but existing monthly repayments of 18,000 CNY (1,800,000 fen): debt-to-income fails. */
export const CREDIT_HIGH_DEBT_ID = '110105197803201020';
/** Score 640 and 14 hard inquiries in the last six months (credit hunger). */
export const CREDIT_MANY_INQUIRIES_ID = '110105199502024058';
/** On the court enforcement list (失信被执行人): flag `court_enforcement_blacklist`, score 380. */
export const CREDIT_BLACKLISTED_ID = '110105199008082033';
/** Fraud alert on file: flag `fraud_alert`, score 520. */
export const CREDIT_FRAUD_ALERT_ID = '110105198211113048';
/** The bureau has no file for this person: business refusal 422 `no_credit_file`. */
export const CREDIT_NO_FILE_ID = '110105198809095067';

/** E-signature real-name verification (实名认证) fails for this signer: 422 `signer_identity_unverified`. */
export const ESIGN_IDENTITY_UNVERIFIED_ID = '110105199207077085';

/** What OCR reads instead of the expected ID number when the document URI carries `#mismatch`. */
export const OCR_MISMATCH_ID_NUMBER = '110105198703038099';
/** What OCR reads instead of the expected name when the document URI carries `#mismatch`. */
export const OCR_MISMATCH_NAME = '李四';

// ---------------------------------------------------------------- OCR document URI markers

/** Every field read with low confidence (0.35–0.55); warning `low_confidence`. */
export const OCR_MARKER_BLURRY = '#blurry';
/** ID card / driving licence expired (expiry date 2021-06-30); warning `document_expired`. */
export const OCR_MARKER_EXPIRED = '#expired';
/** Name and ID number read differ from the expected ones (see OCR_MISMATCH_*). */
export const OCR_MARKER_MISMATCH = '#mismatch';
/** The document cannot be read at all: business refusal 422 `document_unreadable`. */
export const OCR_MARKER_UNREADABLE = '#unreadable';

// ---------------------------------------------------------------- VINs (valuation)

/** Valued at 35% of the normal figure: flood damage on record (method `damage_adjusted`). */
export const VALUATION_LOW_VIN = 'LGXCE4CB5S0000035';
/** No vehicle with this VIN: business refusal 422 `vehicle_not_found`. */
export const VALUATION_NOT_FOUND_VIN = 'LGXCE4CBXS0000404';
/** Reported stolen: business refusal 422 `vehicle_reported_stolen`. */
export const VALUATION_STOLEN_VIN = 'LGXCE4CB8S0000451';

// ---------------------------------------------------------------- bank accounts (payments)

/** The beneficiary account is closed: business refusal 422 `account_closed` (nothing is paid). */
export const PAYMENTS_CLOSED_ACCOUNT = '6217000000000000012';
/** The transfer is accepted as `pending` and succeeds after `paymentPendingMs` (default 3 s). */
export const PAYMENTS_PENDING_ACCOUNT = '6217000000000000020';
/** The account name does not match the account: business refusal 422 `account_name_mismatch`. */
export const PAYMENTS_NAME_MISMATCH_ACCOUNT = '6217000000000000038';
/** Paid like any account, but the beneficiary bank refuses to return it: a reversal is refused 422 `reversal_not_permitted`. */
export const PAYMENTS_IRREVERSIBLE_ACCOUNT = '6217000000000000046';
/** A single transfer above this amount is refused 422 `amount_exceeds_limit` (5,000,000 CNY). */
export const PAYMENTS_SINGLE_TRANSFER_LIMIT_FEN = 500_000_000;

// ---------------------------------------------------------------- bank cards (withholding, 代扣)

/** The card is cancelled (已销户): registering a mandate is refused 422 `card_cancelled`. */
export const WITHHOLDING_CANCELLED_CARD = '6228480000000000018';
/** The holder's name or ID number does not match the bank's: a mandate is refused 422 `holder_mismatch`. */
export const WITHHOLDING_HOLDER_MISMATCH_CARD = '6228480000000000026';
/** Registers; its balance starts at 0, so debits answer `insufficient_funds` (余额不足) until a test funds it. */
export const WITHHOLDING_INSUFFICIENT_FUNDS_CARD = '6228480000000000034';
/** Registers; debits answer `account_frozen` (the account is frozen, 账户冻结). */
export const WITHHOLDING_FROZEN_CARD = '6228480000000000042';
/** Registers; the customer cancels it afterwards, so debits answer `card_cancelled`. */
export const WITHHOLDING_CANCELLED_LATER_CARD = '6228480000000000059';
/** Registers; debits answer `over_daily_limit` whatever the amount. */
export const WITHHOLDING_OVER_LIMIT_CARD = '6228480000000000067';
/** Registers; debits are accepted `pending` and succeed after `paymentPendingMs`, when they enter the settlement file. */
export const WITHHOLDING_PENDING_CARD = '6228480000000000075';
/** A bank the channel does not withhold from: a mandate is refused 422 `bank_not_supported`. */
export const WITHHOLDING_UNSUPPORTED_BANK_CODE = 'ZZRCB';
/** Debits of one card above this sum in one Asia/Shanghai day answer `over_daily_limit` (50,000 CNY). */
export const WITHHOLDING_DAILY_LIMIT_FEN = 5_000_000;

// ---------------------------------------------------------------- phone numbers

/** Vacant number (空号): the SMS gateway refuses it 422 `number_not_in_service`. */
export const SMS_NOT_IN_SERVICE_PHONE = '13000000404';
/** On the do-not-call list: the call centre refuses the task 422 `number_not_callable`. */
export const CALL_CENTRE_NOT_CALLABLE_PHONE = '13000000403';

/** One table of all of the above, for documentation and tests. */
export const SANDBOX_TEST_VALUES = {
  idNumbers: {
    ORDINARY_ID_NUMBER,
    CREDIT_LOW_SCORE_ID,
    CREDIT_MARGINAL_SCORE_ID,
    CREDIT_HIGH_DEBT_ID,
    CREDIT_MANY_INQUIRIES_ID,
    CREDIT_BLACKLISTED_ID,
    CREDIT_FRAUD_ALERT_ID,
    CREDIT_NO_FILE_ID,
    ESIGN_IDENTITY_UNVERIFIED_ID,
    OCR_MISMATCH_ID_NUMBER,
  },
  ocrMarkers: { OCR_MARKER_BLURRY, OCR_MARKER_EXPIRED, OCR_MARKER_MISMATCH, OCR_MARKER_UNREADABLE },
  vins: { VALUATION_LOW_VIN, VALUATION_NOT_FOUND_VIN, VALUATION_STOLEN_VIN },
  accounts: { PAYMENTS_CLOSED_ACCOUNT, PAYMENTS_PENDING_ACCOUNT, PAYMENTS_NAME_MISMATCH_ACCOUNT, PAYMENTS_IRREVERSIBLE_ACCOUNT },
  cards: {
    WITHHOLDING_CANCELLED_CARD,
    WITHHOLDING_HOLDER_MISMATCH_CARD,
    WITHHOLDING_INSUFFICIENT_FUNDS_CARD,
    WITHHOLDING_FROZEN_CARD,
    WITHHOLDING_CANCELLED_LATER_CARD,
    WITHHOLDING_OVER_LIMIT_CARD,
    WITHHOLDING_PENDING_CARD,
  },
  phones: { SMS_NOT_IN_SERVICE_PHONE, CALL_CENTRE_NOT_CALLABLE_PHONE },
} as const;
