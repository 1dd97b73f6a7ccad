'use client';

import { Me } from '@gtm-enrich/contracts';
import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { api, apiUrl, call, errorMessage } from '@/lib/api';
import { meQuery } from '@/lib/org';
import { sessionEndedBecause, signIn } from '@/lib/session';

/**
 * Asks for an API key and checks it (GET /api/v1/me) before keeping it for this browser tab.
 * Keys come from `npm run cli -- key create`, an admin, or the first run of `npm start`.
 */
export function SignInView() {
  const queryClient = useQueryClient();
  const ids = { key: useId() };
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(sessionEndedBecause());

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed || busy) return;
    setBusy(true);
    setError(null);
    try {
      // Not signed in yet: the key being tried goes in this request's header only.
      const me = await call(api.GET('/api/v1/me', { headers: { authorization: `Bearer ${trimmed}` } }), Me);
      queryClient.setQueryData(meQuery(trimmed).queryKey, me);
      signIn(trimmed);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <div className="page page--narrow">
      <div className="page-header">
        <div className="page-header__text">
          <h1>Sign in with an API key</h1>
          <p className="muted">
            Every organization has its own jobs, and every key belongs to one organization with a role. The
            key is kept in this browser tab only, until you close it or sign out.
          </p>
        </div>
      </div>
      <form className="card card__body" onSubmit={onSubmit} noValidate aria-busy={busy}>
        <div style={{ display: 'flex', flexDirection: 'column', gap: 18 }}>
          <div className="field">
            <label htmlFor={ids.key}>API key</label>
            <input
              id={ids.key}
              className="input mono"
              type="password"
              name="api_key"
              autoComplete="off"
              spellCheck={false}
              placeholder="gtm_…"
              value={key}
              aria-invalid={error ? true : undefined}
              aria-describedby={`${ids.key}-hint${error ? ` ${ids.key}-error` : ''}`}
              onChange={(e) => setKey(e.target.value)}
            />
            {error ? (
              <span id={`${ids.key}-error`} role="alert" className="field__error">
                {error}
              </span>
            ) : null}
            <span id={`${ids.key}-hint`} className="field__hint">
              First run of <code>npm start</code>: the key is printed in the terminal. Otherwise ask an admin,
              or run <code>npm run cli -- key create --org &lt;id&gt; --role member</code>.
            </span>
          </div>
          <div className="form-actions">
            <a href={apiUrl('/docs')} className="muted">
              API docs
            </a>
            <button type="submit" className="button button--primary" disabled={!key.trim() || busy}>
              {busy ? 'Checking…' : 'Sign in'}
            </button>
          </div>
        </div>
      </form>
    </div>
  );
}
