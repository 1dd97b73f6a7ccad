/**
 * The security headers of the page, for a web server other than ours: nginx in compose serves the
 * static export itself, so it must send what the API sends for the page (helmet, with a
 * Content-Security-Policy that allows the export's inline scripts by their SHA-256). Computed by
 * asking registerSecurity for them, so the two cannot drift; run when the page is built
 * (Dockerfile, target `web`):
 *
 *   node --import tsx apps/server/src/web-security-headers.ts apps/web/out > security-headers.conf
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { registerSecurity } from './http/security';

/** Headers of any answer that are not about security (nginx writes its own). */
const NOT_SECURITY = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/** The headers the API sends with the page built in `webDir`, by name (lower case). */
export async function pageSecurityHeaders(webDir: string): Promise<Record<string, string>> {
  const app = Fastify({ logger: false });
  await registerSecurity(app, { webDir, corsOrigins: [], docsPrefix: '/docs' });
  app.get('/', async () => 'page');
  const res = await app.inject({ method: 'GET', url: '/' });
  await app.close();
  return Object.fromEntries(
    Object.entries(res.headers)
      .filter(([name, value]) => !NOT_SECURITY.has(name) && typeof value === 'string')
      .map(([name, value]) => [name, String(value)]),
  );
}

/** nginx `add_header` lines (`always`: on error pages too). Values hold no double quote or backslash. */
export function nginxAddHeaders(headers: Record<string, string>): string {
  const lines = Object.entries(headers).map(([name, value]) => {
    if (/["\\\n]/.test(value)) throw new Error(`header ${name} cannot be written for nginx: ${value}`);
    return `add_header ${name} "${value}" always;`;
  });
  return `# Generated from the API's own headers for the page (apps/server/src/web-security-headers.ts).\n${lines.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const webDir = process.argv[2];
  if (!webDir) {
    process.stderr.write('usage: web-security-headers.ts <built page directory>\n');
    process.exit(2);
  }
  process.stdout.write(nginxAddHeaders(await pageSecurityHeaders(path.resolve(webDir))));
}
