import { Job } from '@gtm-enrich/contracts';
import { ApiError, apiUrl, failed, networkError } from '@/lib/api';
import { getApiKey } from '@/lib/session';

export type UploadProgress = { loaded: number; total: number };

export type UploadRequest = {
  file: File;
  /** Header of the column holding the domains; empty = let the server detect it. */
  domainColumn: string;
  /** Pause the job at this many credits; null = no limit. */
  maxCredits: number | null;
  /** Ask the provider again even for domains in the enrichment cache. */
  forceRefresh: boolean;
  /** false: the job is made with its estimate and waits to be started (the page asks). */
  start: boolean;
  onProgress: (progress: UploadProgress) => void;
  signal?: AbortSignal;
};

/**
 * POST /api/v1/uploads. XMLHttpRequest rather than fetch because only XHR reports upload
 * progress, which a 100 MB file needs. The fields go before the file: the server checks them
 * before it reads the file.
 */
export function uploadCsv({
  file,
  domainColumn,
  maxCredits,
  forceRefresh,
  start,
  onProgress,
  signal,
}: UploadRequest): Promise<Job> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    if (domainColumn.trim()) form.append('domain_column', domainColumn.trim());
    if (maxCredits !== null) form.append('max_credits', String(maxCredits));
    if (forceRefresh) form.append('force_refresh', 'true');
    if (!start) form.append('start', 'false');
    form.append('file', file, file.name);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl('/api/v1/uploads'));
    xhr.setRequestHeader('accept', 'application/json');
    const key = getApiKey();
    if (key) xhr.setRequestHeader('authorization', `Bearer ${key}`);
    xhr.upload.addEventListener('progress', (e) => {
      onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(Job.parse(JSON.parse(xhr.responseText)));
        } catch {
          reject(
            new ApiError(
              xhr.status,
              'BAD_RESPONSE',
              'The server accepted the file but its answer was unreadable.',
            ),
          );
        }
        return;
      }
      reject(failed(xhr.status, xhr.responseText));
    });
    xhr.addEventListener('error', () => reject(networkError('The upload')));
    xhr.addEventListener('abort', () => reject(new DOMException('Upload cancelled', 'AbortError')));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
