/**
 * The embedded mode serves the built page on the API's port. `npm start` on a fresh clone builds
 * it first when it is missing, so one command is still all it takes.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from './config';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const WEB_APP_DIR = path.join(REPO_ROOT, 'apps', 'web');

export async function ensureWebBuilt(config: Config, logger: Logger): Promise<void> {
  if (config.WEB_DIR) return;
  const out = path.join(WEB_APP_DIR, 'out', 'index.html');
  if (existsSync(out) || !existsSync(path.join(WEB_APP_DIR, 'next.config.ts'))) return;
  logger.info('building the web page once (about a minute)…');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('npm', ['run', 'build', '--workspace', '@gtm-enrich/web'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`web build exited with ${code}`))));
  });
}
