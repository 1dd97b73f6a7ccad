import type { Job } from '@gtm-enrich/contracts';
import { percentDone } from '@/lib/format';

/** Finished companies by outcome, stacked, as one progressbar whose value is the percentage done. */
const SEGMENTS = ['enriched', 'not_found', 'failed', 'cancelled'] as const;

export function JobProgressBar({ job, label, thin }: { job: Job; label: string; thin?: boolean }) {
  const pct = percentDone(job);
  return (
    <div
      className={`progress-track${thin ? ' progress-track--thin' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      aria-valuetext={`${pct} % done`}
    >
      {SEGMENTS.map((status) => {
        const share = job.total > 0 ? (job.counts[status] / job.total) * 100 : 0;
        return share > 0 ? (
          <div key={status} className={`progress-segment status-${status}`} style={{ width: `${share}%` }} />
        ) : null;
      })}
    </div>
  );
}
