/**
 * The client is generated from the API document: if a route or a contract changes and the
 * client is not regenerated (`npm run client:generate`), this fails and says so.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../scripts/generated-files';

describe('the generated client', () => {
  it('matches the API document the server builds now', async () => {
    const expected = await generatedFiles();
    for (const [file, text] of Object.entries(expected)) {
      const committed = await readFile(new URL(`../${file}`, import.meta.url), 'utf8');
      expect(committed, `packages/client/${file} is stale: run npm run client:generate`).toBe(text);
    }
  });
});
