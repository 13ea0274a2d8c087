import { isValidDate, STAGES } from '../../domain';
import { z } from '../zod';

/** Largest amount the API accepts, in fen (10 billion CNY): far above any car, far below 2^53. */
export const MAX_FEN = 1_000_000_000_000;

/**
 * `schema | null` as an explicit union: zod-to-openapi drops the null of `.nullable()` on enums
 * and on registered schemas (it writes a bare $ref), and the document must admit the nulls we send.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

export const Fen = z.int().min(0).max(MAX_FEN).openapi({ description: 'Money in integer fen (0.01 CNY)', example: 15_000_000 });
export const PositiveFen = z.int().min(1).max(MAX_FEN).openapi({ description: 'Money in integer fen (0.01 CNY), above zero', example: 15_000_000 });

// ------------------------------------------------------------------------------------------
// The one rule for every string the API accepts (bodies, path parameters, query parameters).
//
// No NUL (PostgreSQL cannot store it), no lone UTF-16 surrogate (jsonb refuses it and UTF-8 cannot
// encode it: it was a 500 after the act had been applied, or silently stored as U+FFFD), and no
// control character (C0, DEL, C1), except that multi-line free text (notes, comments, reasons) may
// hold line breaks and tabs. Names also refuse invisible format characters (zero-width spaces,
// direction overrides) and must contain a letter. Every string schema below is built from `text()`
// or carries a stricter pattern of its own, so the rule is checked and documented (`pattern`) once.

/** `line`: one line of text; `multiline`: free text that may hold \n, \r and \t; `name`: a person's name. */
export type TextKind = 'line' | 'multiline' | 'name';

export interface TextIssue {
  code: 'nul_character' | 'lone_surrogate' | 'control_character' | 'format_character' | 'no_letter' | 'blank';
  message: string;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CONTROL_IN_LINE = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_IN_MULTILINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const FORMAT = /\p{Cf}/u;
const LETTER = /\p{L}/u;
/** Something other than white space and invisible characters. */
const VISIBLE = /[^\s\p{Cf}]/u;

/**
 * The same rules as patterns for /openapi.json, over code points as JSON Schema reads them. A lone
 * surrogate is not a code point: a pattern naming one is not a regex to validators built on Unicode
 * strings (jsonschema-rs, which schemathesis uses, refuses it and then checks no pattern at all), so
 * the document's description says it instead.
 */
const LINE_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';
const MULTILINE_PATTERN = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$';
/** The format characters of the Basic Multilingual Plane (the rule refuses the few beyond it too). */
const NAME_PATTERN =
  '^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]*$';

const codePoint = (ch: string) => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/** What is wrong with a string under the rule of its kind, or undefined. Never echoes the text. */
export function textIssue(value: string, kind: TextKind): TextIssue | undefined {
  if (value.includes('\u0000')) return { code: 'nul_character', message: 'must not contain the NUL character (U+0000)' };
  if (LONE_SURROGATE.test(value)) {
    return { code: 'lone_surrogate', message: 'contains a broken character (half of a UTF-16 surrogate pair): the text was damaged before it was sent; type it again' };
  }
  const control = (kind === 'multiline' ? CONTROL_IN_MULTILINE : CONTROL_IN_LINE).exec(value);
  if (control) {
    const where = kind === 'multiline' ? 'only line breaks and tabs are allowed' : 'line breaks and tabs are not allowed here';
    return { code: 'control_character', message: `contains an invisible control character (${codePoint(control[0])}); ${where}` };
  }
  if (kind === 'name') {
    const format = FORMAT.exec(value);
    if (format) return { code: 'format_character', message: `contains an invisible formatting character (${codePoint(format[0])}), such as a zero-width space` };
    if (!LETTER.test(value)) return { code: 'no_letter', message: 'must contain at least one letter' };
  }
  return undefined;
}

export interface TextOptions {
  /** Fewest characters (after trimming, for names); default 1 (0 for multi-line text). */
  min?: number;
  max: number;
  /** A stricter format of the field's own: the regex (no flags) and the message when it fails. */
  format?: { regex: RegExp; message: string };
  /** Refuses text with nothing visible in it (only spaces or invisible characters). */
  visible?: boolean;
}

/**
 * A string field under the shared rule. Names are trimmed (the same name with a stray space is the
 * same name) and must contain a letter; multi-line text may hold line breaks and tabs.
 */
export function text(kind: TextKind, o: TextOptions) {
  const min = o.min ?? (kind === 'multiline' ? 0 : 1);
  let schema = kind === 'name' ? z.string().trim() : z.string();
  schema = schema.superRefine((value, ctx) => {
    const issue = textIssue(value, kind);
    if (issue) ctx.addIssue({ code: 'custom', message: issue.message, params: { code: issue.code } });
    else if ((o.visible || kind === 'name') && value.length > 0 && !VISIBLE.test(value)) {
      ctx.addIssue({ code: 'custom', message: 'must not be blank', params: { code: 'blank' } });
    }
  });
  // The format before the lengths: when both fail, the format's message is the helpful one.
  if (o.format) schema = schema.regex(o.format.regex, o.format.message);
  if (min > 0) schema = schema.min(min);
  schema = schema.max(o.max);
  const pattern = o.format ? o.format.regex.source : kind === 'multiline' ? MULTILINE_PATTERN : kind === 'name' ? NAME_PATTERN : LINE_PATTERN;
  return schema.openapi({ pattern });
}

/** One line of text (make, model, references): no control characters. */
export const Line = (max: number, o: Omit<TextOptions, 'max'> = {}) => text('line', { ...o, max });
/** Free text staff type (notes, comments, reasons): may span lines. */
export const FreeText = (max: number) => text('multiline', { max });
/** A code or id in a fixed format (the format is stricter than the shared rule). */
export const Formatted = (regex: RegExp, message: string, max = 128) => text('line', { max, format: { regex, message } });

// ------------------------------------------------------------------------------------------
// Dates and times

export const IsoDate = Formatted(/^\d{4}-\d{2}-\d{2}$/, "is not a date: write it as YYYY-MM-DD, e.g. 2021-05-01", 10)
  .refine((v) => !/^\d{4}-\d{2}-\d{2}$/.test(v) || isValidDate(v), 'is not a real calendar date')
  .openapi({ format: 'date', example: '2021-05-01' });

export const IsoDateTime = z.iso
  .datetime({
    offset: true,
    error: (iss) => (iss.code === 'invalid_format' ? 'is not a real date and time with a time zone: write it as 2026-11-22T10:00:00+08:00' : undefined),
  })
  .openapi({ example: '2026-11-22T10:00:00+08:00' });

/** How far ahead of our clock a time that has already happened may be (the other side's clock may run fast). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A moment that has already happened (a payment, a signature): at most CLOCK_SKEW_MS ahead of now. */
export const PastDateTime = IsoDateTime.refine((v) => !(Date.parse(v) > Date.now() + CLOCK_SKEW_MS), {
  message: 'is in the future: it must be when this happened (at most 5 minutes ahead of our clock)',
  params: { code: 'in_future' },
}).openapi({ description: 'When it happened: at most 5 minutes ahead of the server clock' });

export const StageSchema = z.enum(STAGES).openapi('Stage', { description: 'Stage of the application (the LoanStage search attribute)' });

export const ApplicationIdParams = z.object({
  id: Line(128).openapi({ description: 'Application id', example: 'a1b2c3d4-0000-4000-8000-000000000001' }),
});

export const IdempotencyKeyHeader = z.object({
  'idempotency-key': Formatted(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces, e.g. a UUID', 255)
    .optional()
    .openapi({
      description:
        'Makes the request safe to retry: the same key and body replay the first answer, the same key with another body is refused (422), a repeat while the first is still running gets 409. Keys are per staff member and route.',
      example: '3f0c6a52-2b43-4f0e-9d55-3c1c6f7e9a10',
    }),
});

export const FieldErrorSchema = z
  .object({
    pointer: z.string().openapi({ description: 'JSON pointer of the failing field', example: '#/applicant/idNumber' }),
    in: z.enum(['body', 'query', 'params', 'header']),
    code: z.string(),
    message: z.string(),
  })
  .openapi('FieldError');

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ format: 'uri' }),
    title: z.string(),
    status: z.int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional().openapi({ description: 'Every failing field (400)' }),
    stage: StageSchema.optional().openapi({ description: 'The current stage (409 not-waiting)' }),
    code: z.string().optional().openapi({ description: 'The workflow refusal code (403/409/422 from the workflow)' }),
  })
  .catchall(z.unknown())
  .openapi('Problem', { description: 'RFC 9457 problem details' });
