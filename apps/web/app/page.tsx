import type { Metadata } from 'next';
import { UploadView } from '@/features/upload/upload-view';

export const metadata: Metadata = { title: { absolute: 'Upload a CSV · GTM Enrich' } };

export default function UploadPage() {
  return <UploadView />;
}
