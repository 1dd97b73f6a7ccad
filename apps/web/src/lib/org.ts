'use client';
/**
 * There is no sign-in yet: the organization is an id the user types, remembered in this
 * browser. Every query is scoped by it, as the API requires.
 */
import { OrgId } from '@gtm-enrich/contracts';
import { useCallback, useSyncExternalStore } from 'react';

export const DEFAULT_ORG_ID = 'acme';
const STORAGE_KEY = 'gtm-enrich.org-id';
const CHANGE_EVENT = 'gtm-enrich:org-change';

/** Used when storage is disabled (private mode, policies): the choice lasts for this page view. */
let inMemoryOrgId: string | null = null;

function readStored(): string {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    if (stored && OrgId.safeParse(stored).success) return stored;
  } catch {
    // Storage disabled: fall back to the in-memory choice below.
  }
  return inMemoryOrgId ?? DEFAULT_ORG_ID;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('storage', onChange);
  window.addEventListener(CHANGE_EVENT, onChange);
  return () => {
    window.removeEventListener('storage', onChange);
    window.removeEventListener(CHANGE_EVENT, onChange);
  };
}

/** Whether `value` is an organization id the API accepts; the message says why not. */
export function validateOrgId(value: string): string | null {
  const result = OrgId.safeParse(value);
  return result.success ? null : (result.error.issues[0]?.message ?? 'Invalid organization id');
}

/** The remembered organization id (the default until the page has hydrated) and a setter. */
export function useOrgId(): [orgId: string, setOrgId: (value: string) => void] {
  const orgId = useSyncExternalStore(subscribe, readStored, () => DEFAULT_ORG_ID);
  const setOrgId = useCallback((value: string) => {
    const trimmed = value.trim();
    if (validateOrgId(trimmed) !== null) return;
    inMemoryOrgId = trimmed;
    try {
      window.localStorage.setItem(STORAGE_KEY, trimmed);
    } catch {
      // Not remembered across visits, but used for this page view.
    }
    window.dispatchEvent(new Event(CHANGE_EVENT));
  }, []);
  return [orgId, setOrgId];
}
