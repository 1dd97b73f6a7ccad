'use client';

import { useId, useState } from 'react';
import { useOrgId, validateOrgId } from '@/lib/org';

/**
 * The organization every request is scoped to. A valid value is remembered as soon as it is
 * typed; an invalid one stays in the field with the reason beside it.
 */
export function OrgField({ hint }: { hint?: string }) {
  const [orgId, setOrgId] = useOrgId();
  const [draft, setDraft] = useState(orgId);
  const [seen, setSeen] = useState(orgId);
  const id = useId();
  // The stored value arrives after hydration, or from another tab: show it.
  if (orgId !== seen) {
    setSeen(orgId);
    if (draft.trim() !== orgId) setDraft(orgId);
  }
  const error = validateOrgId(draft.trim());
  const describedBy = `${id}-hint${error ? ` ${id}-error` : ''}`;
  return (
    <div className="field">
      <label htmlFor={id}>Organization</label>
      <input
        id={id}
        className="input"
        name="org_id"
        autoComplete="organization"
        spellCheck={false}
        value={draft}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        onChange={(e) => {
          setDraft(e.target.value);
          setOrgId(e.target.value);
        }}
      />
      {error ? (
        <span id={`${id}-error`} className="field__error">
          {error}
        </span>
      ) : null}
      <span id={`${id}-hint`} className="field__hint">
        {hint ?? 'Jobs are kept per organization. Letters, digits, "_", "." and "-".'}
      </span>
    </div>
  );
}
