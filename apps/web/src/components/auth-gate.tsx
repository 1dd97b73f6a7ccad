'use client';

import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { SignInView } from '@/features/auth/sign-in-view';
import { errorMessage } from '@/lib/api';
import { meQuery } from '@/lib/org';
import { useApiKey } from '@/lib/session';

/** The pages need a key: without one (or with one the server refuses) the sign-in view shows instead. */
export function AuthGate({ children }: { children: ReactNode }) {
  const key = useApiKey();
  const me = useQuery(meQuery(key));
  // Before hydration the key is unknown: render nothing rather than flash the sign-in view.
  if (key === undefined) return null;
  if (key === null) return <SignInView />;
  if (me.isPending) {
    return <div className="page" aria-busy="true" />;
  }
  if (me.isError) {
    return (
      <div className="page">
        <div role="alert" className="alert alert--error">
          <div className="alert__body">{errorMessage(me.error)}</div>
        </div>
      </div>
    );
  }
  return children;
}
