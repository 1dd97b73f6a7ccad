/**
 * A client that goes quiet without closing must not hold the API open: neither an upload refused
 * from its first bytes nor a download the client stopped reading. SIGTERM ends the process within
 * seconds, not after the idle timeout (or, for a download, past the stop's deadline).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from './test-database';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const redisUrl = inject('redisUrl');
const KEY = 'gtm_test-shutdown-key-0123456789abcdefghijklmnop';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe.skipIf(!redisUrl)('shutdown with a quiet client', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** The API alone, as `npm run start:api` runs it from the sources, listening on a free port. */
  async function startApi() {
    const port = await freePort();
    const api = spawn(process.execPath, ['--import', 'tsx', 'apps/server/src/main-api.ts'], {
      cwd: ROOT,
      stdio: 'ignore',
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'error',
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl!,
        QUEUE_PREFIX: `test-refused-${port}`,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(await freePort()),
        BOOTSTRAP_API_KEY: KEY,
        BOOTSTRAP_ORG_ID: 'acme',
        HTTP_IDLE_TIMEOUT_MS: '120000',
      },
    });
    try {
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status, {
          // A cold process compiles its sources first: slow on a busy machine.
          timeout: 60_000,
          interval: 200,
        })
        .toBe(200);
    } catch (err) {
      api.kill('SIGKILL');
      throw err;
    }
    return { api, port };
  }

  it('exits within 5 s of SIGTERM with a refused upload open', async () => {
    const { api, port } = await startApi();
    const exited = once(api, 'exit');

    try {
      // A domain_column the header lacks: refused from the first bytes, while the client says 50 MB
      // more will come. The part sent so far ends on a line break (a head that once waited for more).
      const head =
        '--XYZ\r\nContent-Disposition: form-data; name="domain_column"\r\n\r\nWebsite\r\n' +
        '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n' +
        `name,city\n${'Acme,Paris\n'.repeat(8_000)}`;
      const socket = connect({ host: '127.0.0.1', port });
      let answer = '';
      socket.on('data', (d: Buffer) => {
        answer += d.toString('utf8');
      });
      socket.on('error', () => {});
      socket.write(
        `POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
          'Content-Type: multipart/form-data; boundary=XYZ\r\n' +
          `Content-Length: ${Buffer.byteLength(head) + 50_000_000}\r\n\r\n${head}`,
      );
      await expect.poll(() => answer, { timeout: 10_000 }).toContain('NO_DOMAIN_COLUMN');

      const started = Date.now();
      api.kill('SIGTERM');
      await exited;
      expect(Date.now() - started).toBeLessThan(5_000);
      socket.destroy();
    } finally {
      if (api.exitCode === null) api.kill('SIGKILL');
    }
  }, 120_000);

  it('exits within seconds of SIGTERM with a download its client stopped reading', async () => {
    const { api, port } = await startApi();
    const exited = once(api, 'exit');
    const auth = { authorization: `Bearer ${KEY}` };
    try {
      // Read at once (under UPLOAD_INLINE_MAX_ROWS), so the API alone can export it.
      const rows = Array.from({ length: 19_000 }, (_, i) => `stalled-${i}.com,a note for row ${i}`);
      const form = new FormData();
      form.append('org_id', 'acme');
      form.append('start', 'false');
      form.append('file', new File([['domain,note', ...rows].join('\n')], 'stalled.csv'));
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/uploads`, {
        method: 'POST',
        body: form,
        headers: auth,
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };

      // Megabytes of rows asked for, the first bytes read, then nothing more read and nothing closed.
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      let received = 0;
      socket.on('data', (d: Buffer) => {
        received += d.length;
        if (received > 64 * 1024) socket.pause();
      });
      socket.write(
        `GET /api/v1/jobs/${id}/export.csv?layout=rows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n\r\n`,
      );
      await expect.poll(() => received, { timeout: 10_000 }).toBeGreaterThan(64 * 1024);

      const started = Date.now();
      api.kill('SIGTERM');
      const [code] = await exited;
      // The download is cut after a 5 s grace, well within the stop's 30 s deadline (exit 0).
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(code).toBe(0);
      socket.destroy();
    } finally {
      if (api.exitCode === null) api.kill('SIGKILL');
    }
  }, 120_000);
});
