import type { ProviderName } from '@gtm-enrich/contracts';
import { Fragment } from 'react';
import { PROVIDER_LABELS, PROVIDER_SHORT_LABELS } from '@/lib/format';

/**
 * A job's providers in the order they are asked ("Explorium → PDL → Web"). The arrow is read
 * out as "then": a screen reader would otherwise say "right arrow" or nothing.
 */
export function ProviderSequence({
  providers,
  short = false,
}: {
  providers: readonly ProviderName[];
  short?: boolean;
}) {
  const labels = short ? PROVIDER_SHORT_LABELS : PROVIDER_LABELS;
  return (
    <>
      {providers.map((p, i) => (
        <Fragment key={p}>
          {i > 0 ? (
            <>
              <span aria-hidden="true"> → </span>
              <span className="visually-hidden">, then </span>
            </>
          ) : null}
          {labels[p]}
        </Fragment>
      ))}
    </>
  );
}
