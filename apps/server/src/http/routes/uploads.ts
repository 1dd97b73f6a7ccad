import { ErrorBody, Job, UploadFields } from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../../errors';
import type { JobsService } from '../../jobs/jobs.service';
import type { ParsedUpload, UploadReader } from '../../jobs/read-upload';

export const uploadRoutes: FastifyPluginAsyncZod<{ jobs: JobsService; uploads: UploadReader }> = async (
  app,
  { jobs, uploads },
) => {
  app.post(
    '/uploads',
    {
      schema: {
        tags: ['uploads'],
        summary: 'Upload a CSV of company domains; creates a job and starts enriching it',
        description:
          'multipart/form-data with `org_id` and the optional `domain_column`, `force_refresh` (ignore the ' +
          'enrichment cache) and `max_credits` (pause the job at this many credits) — send them before the file — then `file`: ' +
          'a CSV with a `domain` column (or website, url, email…). One company per unique domain; rows without a ' +
          'usable domain are kept as rejected rows with a reason.',
        consumes: ['multipart/form-data'],
        response: { 202: Job, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody },
      },
    },
    async (req, reply) => {
      const fields: Record<string, string> = {};
      let parsed: ParsedUpload | null = null;
      for await (const part of req.parts()) {
        if (part.type === 'field') {
          fields[part.fieldname] = String(part.value);
          continue;
        }
        if (part.fieldname !== 'file' || parsed) {
          throw new AppError('VALIDATION_FAILED', 'Send exactly one file, in the form field named "file".');
        }
        // Checked before reading the file when the form sends it first, so a bad org id costs nothing.
        if ('org_id' in fields) parseFields(fields);
        parsed = await uploads.read(part.file, {
          filename: part.filename || null,
          domainColumn: fields.domain_column,
        });
      }
      if (!parsed) {
        throw new AppError(
          'MISSING_FILE',
          'No file in the form: attach the CSV as the multipart field "file".',
        );
      }
      const { org_id, force_refresh, max_credits } = parseFields(fields);
      const job = await jobs.createFromUpload(org_id, parsed, {
        forceRefresh: force_refresh,
        maxCredits: max_credits,
      });
      return reply.status(202).header('location', `/api/v1/jobs/${job.id}`).send(job);
    },
  );
};

function parseFields(fields: Record<string, string>) {
  const result = UploadFields.safeParse(fields);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || 'form', message: i.message }));
    const missing = !('org_id' in fields);
    throw new AppError(
      'VALIDATION_FAILED',
      missing
        ? 'The form has no org_id field: add the organization id, e.g. -F org_id=acme.'
        : issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      { issues },
    );
  }
  return result.data;
}
