import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { warnIfNodeEndOfLife } from './lifecycle';

function capture() {
  const lines: Array<{ level: number; msg: string; node_version?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, destination), lines };
}

describe('warnIfNodeEndOfLife', () => {
  it('warns on Node 20, past its end of life', async () => {
    const { logger, lines } = capture();
    warnIfNodeEndOfLife(logger, '20.20.2');
    await expect.poll(() => lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ level: 40, node_version: '20.20.2' });
    expect(lines[0]?.msg).toMatch(/Node\.js 20 is past its end of life.*Node\.js 24 LTS/);
  });

  it('says nothing on Node 22 and 24', async () => {
    const { logger, lines } = capture();
    warnIfNodeEndOfLife(logger, '22.15.0');
    warnIfNodeEndOfLife(logger, '24.11.1');
    logger.info('marker');
    await expect.poll(() => lines.map((l) => l.msg)).toEqual(['marker']);
  });
});
