/**
 * The CLI's progress: how much of a job is done, how fast it goes and when it should end, and
 * the one-line bar drawn on a terminal.
 */
import type { Job } from '@gtm-enrich/client';

export type ProgressSample = { at: number; done: number };
export type Progress = { done: number; percent: number; perSecond: number | null; etaSeconds: number | null };

/** The ETA looks this far back: long enough to smooth batches out, short enough to follow a change of pace. */
const WINDOW_MS = 30_000;

/**
 * Companies in a final state and the pace over the last WINDOW_MS; `samples` is the caller's
 * history, appended to here (one sample per poll).
 */
export function progressOf(job: Job, samples: ProgressSample[], now: number): Progress {
  const c = job.counts;
  const done = c.enriched + c.not_found + c.failed + c.cancelled;
  const percent = job.total > 0 ? Math.floor((done / job.total) * 100) : 100;
  samples.push({ at: now, done });
  while (samples.length > 2 && samples[0]!.at < now - WINDOW_MS) samples.shift();
  const first = samples[0]!;
  const seconds = (now - first.at) / 1000;
  const perSecond = seconds > 0 && done > first.done ? (done - first.done) / seconds : null;
  const etaSeconds = perSecond ? Math.ceil((job.total - done) / perSecond) : null;
  return { done, percent, perSecond, etaSeconds };
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `columns`: the terminal's width (a terminal that reports none, 0: taken as 80). */
export function renderProgress(job: Job, p: Progress, columns: number): string {
  if (columns <= 0) columns = 80;
  const rate = p.perSecond ? ` · ${p.perSecond.toFixed(p.perSecond < 10 ? 1 : 0)}/s` : '';
  const eta = p.etaSeconds !== null && p.done < job.total ? ` · ETA ${formatSeconds(p.etaSeconds)}` : '';
  const text = ` ${p.percent}% ${p.done}/${job.total}${rate}${eta} · ${job.usage.credits} credits · ${job.status}`;
  const width = Math.min(40, columns - text.length - 3);
  // A narrow terminal gets the figures without the bar: a line that wraps cannot be redrawn in place.
  if (width < 10) return text.trim().slice(0, Math.max(0, columns - 1));
  const filled = Math.round((p.percent / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${text}`;
}
