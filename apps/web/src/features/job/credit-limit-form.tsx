'use client';

import type { Job } from '@gtm-enrich/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { errorMessage } from '@/lib/api';
import { formatCount } from '@/lib/format';
import { resumeJob, setCreditLimit } from './job-action-requests';
import { jobKeys } from './queries';

/**
 * For a job paused at its credit limit: raise the limit (or remove it), then resume, in one step.
 * The suggested limit is what finishing the job can cost at most: one credit per company left.
 */
export function CreditLimitForm({ job, orgId }: { job: Job; orgId: string }) {
  const queryClient = useQueryClient();
  const ids = useId();
  const spent = job.usage.credits;
  const left = job.counts.queued + job.counts.processing;
  const [value, setValue] = useState(String(spent + Math.max(left, 1)));
  const [invalid, setInvalid] = useState<string | null>(null);
  const raise = useMutation({
    mutationFn: async (maxCredits: number | null) => {
      const updated = await setCreditLimit(job.id, maxCredits);
      queryClient.setQueryData(jobKeys.job(orgId, job.id), updated);
      return resumeJob(job.id);
    },
    onSuccess: (resumed) => {
      queryClient.setQueryData(jobKeys.job(orgId, job.id), resumed);
      void queryClient.invalidateQueries({ queryKey: jobKeys.job(orgId, job.id) });
    },
  });

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    const limit = Number(value);
    if (!Number.isInteger(limit) || limit <= spent) {
      setInvalid(`Enter a whole number above the ${formatCount(spent)} credits already spent.`);
      return;
    }
    setInvalid(null);
    raise.mutate(limit);
  }

  const error = invalid ?? (raise.isError ? errorMessage(raise.error) : null);
  return (
    <form className="credit-limit" onSubmit={onSubmit} noValidate aria-busy={raise.isPending}>
      <div className="field">
        <label htmlFor={`${ids}-limit`}>New credit limit</label>
        <input
          id={`${ids}-limit`}
          className="input"
          type="number"
          inputMode="numeric"
          min={spent + 1}
          step={1}
          value={value}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${ids}-hint${error ? ` ${ids}-error` : ''}`}
          onChange={(e) => setValue(e.target.value)}
        />
        <span id={`${ids}-hint`} className="field__hint">
          {formatCount(spent)} of {formatCount(job.max_credits ?? spent)} credits spent; {formatCount(left)}{' '}
          {left === 1 ? 'company' : 'companies'} left, at most one credit each.
        </span>
        {error ? (
          <span id={`${ids}-error`} role="alert" className="field__error">
            {error}
          </span>
        ) : null}
      </div>
      <div className="credit-limit__actions">
        <button type="submit" className="button button--primary" disabled={raise.isPending}>
          {raise.isPending ? 'Resuming…' : 'Raise the limit and resume'}
        </button>
        <button
          type="button"
          className="button"
          disabled={raise.isPending}
          onClick={() => {
            setInvalid(null);
            raise.mutate(null);
          }}
        >
          Remove the limit and resume
        </button>
      </div>
    </form>
  );
}
