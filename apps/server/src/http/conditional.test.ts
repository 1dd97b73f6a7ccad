import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createAnswerCache, negotiateEncoding } from './conditional';

describe('negotiateEncoding', () => {
  it('picks brotli or gzip as @fastify/compress does', () => {
    expect(negotiateEncoding(undefined)).toBeNull();
    expect(negotiateEncoding('')).toBeNull();
    expect(negotiateEncoding('identity')).toBeNull();
    expect(negotiateEncoding('deflate')).toBeNull();
    expect(negotiateEncoding('gzip, deflate, br')).toBe('br');
    expect(negotiateEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(negotiateEncoding('GZIP')).toBe('gzip');
    expect(negotiateEncoding('x-gzip')).toBe('gzip');
    expect(negotiateEncoding('*')).toBe('gzip');
    expect(negotiateEncoding('br;q=0.5, gzip')).toBe('gzip');
    expect(negotiateEncoding('br;q=0, gzip;q=0')).toBeNull();
    expect(negotiateEncoding('gzip;q=0.8, br;q=0.8')).toBe('br');
  });
});

describe('answer cache', () => {
  it('compresses an answer once per encoding, bodies that decode to its JSON', () => {
    const cache = createAnswerCache();
    const json = JSON.stringify({ data: Array.from({ length: 200 }, (_, i) => ({ i, name: `row ${i}` })) });
    const answer = cache.keep('W/"a"', json);
    const br = cache.body(answer, 'br');
    expect(cache.body(answer, 'br')).toBe(br);
    expect(brotliDecompressSync(br).toString('utf8')).toBe(json);
    expect(gunzipSync(cache.body(answer, 'gzip')).toString('utf8')).toBe(json);
    expect(cache.bytes).toBe(json.length + br.length + cache.body(answer, 'gzip').length);
  });

  it('holds no more than its bytes, the least recently used going first, and forgets their versions', () => {
    const cache = createAnswerCache(3_000);
    const json = (c: string) => c.repeat(1_000);
    cache.keep('a', json('a'));
    cache.setVersion('page a', 'a');
    cache.keep('b', json('b'));
    cache.keep('c', json('c'));
    expect(cache.answer('a')?.json).toBe(json('a'));
    cache.keep('d', json('d'));
    // b was the least recently used.
    expect(cache.answer('b')).toBeNull();
    expect(cache.etagOf('page a')).toBe('a');
    cache.keep('e', json('e'));
    cache.keep('f', json('f'));
    expect(cache.answer('a')).toBeNull();
    expect(cache.etagOf('page a')).toBeNull();
    expect(cache.bytes).toBeLessThanOrEqual(3_000);
  });
});
