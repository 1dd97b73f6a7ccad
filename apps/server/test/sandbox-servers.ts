/** Sandbox servers on loopback for a test file, each closed after the test that started it. */
import { afterEach } from 'vitest';
import {
  type SandboxServer,
  type SandboxServerOptions,
  startSandboxServer,
} from '../src/providers/sandbox/sandbox-server';

export function sandboxServers(apiKey: string): (opts?: SandboxServerOptions) => Promise<SandboxServer> {
  const servers: SandboxServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return async (opts = {}) => {
    const server = await startSandboxServer({ apiKey, ...opts });
    servers.push(server);
    return server;
  };
}
