/**
 * The sandbox: one HTTP server emulating both providers with SYNTHETIC data, for development, the
 * default embedded mode without provider keys, and tests.
 * - Explorium (explorium-emulator.ts): `/v1/businesses/...`, stats at `GET /_sandbox/stats`.
 * - People Data Labs (pdl-emulator.ts): `/v5/company/...`, counts at `GET /_emulator/counts`.
 * A path neither serves gets the 404 of the provider whose paths it looks like.
 */

import { createEmulatorApp, listenOn } from './emulator-http';
import {
  createExploriumEmulator,
  type ExploriumEmulatorOptions,
  type SandboxStats,
} from './explorium-emulator';
import { createPdlEmulator, type PdlEmulatorCounts, type PdlEmulatorOptions } from './pdl-emulator';

export type {
  CountedUnits,
  SandboxEndpoint,
  SandboxRateLimitReset,
  SandboxRateLimitUnit,
  SandboxStats,
} from './explorium-emulator';

export type SandboxServerOptions = ExploriumEmulatorOptions & {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0: an ephemeral port, read it back from `port`/`url`. */
  port?: number;
  /** The PDL emulator's settings; its `apiKey` defaults to the sandbox's. Default: its defaults. */
  pdl?: Omit<PdlEmulatorOptions, 'host' | 'port'>;
};

export type SandboxServer = {
  url: string;
  port: number;
  close(): Promise<void>;
  /** The Explorium emulator's stats (also at `GET /_sandbox/stats`). */
  stats(): SandboxStats;
  /** Zeroes the stats (not the credits used, not the rate-limit windows, not known businesses). */
  reset(): void;
  /** The PDL emulator's counts (also at `GET /_emulator/counts`) and their reset. */
  pdl: { counts(): PdlEmulatorCounts; reset(): void };
};

const PDL_PATH = /^\/v5(?:[/?]|$)/;

export async function startSandboxServer(opts: SandboxServerOptions = {}): Promise<SandboxServer> {
  const { host = '127.0.0.1', port = 0, pdl: pdlOptions, ...exploriumOptions } = opts;
  const explorium = createExploriumEmulator(exploriumOptions);
  const pdl = createPdlEmulator({ apiKey: opts.apiKey, ...pdlOptions });
  const app = createEmulatorApp((req, reply) =>
    PDL_PATH.test(req.url) ? pdl.notFound(reply) : explorium.notFound(reply),
  );
  await app.register(explorium.plugin);
  await app.register(pdl.plugin);
  const address = await listenOn(app, host, port);
  let closed: Promise<void> | undefined;
  return {
    ...address,
    stats: explorium.stats,
    reset: explorium.reset,
    pdl: { counts: pdl.counts, reset: pdl.reset },
    // Idempotent, so a test may close early and still leave the cleanup hook to close again.
    close: () => {
      closed ??= (async () => {
        explorium.abort();
        pdl.abort();
        await app.close();
      })();
      return closed;
    },
  };
}
