import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="page page--narrow">
      <div className="card empty">
        <h1 className="empty__title">Page not found</h1>
        <p>There is no page at this address. Jobs open from the list of jobs.</p>
        <div style={{ display: 'flex', gap: 8, marginTop: 8 }}>
          <Link href="/" className="button button--primary">
            Upload a CSV
          </Link>
          <Link href="/jobs/" className="button">
            See all jobs
          </Link>
        </div>
      </div>
    </div>
  );
}
