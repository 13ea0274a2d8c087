import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { PiiCipher } from '../db/pii';
import type { Logger } from '../logger';
import type { ActSigner } from '../temporal/actKeys';
import type { LoanWorkflows } from './loanWorkflows';

/** What every router gets: the database, the PII cipher, the workflows' door and the settings. */
export interface ApiContext {
  db: Db;
  cipher: PiiCipher;
  workflows: LoanWorkflows;
  temporal: Client;
  config: Pick<Config, 'JWT_SECRET' | 'JWT_JWKS_URL' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'ESIGN_WEBHOOK_SECRET' | 'DOCUMENT_URI_HOSTS'> & Partial<Pick<Config, 'TASK_CLAIM_MINUTES'>>;
  /** How long an application nobody has seen a workflow of blocks its applicant (ORPHAN_AFTER_MS). */
  orphanAfterMs: number;
  log: Logger;
  /** Signs every act the API sends to a workflow (the workflow refuses unsigned acts). */
  signer: ActSigner;
}
