/**
 * Which domains of an upload have been seen. Each domain is kept as a 52-bit hash in an open
 * addressing table (16 bytes a slot) and, while they fit in MAX_KEPT_BYTES, its characters in one
 * buffer (a byte of length, a byte per character), where a set of the strings would hold hundreds
 * of megabytes for a million long domains and give the garbage collector a million objects to
 * walk. A domain whose hash matches one kept with its characters is compared with them, so the
 * answer is exact: "new" (its company can be written as new) or "seen" (its row is a repeat and
 * needs no statement at all). Only a domain whose hash matches one whose characters were not kept
 * (past the limit, or not one byte a character) is "maybe": its rows go where a repeat is
 * harmless, an insert that skips a domain the job already has (job-rows.repository.ts).
 */
export type SeenAnswer = 'new' | 'seen' | 'maybe';

export type SeenDomains = {
  /** Whether `domain` was added before; it is added either way. */
  add(domain: string): SeenAnswer;
};

const INITIAL_SLOTS = 1 << 16;
/** Characters kept for exact comparison: 750,000 domains of a CRM export take about 12 MB. */
const MAX_KEPT_BYTES = 32 * 1024 * 1024;
const INITIAL_KEPT_BYTES = 1024 * 1024;
/** A slot whose domain's characters are not kept. */
const NOT_KEPT = -1;

/** The low 32 bits of the last key `hash52` made (where its search starts), as an integer. */
let lastLow = 0;

/**
 * Two 32-bit FNV-1a style hashes of the string's UTF-16 units (different seeds and multipliers),
 * as one key: 32 bits of the first and 20 of the second, exact as a double; +1 keeps 0 free to
 * mean an empty slot.
 */
function hash52(s: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  lastLow = a;
  return (a >>> 0) + (b >>> 12) * 0x1_0000_0000 + 1;
}

/** The low 32 bits of a key, which it holds (+1), to place it again when the table grows. */
const lowOf = (key: number): number => (key - 1) % 0x1_0000_0000;

export function createSeenDomains(
  /** For tests: a smaller limit, and a hash that collides at will (a whole number from 1 to 2^52). */
  opts: { maxKeptBytes?: number; hash?: (domain: string) => number } = {},
): SeenDomains {
  const maxKeptBytes = opts.maxKeptBytes ?? MAX_KEPT_BYTES;
  const hash = opts.hash ?? hash52;
  // Slot i: its key at 2i, where its domain's characters are kept at 2i + 1 (or NOT_KEPT). Side
  // by side, a search reads one cache line where two arrays cost two misses on a large table.
  let slots = new Float64Array(2 * INITIAL_SLOTS);
  let mask = INITIAL_SLOTS - 1;
  let size = 0;
  let chars = new Uint8Array(Math.min(INITIAL_KEPT_BYTES, maxKeptBytes));
  let charsUsed = 0;

  const sameAsKept = (s: string, at: number): boolean => {
    if (chars[at] !== s.length) return false;
    for (let i = 0; i < s.length; i++) if (chars[at + 1 + i] !== s.charCodeAt(i)) return false;
    return true;
  };

  /**
   * Where `s` is kept from now on, or NOT_KEPT. Domains are ASCII (punycode) and at most 253
   * characters; anything else is not kept.
   */
  const keep = (s: string): number => {
    if (s.length > 255 || charsUsed + 1 + s.length > maxKeptBytes) return NOT_KEPT;
    if (charsUsed + 1 + s.length > chars.length) {
      const bigger = new Uint8Array(Math.min(maxKeptBytes, Math.max(chars.length * 2, charsUsed + 256)));
      bigger.set(chars.subarray(0, charsUsed));
      chars = bigger;
    }
    const at = charsUsed;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) return NOT_KEPT;
      chars[at + 1 + i] = c;
    }
    chars[at] = s.length;
    charsUsed += 1 + s.length;
    return at;
  };

  const grow = () => {
    const bigger = new Float64Array(slots.length * 2);
    const biggerMask = bigger.length / 2 - 1;
    for (let j = 0; j < slots.length; j += 2) {
      const key = slots[j]!;
      if (key === 0) continue;
      let i = lowOf(key) & biggerMask;
      while (bigger[2 * i] !== 0) i = (i + 1) & biggerMask;
      bigger[2 * i] = key;
      bigger[2 * i + 1] = slots[j + 1]!;
    }
    slots = bigger;
    mask = biggerMask;
  };

  return {
    add(domain) {
      const key = hash(domain);
      let unknown = false;
      let i = (hash === hash52 ? lastLow : lowOf(key)) & mask;
      for (let held = slots[2 * i]!; held !== 0; i = (i + 1) & mask, held = slots[2 * i]!) {
        if (held !== key) continue;
        const at = slots[2 * i + 1]!;
        if (at === NOT_KEPT) unknown = true;
        else if (sameAsKept(domain, at)) return 'seen';
      }
      // Not found among the domains kept; a "maybe" is added too, so that its next rows are "seen".
      const at = keep(domain);
      if (unknown && at === NOT_KEPT) return 'maybe';
      slots[2 * i] = key;
      slots[2 * i + 1] = at;
      if (++size * 2 > mask + 1) grow();
      return unknown ? 'maybe' : 'new';
    },
  };
}
