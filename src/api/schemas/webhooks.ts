import { z } from '../zod';

/** The e-signature provider's event (docs/sandbox.md). Unknown event types are acknowledged and ignored. */
export const EsignEvent = z
  .object({
    eventId: z.string().min(1).max(128),
    type: z.string().min(1).max(64).openapi({ example: 'envelope.signed' }),
    occurredAt: z.iso.datetime({ offset: true }),
    data: z.object({
      envelopeId: z.string().min(1).max(128),
      applicationId: z.string().min(1).max(128),
      signerRef: z.string().max(128).optional(),
      documentHash: z.string().max(128).optional(),
      status: z.string().max(32).optional(),
      signedAt: z.iso.datetime({ offset: true }).nullable().optional(),
      declinedAt: z.string().nullable().optional(),
    }),
  })
  .openapi('EsignEvent');
export type EsignEvent = z.infer<typeof EsignEvent>;

export const EsignAck = z
  .object({
    received: z.literal(true),
    eventId: z.string(),
    applied: z.boolean().openapi({ description: 'True when the event moved the application (or had already)' }),
  })
  .openapi('EsignAck');

export const ESIGN_EXAMPLES = {
  signed: {
    summary: 'The customer signed',
    value: {
      eventId: 'evt_example',
      type: 'envelope.signed',
      occurredAt: '2026-11-22T02:00:00.000Z',
      data: {
        envelopeId: 'env_example',
        applicationId: 'a1b2c3d4-0000-4000-8000-000000000001',
        signerRef: 'applicant-a1b2c3d4',
        documentHash: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        status: 'signed',
        signedAt: '2026-11-22T02:00:00.000Z',
        declinedAt: null,
      },
    },
  },
} as const;
