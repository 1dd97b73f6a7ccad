import type { Job, ProviderName } from '@gtm-enrich/contracts';
import { ScrollRegion } from '@/components/scroll-region';
import { formatCount, PROVIDER_LABELS } from '@/lib/format';

type Estimate = NonNullable<Job['estimate']>['providers'][number];
type Usage = Job['usage']['providers'][number];
type Step = { provider: ProviderName; estimate: Estimate | undefined; usage: Usage | undefined };

/**
 * The job's providers in the order they are asked, then any other the ledger names (a provider
 * the job no longer lists still cost what it cost).
 */
function steps(job: Job): Step[] {
  const order = [...job.providers];
  for (const u of job.usage.providers) if (!order.includes(u.provider)) order.push(u.provider);
  return order.map((provider) => ({
    provider,
    estimate: job.estimate?.providers.find((e) => e.provider === provider),
    usage: job.usage.providers.find((u) => u.provider === provider),
  }));
}

/**
 * Per provider of the waterfall: before the start, what each may cost (upper bounds: a later
 * provider is counted as if asked for every company); after, what each has cost against that.
 */
export function ProviderWaterfall({ job, before }: { job: Job; before: boolean }) {
  const rows = steps(job);
  return (
    <ScrollRegion label="Cost per provider" className="waterfall">
      <table className="table">
        <caption>
          {job.providers.length > 1
            ? 'Providers in the order they are asked; each is asked only for the fields those before it left empty.'
            : 'The provider of this job.'}
          {before ? ' Upper bounds.' : ''}
        </caption>
        <thead>
          <tr>
            <th scope="col" className="col-num">
              Order
            </th>
            <th scope="col" className="nowrap">
              Provider
            </th>
            <th scope="col" className="col-num">
              {before ? 'Calls at most' : 'Calls'}
            </th>
            {before ? null : (
              <th scope="col" className="col-num">
                Records billed
              </th>
            )}
            <th scope="col" className="col-num">
              {before ? 'Credits at most' : 'Credits'}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((step, i) => (
            <tr key={step.provider}>
              <td className="col-num">{job.providers.includes(step.provider) ? i + 1 : '—'}</td>
              <th scope="row" className="nowrap">
                {PROVIDER_LABELS[step.provider]}
              </th>
              {before ? (
                <>
                  <td className="col-num">{formatCount(step.estimate?.provider_calls ?? 0)}</td>
                  <td className="col-num">{formatCount(step.estimate?.credits ?? 0)}</td>
                </>
              ) : (
                <>
                  <td className="col-num">
                    {formatCount(step.usage?.provider_calls ?? 0)}
                    <Bound value={step.estimate?.provider_calls} />
                  </td>
                  <td className="col-num">{formatCount(step.usage?.records_billed ?? 0)}</td>
                  <td className="col-num">
                    {formatCount(step.usage?.credits ?? 0)}
                    <Bound value={step.estimate?.credits} />
                  </td>
                </>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

function Bound({ value }: { value: number | undefined }) {
  if (value === undefined) return null;
  return <span className="muted"> of ≤ {formatCount(value)}</span>;
}
