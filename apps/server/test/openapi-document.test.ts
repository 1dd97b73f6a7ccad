/**
 * The API document is what clients are generated from: every operation is named, tagged and
 * says every error it can answer, and Redocly's recommended rules find nothing in it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/http/openapi-document';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');

type Operation = {
  operationId?: string;
  tags?: string[];
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
};
type Document = {
  servers?: unknown[];
  info: { license?: { name: string } };
  paths: Record<string, Record<string, Operation>>;
};

describe('the OpenAPI document', () => {
  let doc: Document;
  let dir: string;
  beforeAll(async () => {
    doc = (await buildOpenApiDocument()) as Document;
    dir = await mkdtemp(path.join(tmpdir(), 'openapi-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ name: `${method.toUpperCase()} ${p}`, op })),
    );

  it('names and tags every operation, once each, and declares its errors with the error shape', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(15);
    const ids = ops.map(({ op }) => op.operationId);
    expect(ids.filter((id) => !id)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { name, op } of ops) {
      expect(op.tags?.length, name).toBeGreaterThan(0);
      const statuses = Object.keys(op.responses);
      expect(statuses, name).toEqual(expect.arrayContaining(['400', '500']));
      // Every route behind a key can be refused for it, or for its role, or for its pace.
      if (op.security?.length) expect(statuses, name).toEqual(expect.arrayContaining(['401', '403', '429']));
      // A body can be too large or of a type no parser reads: the server answers 413 and 415 for any such route.
      if (!name.startsWith('GET ')) expect(statuses, name).toEqual(expect.arrayContaining(['413', '415']));
      for (const status of statuses.filter((s) => Number(s) >= 400 && name !== 'GET /readyz')) {
        expect(op.responses[status]?.content?.['application/json']?.schema?.$ref, `${name} ${status}`).toBe(
          '#/components/schemas/ErrorBody',
        );
      }
    }
    expect(doc.servers?.length).toBeGreaterThan(0);
    expect(doc.info.license?.name).toBe('MIT');
  });

  it('passes redocly lint (recommended rules) with no error and no warning', async () => {
    const file = path.join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(doc));
    const { stdout } = await run(
      path.join(ROOT, 'node_modules/.bin/redocly'),
      ['lint', file, '--config', path.join(ROOT, 'redocly.yaml'), '--format', 'json'],
      {
        cwd: ROOT,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }));
    const report = JSON.parse(stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string }[];
    };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });
});
