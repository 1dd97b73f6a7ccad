import type { Metadata } from 'next';
import { Suspense } from 'react';
import { JobSkeleton, JobView } from '@/features/job/job-view';

export const metadata: Metadata = { title: 'Job' };

/** `/job?id=<uuid>`: a static export has no dynamic segments, so the id is a query parameter. */
export default function JobPage() {
  return (
    <Suspense fallback={<JobSkeleton />}>
      <JobView />
    </Suspense>
  );
}
