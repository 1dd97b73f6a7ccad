'use client';
/**
 * The API key this browser tab signs in with. Kept in sessionStorage: it lasts while the tab
 * (the browser session) does, is not shared with other sites, and is gone when the tab closes.
 * Every request sends it as `Authorization: Bearer <key>` (lib/api.ts).
 */
import { useSyncExternalStore } from 'react';

const STORAGE_KEY = 'gtm-enrich.api-key';
const CHANGE_EVENT = 'gtm-enrich:session-change';

/** Used when storage is disabled (private mode, policies): the key lasts for this page view. */
let inMemoryKey: string | null = null;
/** Why the last session ended, when the server ended it (a revoked key): shown on the sign-in view. */
let endedBecause: string | null = null;

export function getApiKey(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY) ?? inMemoryKey;
  } catch {
    return inMemoryKey;
  }
}

function notify(): void {
  window.dispatchEvent(new Event(CHANGE_EVENT));
}

export function signIn(key: string): void {
  inMemoryKey = key;
  endedBecause = null;
  try {
    window.sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Kept in memory for this page view only.
  }
  notify();
}

/** Forgets the key; `reason` (e.g. the server's 401 message) is shown on the sign-in view. */
export function signOut(reason: string | null = null): void {
  inMemoryKey = null;
  endedBecause = reason;
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored.
  }
  notify();
}

export function sessionEndedBecause(): string | null {
  return endedBecause;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener(CHANGE_EVENT, onChange);
  return () => window.removeEventListener(CHANGE_EVENT, onChange);
}

/** The key in use; `undefined` until the page has hydrated (the server render knows no key). */
export function useApiKey(): string | null | undefined {
  return useSyncExternalStore(subscribe, getApiKey, () => undefined);
}
