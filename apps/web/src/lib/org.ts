'use client';
/**
 * Who the signed-in key is: its organization and role (GET /api/v1/me). The organization comes
 * from the key; the page only shows it. Views use `useCan` to hide what the role may not do.
 */
import { Me, type Role, roleAllows } from '@gtm-enrich/contracts';
import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, call } from './api';
import { useApiKey } from './session';

export function meQuery(key: string | null | undefined) {
  return queryOptions({
    queryKey: ['me', key ?? ''] as const,
    queryFn: ({ signal }) => call(api.GET('/api/v1/me', { signal }), Me, signal),
    enabled: Boolean(key),
    staleTime: 5 * 60_000,
  });
}

/** The signed-in key's organization, role and prefix; undefined while loading or signed out. */
export function useMe(): Me | undefined {
  const key = useApiKey();
  return useQuery(meQuery(key)).data;
}

/** The organization every query is scoped to (the key's); empty while loading or signed out. */
export function useOrgId(): string {
  return useMe()?.org_id ?? '';
}

/** Whether the signed-in role may do what needs `role` (viewer < member < admin). */
export function useCan(role: Role): boolean {
  const me = useMe();
  return me !== undefined && roleAllows(me.role, role);
}
