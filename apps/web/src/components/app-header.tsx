'use client';

import { useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { apiUrl } from '@/lib/api';
import { useMe } from '@/lib/org';
import { signOut } from '@/lib/session';

const LINKS = [
  { href: '/', label: 'Upload', match: (p: string) => p === '/' },
  { href: '/jobs/', label: 'Jobs', match: (p: string) => p.startsWith('/job') },
];

export function AppHeader() {
  const pathname = usePathname() ?? '/';
  const me = useMe();
  const queryClient = useQueryClient();
  return (
    <header className="app-header">
      <div className="app-header__inner">
        <Link href="/" className="brand">
          <span className="brand__mark" aria-hidden="true">
            G
          </span>
          GTM Enrich
        </Link>
        <nav className="nav" aria-label="Main">
          {LINKS.map((link) => (
            <Link key={link.href} href={link.href} aria-current={link.match(pathname) ? 'page' : undefined}>
              {link.label}
            </Link>
          ))}
          <a href={apiUrl('/docs')}>API docs</a>
        </nav>
        {me ? (
          <section className="header-org" aria-label="Signed in">
            <strong className="mono" title={`Organization ${me.org_id}`}>
              {me.org_name}
            </strong>
            <span className="badge" title={`API key ${me.key_prefix}…`}>
              {me.role}
            </span>
            <button
              type="button"
              className="button button--small"
              onClick={() => {
                signOut();
                queryClient.clear();
              }}
            >
              Sign out
            </button>
          </section>
        ) : null}
      </div>
    </header>
  );
}
