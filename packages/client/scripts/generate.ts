/**
 * `npm run client:generate`: the API document (openapi.json) and its TypeScript types
 * (src/schema.ts) from the server's routes. Run it after changing a route or a contract;
 * src/generated.test.ts fails until both are regenerated.
 */
import { writeFile } from 'node:fs/promises';
import { generatedFiles } from './generated-files';

const files = await generatedFiles();
for (const [file, text] of Object.entries(files)) {
  await writeFile(new URL(`../${file}`, import.meta.url), text);
  process.stdout.write(`wrote packages/client/${file}\n`);
}
