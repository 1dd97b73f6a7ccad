/**
 * Ids for the companies a read makes, each greater than the one before: the layout of a UUID
 * version 7 (RFC 9562) with the read's start in milliseconds, then a 34-bit counter, then 40
 * random bits. A random id (gen_random_uuid) lands on a random page of the primary key, so every
 * insert walks the tree to it; increasing ids are appended to its rightmost page, which PostgreSQL
 * inserts into without a search (docs/adr/0008). They say when the company was made, which its
 * `created_at` says already, and nothing about other organizations' companies.
 */
import { randomFillSync } from 'node:crypto';

const RANDOM_POOL_BYTES = 64 * 1024;
const RANDOM_BYTES_PER_ID = 5;

/**
 * Returns a function giving the next id's 16 bytes, in one buffer that the next call overwrites:
 * copy them (a binary COPY does) before asking for another.
 */
export function createCompanyIdBytes(nowMs: number = Date.now()): () => Buffer {
  const id = Buffer.alloc(16);
  id.writeUIntBE(nowMs, 0, 6);
  const pool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
  let used = RANDOM_POOL_BYTES;
  let counter = 0;
  return () => {
    if (used + RANDOM_BYTES_PER_ID > RANDOM_POOL_BYTES) {
      randomFillSync(pool);
      used = 0;
    }
    const n = counter++;
    // Version 7 and 4 counter bits; 8 counter bits; variant 10 and 6 counter bits; 16 counter bits.
    id[6] = 0x70 | (Math.floor(n / 2 ** 30) & 0x0f);
    id[7] = (n >>> 22) & 0xff;
    id[8] = 0x80 | ((n >>> 16) & 0x3f);
    id[9] = (n >>> 8) & 0xff;
    id[10] = n & 0xff;
    // By hand: Buffer#copy from an offset makes a view of the source on each call.
    for (let i = 0; i < RANDOM_BYTES_PER_ID; i++) id[11 + i] = pool[used + i]!;
    used += RANDOM_BYTES_PER_ID;
    return id;
  };
}

/** Returns a function giving the next id (32 hex digits, as PostgreSQL's uuid input reads them). */
export function createCompanyIds(nowMs: number = Date.now()): () => string {
  const next = createCompanyIdBytes(nowMs);
  return () => next().toString('hex');
}
