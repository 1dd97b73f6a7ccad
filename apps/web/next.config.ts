import type { NextConfig } from 'next';
import { PHASE_DEVELOPMENT_SERVER } from 'next/constants';

/** Where `next dev` forwards API calls, so the page under development talks to a running server. */
const DEV_API_ORIGIN = process.env.DEV_API_ORIGIN ?? 'http://127.0.0.1:3000';

export default function nextConfig(phase: string): NextConfig {
  const common: NextConfig = {
    // The contracts and client packages ship TypeScript sources, not built JavaScript.
    transpilePackages: ['@gtm-enrich/contracts', '@gtm-enrich/client'],
    reactStrictMode: true,
    poweredByHeader: false,
    // One <page>/index.html per page: any static host serves that, and the API server redirects
    // /jobs to /jobs/ (registerWeb in apps/server/src/http/app.ts).
    trailingSlash: true,
    images: { unoptimized: true },
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    // A static export cannot rewrite; the dev server can, which keeps API calls same-origin.
    return {
      ...common,
      // Else /api/v1/jobs would be redirected to /api/v1/jobs/ before it is forwarded.
      skipTrailingSlashRedirect: true,
      async rewrites() {
        return [
          { source: '/api/:path*', destination: `${DEV_API_ORIGIN}/api/:path*` },
          { source: '/docs/:path*', destination: `${DEV_API_ORIGIN}/docs/:path*` },
          { source: '/openapi.json', destination: `${DEV_API_ORIGIN}/openapi.json` },
        ];
      },
    };
  }
  // A static export into out/: the API server serves it on its own port (embedded mode).
  return { ...common, output: 'export' };
}
