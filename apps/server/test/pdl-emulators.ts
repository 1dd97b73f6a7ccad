/** PDL emulators on loopback for a test file, each closed after the test that started it. */
import { afterEach } from 'vitest';
import {
  type PdlEmulator,
  type PdlEmulatorOptions,
  startPdlEmulator,
} from '../src/providers/sandbox/pdl-emulator';

export function pdlEmulators(apiKey: string): (opts?: PdlEmulatorOptions) => Promise<PdlEmulator> {
  const emulators: PdlEmulator[] = [];
  afterEach(async () => {
    await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
  });
  return async (opts = {}) => {
    const emulator = await startPdlEmulator({ apiKey, ...opts });
    emulators.push(emulator);
    return emulator;
  };
}
