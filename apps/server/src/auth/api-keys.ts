/**
 * API key material: how keys are made, named and hashed. Pure; no I/O.
 */
import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX_TAG = 'gtm_';
/** 32 random bytes: 256 bits, far beyond any guessing, however fast the hash. */
const KEY_RANDOM_BYTES = 32;
/** The visible part: the tag and 8 characters (48 bits), enough to tell keys apart in a list. */
const VISIBLE_PREFIX_CHARS = 12;
/** A supplied key (BOOTSTRAP_API_KEY) must be at least this long: its hash is only as strong as it is. */
export const MIN_KEY_LENGTH = 32;
/** What a key may look like on the wire: base64url, plus the characters people use in made-up keys. */
const KEY_SHAPE = /^[A-Za-z0-9_\-.~+/=]{16,256}$/;
/** KEY_SHAPE in words, for the error that refuses a supplied key outside it. */
export const KEY_GRAMMAR =
  'letters, digits and the characters _ - . ~ + / = only (no spaces, no ":" or "#"), at most 256 characters';
/** Tag of a supplied key's visible prefix, which comes from its hash (see suppliedKeyPrefix). */
const SUPPLIED_PREFIX_TAG = 'sup_';
const SUPPLIED_PREFIX_HASH_CHARS = 8;

export function generateApiKey(): string {
  return `${KEY_PREFIX_TAG}${randomBytes(KEY_RANDOM_BYTES).toString('base64url')}`;
}

/**
 * SHA-256, not bcrypt/scrypt/argon2: those exist to slow down guessing of low-entropy secrets
 * (passwords). A key here has at least 256 random bits (or is a supplied key of 32+ characters),
 * so no dictionary or brute force applies, and a fast hash lets every request be checked with
 * one indexed lookup instead of a deliberately slow computation. Stolen hashes give nothing
 * usable: a preimage of SHA-256 is out of reach.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The visible prefix of a key this server generated: the tag and 8 of its 43 random characters. */
export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_PREFIX_CHARS);
}

/**
 * The visible prefix of a key someone else chose (BOOTSTRAP_API_KEY): taken from its hash, never
 * from the key. A supplied key may be as short as MIN_KEY_LENGTH characters, of which 12 shown in
 * every list, log line and audit entry would be over a third of the secret.
 */
export function suppliedKeyPrefix(key: string): string {
  return `${SUPPLIED_PREFIX_TAG}${hashApiKey(key).slice(0, SUPPLIED_PREFIX_HASH_CHARS)}`;
}

export function looksLikeApiKey(value: string): boolean {
  return KEY_SHAPE.test(value);
}
