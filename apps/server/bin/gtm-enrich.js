#!/usr/bin/env node
// `npx gtm-enrich …`: the scripting CLI (src/cli/gtm-enrich.ts), run through tsx like every entry point.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/gtm-enrich.ts');
