/**
 * The fixed reference of benchmark 1: the command shape an application had in release 0.1.0, before
 * its history was made lean (48 activities, 3 updates, 3 timers, the upserts, the servicing child),
 * read from that release's stored happy-path history. The no-op of today's shape moves with the
 * workflow; this one does not, so "at least 1.3× the old shape" keeps meaning the same thing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { shapeOf, type Shape } from './shape';

export const REFERENCE_RELEASE = '0.1.0';
export const REFERENCE_HISTORY = path.join(__dirname, '..', '..', 'test', 'workflow', 'histories', REFERENCE_RELEASE, 'happy-new-branch.json');

/** The reference shape; its child is the servicing run's shape, which `child` gives (read from the live run). */
export function referenceShape(child: Shape | undefined): Shape {
  const file = JSON.parse(readFileSync(REFERENCE_HISTORY, 'utf8')) as { events?: Record<string, unknown>[] };
  if (!Array.isArray(file.events) || file.events.length === 0) throw new Error(`${REFERENCE_HISTORY}: no history events`);
  return { ...shapeOf(file.events), child };
}
