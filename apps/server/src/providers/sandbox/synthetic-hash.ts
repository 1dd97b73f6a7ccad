/**
 * Deterministic choices for the emulators' SYNTHETIC data: every decision about a company is read
 * from a hash of its domain, so the same domain gets the same company in every process and run.
 */
import { createHash } from 'node:crypto';

/**
 * Reads the SHA-256 of `seed` as a sequence of small unsigned integers, one per decision. Past 16
 * reads it goes round the hash again (shifted by a byte), so a caller never runs out.
 */
export function hashReader(seed: string): (modulo: number) => number {
  const bytes = createHash('sha256').update(seed).digest();
  let offset = 0;
  return (modulo) => {
    const value = bytes.readUInt16BE(offset % (bytes.length - 1));
    offset += 2;
    return value % modulo;
  };
}

/** The item at `index`, wrapping round the list. */
export function pick<T>(items: readonly T[], index: number): T {
  const item = items[index % items.length];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}
