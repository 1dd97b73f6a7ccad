#!/usr/bin/env node
/**
 * Builds the server once into apps/server/dist/, so that production runs plain JavaScript
 * (`node apps/server/dist/main-api.js`): no TypeScript compiler, loader or esbuild service
 * process in the running server, less memory, a faster start, and a read-only filesystem is fine.
 *
 * esbuild, because it is already in the tree (tsx and Vite run on it) and builds this in well
 * under a second. It bundles our own code, the workspace packages included (they are TypeScript
 * sources), into one file per entry point plus shared chunks, and leaves every npm dependency
 * as an import from node_modules. Types are checked by `npm run typecheck` (tsc), not here.
 */
import { cp, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = `${SERVER_DIR}dist`;

/** The processes a deployment runs; each is `node dist/<name>.js`. */
const ENTRY_POINTS = {
  'main-api': 'src/main-api.ts',
  'main-worker': 'src/main-worker.ts',
  'main-sandbox': 'src/main-sandbox.ts',
  'main-embedded': 'src/main-embedded.ts',
  cli: 'src/cli.ts',
  'gtm-enrich': 'src/cli/gtm-enrich.ts',
};

const pkg = JSON.parse(await readFile(`${SERVER_DIR}package.json`, 'utf8'));
// npm packages stay imports (resolved from node_modules at run time); workspace packages
// (@gtm-enrich/*) are TypeScript sources and are bundled.
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
  .filter((name) => !name.startsWith('@gtm-enrich/'))
  .flatMap((name) => [name, `${name}/*`]);

const started = performance.now();
await rm(OUT_DIR, { recursive: true, force: true });
await build({
  absWorkingDir: SERVER_DIR,
  entryPoints: ENTRY_POINTS,
  outdir: OUT_DIR,
  bundle: true,
  // Shared code is one chunk, loaded once per process, not copied into every entry point.
  splitting: true,
  // Chunks sit beside the entry points, at the same depth as src/*.ts: paths built from
  // import.meta.url (the web page at ../../web/out, the repository root) resolve the same.
  chunkNames: '[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external,
  // Linked, not inline: run with NODE_OPTIONS=--enable-source-maps to see TypeScript lines in a
  // stack trace; without it the maps cost nothing.
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
// db/migrate.ts reads ./migrations beside itself; in dist that is dist/migrations.
await cp(`${SERVER_DIR}src/db/migrations`, `${OUT_DIR}/migrations`, { recursive: true });
process.stderr.write(`built ${OUT_DIR} in ${Math.round(performance.now() - started)} ms\n`);
