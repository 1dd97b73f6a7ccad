import { createHash, type Hash } from 'node:crypto';
import { ErrorBody, hasControlCharacters, Job, UploadFields } from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../errors';
import type { JobsService } from '../../jobs/jobs.service';
import { assertSameOrganization } from '../auth';

export const uploadRoutes: FastifyPluginAsyncZod<{ jobs: JobsService; maxUploadBytes: number }> = async (
  app,
  { jobs, maxUploadBytes },
) => {
  app.post(
    '/uploads',
    {
      schema: {
        tags: ['uploads'],
        operationId: 'createUpload',
        summary: 'Upload a CSV of company domains; creates a job and starts enriching it',
        description:
          'multipart/form-data with `file`, a CSV with a `domain` column (or website, url, email…), and the optional fields ' +
          '`org_id` (the API key says the organization), `domain_column`, `force_refresh` (ignore the enrichment cache) and ' +
          '`max_credits` (pause the job at this many credits), before or after the file, and `header_row` (the line holding ' +
          'the header, when report titles sit above it; before the file). A row whose domain cell is blank takes its domain ' +
          'from the next recognized column (website, url, email…); an Excel `sep=` line and title rows above a header that ' +
          'names a domain column are skipped. One company per unique domain; rows without a ' +
          'usable domain are kept as rejected rows with a reason. Send an `Idempotency-Key` header (1–255 visible ' +
          'characters, e.g. a UUID) to retry safely: the same key with the same request returns the first response ' +
          '(header `Idempotent-Replayed: true`) and creates no second job; with a different request it is refused (422). ' +
          'The whole file is checked (encoding, quotes, row limit) before the answer. A file of at most ' +
          'UPLOAD_INLINE_MAX_ROWS rows is also read before it: the job comes back `queued` with its counts and estimate. ' +
          'A larger one comes back `ingesting` and is read in the background; poll the job (Location header) until it is ' +
          '`queued` (or `failed`, when no row holds a usable domain).',
        consumes: ['multipart/form-data'],
        response: { 202: Job, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody },
      },
    },
    async (req, reply) => {
      const fields: Record<string, string> = {};
      const parts = req.parts()[Symbol.asyncIterator]();
      const oneFile = () =>
        new AppError('VALIDATION_FAILED', 'Send exactly one file, in the form field named "file".');
      // Fields sent after the file: read once the file is stored, then checked here.
      const restOfForm = async (headerRow: number | undefined) => {
        for (let next = await parts.next(); !next.done; next = await parts.next()) {
          if (next.value.type !== 'field') throw oneFile();
          fields[next.value.fieldname] = String(next.value.value);
        }
        const { org_id, force_refresh, max_credits, domain_column, header_row, providers, start } =
          parseFields(fields);
        assertSameOrganization(req.auth, org_id);
        const waterfall = jobs.checkProviders(providers);
        if (header_row !== headerRow) {
          throw new AppError(
            'VALIDATION_FAILED',
            'header_row: send it before the file, so the file is read from that line on.',
          );
        }
        return {
          forceRefresh: force_refresh,
          maxCredits: max_credits,
          domainColumn: domain_column,
          start,
          providers: waterfall,
        };
      };
      let headerRow: number | undefined;
      for (let next = await parts.next(); !next.done; next = await parts.next()) {
        const part = next.value;
        if (part.type === 'field') {
          fields[part.fieldname] = String(part.value);
          continue;
        }
        if (part.fieldname !== 'file') throw oneFile();
        // The file name is shown on the page and in exports' names: text, never terminal control.
        if (part.filename && hasControlCharacters(part.filename)) {
          throw new AppError('VALIDATION_FAILED', 'The file name must not contain control characters.');
        }
        // Checked before reading the file when the form sends them first, so a bad field costs nothing.
        const before = parseFields(fields);
        assertSameOrganization(req.auth, before.org_id);
        jobs.checkProviders(before.providers);
        headerRow = before.header_row;
        const key = idempotencyKey(req.headers['idempotency-key']);
        // The request's fingerprint for its Idempotency-Key: the file's bytes, then the form fields.
        const hash = createHash('sha256');
        const file = untruncated(part.file, maxUploadBytes);
        const source = key ? hashing(file, hash) : file;
        const upload = await jobs.beginUpload(req.auth.orgId, source, {
          filename: part.filename || null,
          domainColumn: before.domain_column,
          headerRow,
        });
        let options: Awaited<ReturnType<typeof restOfForm>>;
        try {
          options = await restOfForm(headerRow);
        } catch (err) {
          await upload.abandon(err);
          throw err;
        }
        const { job, replayed } = await upload.finish(
          options,
          key
            ? {
                key,
                requestHash: hash
                  .update(JSON.stringify(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b))))
                  .update(part.filename ?? '')
                  .digest('hex'),
              }
            : undefined,
        );
        if (replayed) reply.header('idempotent-replayed', 'true');
        return reply.status(202).header('location', `/api/v1/jobs/${job.id}`).send(job);
      }
      throw new AppError(
        'MISSING_FILE',
        'No file in the form: attach the CSV as the multipart field "file".',
      );
    },
  );
};

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function idempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new AppError(
      'VALIDATION_FAILED',
      'The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID is a good choice).',
    );
  }
  return header;
}

/**
 * The file as sent, or PAYLOAD_TOO_LARGE when the multipart parser cut it at MAX_UPLOAD_BYTES. The
 * parser ends a cut file like a whole one (it only marks it `truncated`), so without this the cut
 * would be read as the file's end: a quote left open, a half row.
 */
async function* untruncated(
  file: AsyncIterable<Uint8Array> & { truncated?: boolean },
  maxUploadBytes: number,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of file) {
    if (file.truncated) break;
    yield chunk;
  }
  if (file.truncated) {
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `The file is larger than the upload limit of ${maxUploadBytes} bytes (MAX_UPLOAD_BYTES). Split it into smaller files.`,
      { limit_bytes: maxUploadBytes },
    );
  }
}

/** Passes the file through unchanged, feeding every byte to `hash` on the way. */
async function* hashing(source: AsyncIterable<Uint8Array>, hash: Hash): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

function parseFields(fields: Record<string, string>) {
  const result = UploadFields.safeParse(fields);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || 'form', message: i.message }));
    throw new AppError('VALIDATION_FAILED', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
      issues,
    });
  }
  return result.data;
}
