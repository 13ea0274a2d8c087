import { Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { birthDateOf, hashInt, newId, parseBody, refuse } from '../http';
import {
  OCR_MARKER_BLURRY,
  OCR_MARKER_EXPIRED,
  OCR_MARKER_MISMATCH,
  OCR_MARKER_UNREADABLE,
  OCR_MISMATCH_ID_NUMBER,
  OCR_MISMATCH_NAME,
  ORDINARY_ID_NUMBER,
  ORDINARY_NAME,
} from '../test-values';

/**
 * OCR, shaped like the card-recognition APIs of Chinese cloud vendors: one call per document image,
 * each field with its own confidence. The sandbox cannot see the image, so it reads back what the
 * caller says the document should contain (`expected`); adverse readings come from URI markers.
 */
export const DOCUMENT_TYPES = [
  'id_card',
  'driver_license',
  'income_proof',
  'purchase_contract',
  'vehicle_registration',
  'bank_statement',
  'marriage_certificate',
] as const;

const recognizeSchema = z.object({
  documentId: z.string().min(1).max(128),
  type: z.string().min(1).max(64),
  uri: z.string().min(1).max(2048),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/),
  expected: z
    .object({
      name: z.string().min(1).max(64).optional(),
      idNumber: z.string().min(1).max(32).optional(),
      vin: z.string().min(1).max(32).optional(),
      monthlyIncomeFen: z.number().int().nonnegative().optional(),
      priceFen: z.number().int().nonnegative().optional(),
    })
    .optional(),
});

type FieldValue = string | number;
interface Field {
  value: FieldValue;
  confidence: number;
}

const EXPIRED_DATE = '2021-06-30';

export function ocrRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.post('/v1/documents/recognize', (req, res) => {
    const body = parseBody(recognizeSchema, req, res);
    if (!body) return;
    const type = body.type as (typeof DOCUMENT_TYPES)[number];
    if (!DOCUMENT_TYPES.includes(type)) {
      refuse(res, 422, 'unsupported_document_type', `document type is not supported: use one of ${DOCUMENT_TYPES.join(', ')}`);
      return;
    }
    const has = (marker: string) => body.uri.includes(marker);
    if (has(OCR_MARKER_UNREADABLE)) {
      refuse(res, 422, 'document_unreadable', 'no text could be recognised in the document image');
      return;
    }
    const blurry = has(OCR_MARKER_BLURRY);
    const expired = has(OCR_MARKER_EXPIRED);
    const mismatch = has(OCR_MARKER_MISMATCH);
    const seed = body.sha256.toLowerCase();
    const today = ctx.now();
    const year = today.getUTCFullYear();

    let fieldNo = 0;
    const field = (value: FieldValue): Field => {
      fieldNo += 1;
      // Clean scans read at 0.95–0.995; blurry ones at 0.35–0.55, each field its own figure.
      const confidence = blurry
        ? 0.35 + hashInt(seed, 201, `c${fieldNo}`) / 1000
        : 0.95 + hashInt(seed, 46, `c${fieldNo}`) / 1000;
      return { value, confidence: Math.round(confidence * 1000) / 1000 };
    };

    const expectedName = body.expected?.name ?? ORDINARY_NAME;
    const expectedId = body.expected?.idNumber ?? ORDINARY_ID_NUMBER;
    const name = mismatch ? (expectedName === OCR_MISMATCH_NAME ? '王五' : OCR_MISMATCH_NAME) : expectedName;
    const idNumber = mismatch
      ? expectedId === OCR_MISMATCH_ID_NUMBER
        ? ORDINARY_ID_NUMBER
        : OCR_MISMATCH_ID_NUMBER
      : expectedId;
    const dateIn = (fromYear: number, salt: string) =>
      `${fromYear}-${String(1 + hashInt(seed, 12, `${salt}m`)).padStart(2, '0')}-${String(1 + hashInt(seed, 28, `${salt}d`)).padStart(2, '0')}`;
    const expiryDate = expired ? EXPIRED_DATE : dateIn(year + 3 + hashInt(seed, 8, 'exp'), 'exp');
    const recentDate = dateIn(year - 1, 'recent');
    const vin = body.expected?.vin ?? 'LFV2A21K2A3010006';

    const fields: Record<string, Field> = {};
    const warnings: string[] = [];
    switch (type) {
      case 'id_card':
        Object.assign(fields, {
          name: field(name),
          idNumber: field(idNumber),
          sex: field(/^\d{17}/.test(idNumber) && Number(idNumber[16]) % 2 === 1 ? '男' : '女'),
          birthDate: field(/^\d{17}/.test(idNumber) ? birthDateOf(idNumber) : ''),
          address: field('北京市朝阳区建国路88号'),
          issuingAuthority: field('北京市公安局朝阳分局'),
          validFrom: field(dateIn(year - 7, 'from')),
          expiryDate: field(expiryDate),
        });
        break;
      case 'driver_license':
        // A mainland driving licence number is the holder's resident ID number.
        Object.assign(fields, {
          name: field(name),
          licenceNumber: field(idNumber),
          vehicleClass: field('C1'),
          firstIssueDate: field(dateIn(year - 9, 'first')),
          validFrom: field(dateIn(year - 3, 'from')),
          expiryDate: field(expiryDate),
        });
        break;
      case 'income_proof':
        Object.assign(fields, {
          name: field(name),
          employer: field('北京某某科技有限公司'),
          monthlyIncomeFen: field(body.expected?.monthlyIncomeFen ?? 2_000_000),
          issueDate: field(recentDate),
        });
        break;
      case 'purchase_contract':
        Object.assign(fields, {
          name: field(name),
          vin: field(vin),
          priceFen: field(body.expected?.priceFen ?? 25_000_000),
          dealerName: field('北京某某汽车销售服务有限公司'),
          contractDate: field(recentDate),
        });
        break;
      case 'vehicle_registration':
        Object.assign(fields, {
          name: field(name),
          vin: field(vin),
          plateNumber: field(`京A${String(10000 + hashInt(seed, 89999, 'plate'))}`),
          registrationDate: field(dateIn(year - 3, 'reg')),
        });
        break;
      case 'bank_statement':
        Object.assign(fields, {
          name: field(name),
          averageMonthlyInflowFen: field(body.expected?.monthlyIncomeFen ?? 2_000_000),
          periodFrom: field(dateIn(year - 1, 'pf')),
          periodTo: field(recentDate),
        });
        break;
      case 'marriage_certificate':
        Object.assign(fields, {
          name: field(name),
          spouseName: field('王芳'),
          certificateNumber: field(`J110105-${year - 5}-${String(hashInt(seed, 999999, 'cert')).padStart(6, '0')}`),
          registrationDate: field(dateIn(year - 5, 'marr')),
        });
        break;
    }
    const confidences = Object.values(fields).map((f) => f.confidence);
    const minConfidence = Math.min(...confidences);
    if (blurry) warnings.push('low_confidence');
    if (expired && 'expiryDate' in fields) warnings.push('document_expired');

    const recognitionId = newId('ocr');
    ctx.logger.info({ recognitionId, documentId: body.documentId, type, warnings }, 'ocr: document recognised');
    res.json({ recognitionId, documentId: body.documentId, type, fields, minConfidence, warnings });
  });

  return router;
}
