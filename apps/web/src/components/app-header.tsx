'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { apiUrl } from '@/lib/api';
import { useOrgId } from '@/lib/org';

const LINKS = [
  { href: '/', label: 'Upload', match: (p: string) => p === '/' },
  { href: '/jobs/', label: 'Jobs', match: (p: string) => p.startsWith('/job') },
];

export function AppHeader() {
  const pathname = usePathname() ?? '/';
  const [orgId] = useOrgId();
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
        <span className="header-org">
          Organization <strong className="mono">{orgId}</strong>
        </span>
      </div>
    </header>
  );
}
