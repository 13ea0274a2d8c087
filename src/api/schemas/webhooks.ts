import { z } from '../zod';
import { IsoDateTime, Line } from './common';

/** The e-signature provider's event (docs/sandbox.md). Unknown event types are acknowledged and ignored. */
export const EsignEvent = z
  .object({
    eventId: Line(128),
    type: Line(64).openapi({ example: 'envelope.signed' }),
    occurredAt: IsoDateTime,
    data: z.object({
      envelopeId: Line(128),
      applicationId: Line(128),
      signerRef: Line(128, { min: 0 }).optional(),
      documentHash: Line(128, { min: 0 }).optional(),
      status: Line(32, { min: 0 }).optional(),
      signedAt: IsoDateTime.nullable().optional(),
      declinedAt: Line(64, { min: 0 }).nullable().optional(),
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
