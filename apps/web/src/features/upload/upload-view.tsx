'use client';

import { useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { type DragEvent, type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { jobKeys } from '@/features/job/queries';
import { jobHref } from '@/features/job/routes';
import { jobsKeys } from '@/features/jobs/queries';
import { ApiError, errorMessage } from '@/lib/api';
import { formatBytes, formatCount } from '@/lib/format';
import { useCan, useOrgId } from '@/lib/org';
import { type UploadProgress, uploadCsv } from './upload-csv';

const SAMPLE_CSV =
  'domain,company\nstripe.com,Stripe\nshopify.com,Shopify\nnotion.so,Notion\nlinear.app,Linear\n';
const SAMPLE_CSV_HREF = `data:text/csv;charset=utf-8,${encodeURIComponent(SAMPLE_CSV)}`;

type Phase =
  | { kind: 'idle' }
  | { kind: 'uploading'; progress: UploadProgress }
  | { kind: 'error'; message: string; rejected: RejectedSample[]; reasons: [string, number][] };

/** What a refused file's error carries (details.rejected, details.reasons): its first rows and why. */
type RejectedSample = { rowNumber: number; raw: string; reason: string; message: string };

function refusal(err: unknown): Pick<Extract<Phase, { kind: 'error' }>, 'rejected' | 'reasons'> {
  const details = err instanceof ApiError ? err.details : undefined;
  const rejected = Array.isArray(details?.rejected)
    ? (details.rejected as unknown[]).filter(
        (r): r is RejectedSample =>
          typeof r === 'object' &&
          r !== null &&
          typeof (r as RejectedSample).rowNumber === 'number' &&
          typeof (r as RejectedSample).message === 'string',
      )
    : [];
  const counted = details?.reasons;
  const reasons =
    typeof counted === 'object' && counted !== null
      ? Object.entries(counted).filter((e): e is [string, number] => typeof e[1] === 'number')
      : [];
  return { rejected, reasons };
}

export function UploadView() {
  const router = useRouter();
  const queryClient = useQueryClient();
  const orgId = useOrgId();
  const [file, setFile] = useState<File | null>(null);
  const [domainColumn, setDomainColumn] = useState('');
  const [maxCredits, setMaxCredits] = useState('');
  const [forceRefresh, setForceRefresh] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [notice, setNotice] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const abortRef = useRef<AbortController | null>(null);
  const ids = { file: useId(), column: useId(), hint: useId(), credits: useId(), refresh: useId() };
  const creditsValue = maxCredits.trim() === '' ? null : Number(maxCredits);
  const creditsInvalid =
    creditsValue !== null &&
    (!Number.isInteger(creditsValue) || creditsValue < 1 || creditsValue > 2_000_000_000);

  useEffect(() => () => abortRef.current?.abort(), []);

  const uploading = phase.kind === 'uploading';
  const canUpload = useCan('member');

  function choose(files: FileList | null) {
    const first = files?.[0];
    if (!first) return;
    setFile(first);
    setPhase({ kind: 'idle' });
    setNotice(files.length > 1 ? `One file per upload: using ${first.name}.` : null);
  }

  function clearFile() {
    setFile(null);
    setNotice(null);
    setPhase({ kind: 'idle' });
    if (inputRef.current) inputRef.current.value = '';
    inputRef.current?.focus();
  }

  function onDrag(e: DragEvent<HTMLFieldSetElement>, over: boolean) {
    e.preventDefault();
    if (!uploading) setDragging(over);
  }

  function onDrop(e: DragEvent<HTMLFieldSetElement>) {
    e.preventDefault();
    setDragging(false);
    if (!uploading) choose(e.dataTransfer.files);
  }

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!file || uploading || !canUpload || creditsInvalid) return;
    const controller = new AbortController();
    abortRef.current = controller;
    setPhase({ kind: 'uploading', progress: { loaded: 0, total: file.size } });
    try {
      const job = await uploadCsv({
        file,
        domainColumn,
        maxCredits: creditsValue,
        forceRefresh,
        // The job page shows the estimate and asks before anything is spent.
        start: false,
        signal: controller.signal,
        onProgress: (progress) => setPhase({ kind: 'uploading', progress }),
      });
      queryClient.setQueryData(jobKeys.job(orgId, job.id), job);
      void queryClient.invalidateQueries({ queryKey: jobsKeys.list(orgId) });
      router.push(jobHref(job.id));
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') {
        setPhase({ kind: 'idle' });
        return;
      }
      setPhase({ kind: 'error', message: errorMessage(err), ...refusal(err) });
    } finally {
      abortRef.current = null;
    }
  }

  // A viewer's key reads jobs but starts none: no form it could not send.
  if (!canUpload) return <ReadOnlyNotice />;

  return (
    <div className="page page--narrow">
      <div className="page-header">
        <div className="page-header__text">
          <h1>Enrich a list of companies</h1>
          <p className="muted">
            Upload a CSV with a column of company domains. Each unique domain is matched and enriched with
            firmographics: industry, size, revenue, headquarters, LinkedIn and more.
          </p>
        </div>
      </div>

      <form className="card card__body" onSubmit={onSubmit} noValidate aria-busy={uploading}>
        <div style={{ display: 'flex', flexDirection: 'column', gap: 18 }}>
          <fieldset
            className="field"
            onDragEnter={(e) => onDrag(e, true)}
            onDragOver={(e) => onDrag(e, true)}
            onDragLeave={(e) => onDrag(e, false)}
            onDrop={onDrop}
          >
            <legend id={`${ids.file}-label`}>CSV file</legend>
            <div className={`dropzone${dragging ? ' is-dragging' : ''}`}>
              <input
                ref={inputRef}
                id={ids.file}
                type="file"
                name="file"
                accept=".csv,.tsv,.txt,text/csv,text/plain,text/tab-separated-values"
                className="visually-hidden"
                aria-labelledby={`${ids.file}-label ${ids.file}-title`}
                aria-describedby={ids.hint}
                disabled={uploading}
                onChange={(e) => choose(e.target.files)}
              />
              <label htmlFor={ids.file} className="dropzone__label">
                <span className="dropzone__icon">
                  <svg
                    aria-hidden="true"
                    width="20"
                    height="20"
                    viewBox="0 0 24 24"
                    fill="none"
                    stroke="currentColor"
                    strokeWidth="2"
                  >
                    <path d="M12 16V4m0 0-4 4m4-4 4 4" strokeLinecap="round" strokeLinejoin="round" />
                    <path d="M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2" strokeLinecap="round" />
                  </svg>
                </span>
                <span className="dropzone__title" id={`${ids.file}-title`}>
                  Drop a CSV file here or <span className="dropzone__browse">choose a file</span>
                </span>
                <span id={ids.hint} className="field__hint">
                  A header row and a <code>domain</code> column (or website, url, email). One company per
                  unique domain.
                </span>
              </label>
            </div>
            {file ? (
              <div className="file-chip">
                <svg
                  width="16"
                  height="16"
                  viewBox="0 0 24 24"
                  fill="none"
                  stroke="currentColor"
                  aria-hidden="true"
                >
                  <path d="M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9z" strokeWidth="2" />
                  <path d="M14 3v6h6" strokeWidth="2" />
                </svg>
                <span className="file-chip__name" title={file.name}>
                  {file.name}
                </span>
                <span className="muted num">{formatBytes(file.size)}</span>
                <button
                  type="button"
                  className="button button--small"
                  onClick={clearFile}
                  disabled={uploading}
                >
                  Remove<span className="visually-hidden"> {file.name}</span>
                </button>
              </div>
            ) : null}
            {notice ? <p className="field__hint">{notice}</p> : null}
          </fieldset>

          <div className="form-grid">
            <div className="field">
              <label htmlFor={ids.column}>
                Domain column <span className="faint">(optional)</span>
              </label>
              <input
                id={ids.column}
                className="input"
                name="domain_column"
                placeholder="Detected from the header"
                spellCheck={false}
                value={domainColumn}
                aria-describedby={`${ids.column}-hint`}
                onChange={(e) => setDomainColumn(e.target.value)}
              />
              <span id={`${ids.column}-hint`} className="field__hint">
                The header of the column that holds the domains, when it is not detected.
              </span>
            </div>
            <div className="field">
              <label htmlFor={ids.credits}>
                Credit limit <span className="faint">(optional)</span>
              </label>
              <input
                id={ids.credits}
                className="input"
                name="max_credits"
                inputMode="numeric"
                placeholder="No limit"
                value={maxCredits}
                aria-invalid={creditsInvalid || undefined}
                aria-describedby={`${ids.credits}-hint`}
                onChange={(e) => setMaxCredits(e.target.value)}
              />
              <span id={`${ids.credits}-hint`} className={creditsInvalid ? 'field__error' : 'field__hint'}>
                {creditsInvalid
                  ? 'A whole number of credits, at least 1.'
                  : 'The job pauses before it spends more; you can raise it and resume.'}
              </span>
            </div>
          </div>
          <label className="checkbox" htmlFor={ids.refresh}>
            <input
              id={ids.refresh}
              type="checkbox"
              name="force_refresh"
              checked={forceRefresh}
              aria-describedby={`${ids.refresh}-hint`}
              onChange={(e) => setForceRefresh(e.target.checked)}
            />
            Skip the cache
          </label>
          <span id={`${ids.refresh}-hint`} className="field__hint" style={{ marginTop: -12 }}>
            Ask the provider again even for domains enriched recently (costs credits for each of them).
          </span>

          {phase.kind === 'error' ? (
            <div role="alert" className="alert alert--error">
              <div className="alert__body">
                <p className="alert__title">The file was not accepted</p>
                <p>{phase.message}</p>
                {phase.reasons.length > 0 ? (
                  <ul className="refusal-reasons">
                    {phase.reasons.map(([reason, rows]) => (
                      <li key={reason}>
                        <span className="mono">{reason}</span>: {formatCount(rows)}{' '}
                        {rows === 1 ? 'row' : 'rows'}
                      </li>
                    ))}
                  </ul>
                ) : null}
                {phase.rejected.length > 0 ? (
                  <table className="table refusal-rows">
                    <caption>The first rows without a usable domain</caption>
                    <thead>
                      <tr>
                        <th scope="col">Row</th>
                        <th scope="col">In the file</th>
                        <th scope="col">Why</th>
                      </tr>
                    </thead>
                    <tbody>
                      {phase.rejected.map((r) => (
                        <tr key={r.rowNumber}>
                          <td className="num">{r.rowNumber}</td>
                          <td className="mono">{r.raw === '' ? '(empty)' : r.raw}</td>
                          <td>{r.message}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                ) : null}
              </div>
            </div>
          ) : null}

          <UploadProgressBar phase={phase} />

          <div className="form-actions">
            <a href={SAMPLE_CSV_HREF} download="sample-companies.csv" className="muted">
              Download a sample CSV
            </a>
            <div style={{ display: 'flex', gap: 8 }}>
              {uploading ? (
                <button type="button" className="button" onClick={() => abortRef.current?.abort()}>
                  Cancel
                </button>
              ) : null}
              <button
                type="submit"
                className="button button--primary"
                disabled={!file || uploading || !canUpload || creditsInvalid}
              >
                {uploading ? 'Uploading…' : 'Upload and see the cost'}
              </button>
            </div>
          </div>
        </div>
      </form>

      <ol className="steps" aria-label="How it works">
        <li>
          <span className="step-number">1</span>
          <span>
            <strong>Upload</strong>
            Duplicates are merged and rows without a usable domain are listed with the reason.
          </span>
        </li>
        <li>
          <span className="step-number">2</span>
          <span>
            <strong>Watch it run</strong>
            Progress, counts and an estimate of the time left update live.
          </span>
        </li>
        <li>
          <span className="step-number">3</span>
          <span>
            <strong>Export</strong>
            Filter, search and download every enriched field as CSV. <Link href="/jobs/">See past jobs</Link>.
          </span>
        </li>
      </ol>
    </div>
  );
}

function ReadOnlyNotice() {
  return (
    <div className="page page--narrow">
      <div className="page-header">
        <div className="page-header__text">
          <h1>Enrich a list of companies</h1>
        </div>
      </div>
      <div role="note" className="alert alert--info card__body">
        <div className="alert__body">
          <p className="alert__title">Read-only key</p>
          <p>
            This API key has the viewer role: it can follow jobs and read their results, but not upload. Ask
            an admin of your organization for a member key to start jobs.
          </p>
          <p>
            <Link href="/jobs/">See the jobs of your organization</Link>
          </p>
        </div>
      </div>
    </div>
  );
}

/** Always takes the same space, so the form does not jump when an upload starts. */
function UploadProgressBar({ phase }: { phase: Phase }) {
  if (phase.kind !== 'uploading') return null;
  const { loaded, total } = phase.progress;
  const pct = total > 0 ? Math.min(100, Math.floor((loaded / total) * 100)) : 0;
  const sent = pct >= 100;
  return (
    <div className="upload-progress">
      <div className="upload-progress__text" aria-live="polite">
        <span>{sent ? 'Uploaded. Reading the file and creating the job…' : `Uploading… ${pct} %`}</span>
        <span>
          {formatBytes(loaded)} of {formatBytes(total)}
        </span>
      </div>
      <div
        className="progress-track progress-track--thin"
        role="progressbar"
        aria-label="Upload progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div className="progress-segment status-running" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
