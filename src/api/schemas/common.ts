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

export const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "a date is 'YYYY-MM-DD'")
  .refine((v) => isValidDate(v), 'is not a real calendar date')
  .openapi({ format: 'date', example: '2021-05-01' });

export const IsoDateTime = z.iso.datetime({ offset: true }).openapi({ example: '2026-11-22T10:00:00+08:00' });

export const StageSchema = z.enum(STAGES).openapi('Stage', { description: 'Stage of the application (the LoanStage search attribute)' });

export const ApplicationIdParams = z.object({
  id: z.string().openapi({ description: 'Application id', example: 'a1b2c3d4-0000-4000-8000-000000000001' }),
});

export const IdempotencyKeyHeader = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
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
