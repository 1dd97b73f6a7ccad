import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'apps/server/src/**/*.test.ts',
      'apps/server/test/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'apps/web/e2e/**/*.test.ts',
    ],
    globalSetup: ['apps/server/test/global-setup.ts'],
    // expect.poll waits up to 5 s by default (not 1 s): a page or a process on two busy cores
    // can take longer than a second to show what a test waits for.
    expect: { requireAssertions: true, poll: { timeout: 5_000 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more forks than that only adds contention on PostgreSQL and Redis.
    maxWorkers: 2,
  },
});
