/**
 * Which domains of an upload have been seen, answering "surely not" or "maybe": a set of 52-bit
 * hashes, 16 bytes per domain whatever its length, where a set of the strings could hold hundreds
 * of megabytes for a million long domains. "Surely not" is exact (the domain's company can be
 * written as new); "maybe" is almost always a repeat, and is wrong only for two domains whose
 * hashes collide, so its rows go where a repeat is harmless (an insert that skips a domain the
 * job already has: job-rows.repository.ts).
 */
export type SeenDomains = {
  /** True when `domain` was surely not added before; it is added either way. */
  addIfNew(domain: string): boolean;
};

const INITIAL_SLOTS = 1 << 16;

/** Two 32-bit FNV-1a style hashes of the string's UTF-16 units (different seeds and multipliers). */
function hash52(s: string): { slot: number; key: number } {
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
  // 32 bits of `a` and 20 of `b`: exact as a double; +1 keeps 0 free to mean an empty slot.
  const key = (a >>> 0) + (b >>> 12) * 0x1_0000_0000 + 1;
  return { slot: a >>> 0, key };
}

export function createSeenDomains(): SeenDomains {
  let slots = new Float64Array(INITIAL_SLOTS);
  let mask = INITIAL_SLOTS - 1;
  let size = 0;

  function insert(table: Float64Array, tableMask: number, slot: number, key: number): boolean {
    for (let i = slot & tableMask; ; i = (i + 1) & tableMask) {
      const held = table[i]!;
      if (held === 0) {
        table[i] = key;
        return true;
      }
      if (held === key) return false;
    }
  }

  function grow() {
    const bigger = new Float64Array(slots.length * 2);
    const biggerMask = bigger.length - 1;
    for (const key of slots) {
      // The slot is taken from the low 32 bits, which the key holds (+1) below 2^32 steps.
      if (key !== 0) insert(bigger, biggerMask, (key - 1) % 0x1_0000_0000, key);
    }
    slots = bigger;
    mask = biggerMask;
  }

  return {
    addIfNew(domain) {
      const { slot, key } = hash52(domain);
      const added = insert(slots, mask, slot, key);
      if (added && ++size * 2 > slots.length) grow();
      return added;
    },
  };
}
