/**
 * Where every value came from, in headless Chromium against a whole system with a waterfall of
 * two providers on loopback: People Data Labs' emulator first (it gives a likelihood, so the
 * companies it finds have a match confidence), then the sandbox for what it left empty. The
 * providers of a job and what each cost (before the start and after), the providers in the list
 * of jobs, each field's provider, time, confidence and "cache" in the detail panel, the minimum
 * match confidence filter (asked of the server), and the export with provenance columns. axe on
 * every view shown.
 *
 * Build the page first: `npm run build -w @gtm-enrich/web`. Screenshots go to docs/screenshots/
 * with UPDATE_SCREENSHOTS=1.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Company,
  type CompanyList,
  type EnrichedField,
  type Job,
  type ProviderName,
  provenanceOf,
} from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxServer, startSandboxServer } from '../../server/src/providers/sandbox/sandbox-server';
import { bearer, csvFile, startTestSystem, type TestSystem, upload } from '../../server/test/test-system';
import { expectAccessible } from './axe';

const WEB_DIR = fileURLToPath(new URL('../out', import.meta.url));
const SCREENSHOT_DIR = fileURLToPath(new URL('../../../docs/screenshots', import.meta.url));
const WRITE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 900 };
const SESSION_KEY = 'gtm-enrich.api-key';
const PROVIDER_KEY = 'e2e-provider-key';
const DONE_MS = 30_000;
const ORG = 'e2e-waterfall';
/**
 * Well-known companies (strong matches), synthetic ones (People Data Labs' likelihoods from weak
 * to strong: the weak ones it does not answer, and the sandbox does), and one nobody knows.
 */
const DOMAINS = [
  'stripe.com',
  'shopify.com',
  'notion.so',
  ...Array.from({ length: 27 }, (_, i) => `waterfall-${i}.com`),
  'nomatch-waterfall.com',
];
const WATERFALL: ProviderName[] = ['pdl', 'sandbox'];
const LABELS: Record<ProviderName, string> = {
  explorium: 'Explorium',
  pdl: 'People Data Labs',
  web: 'Web (DNS and homepage)',
  sandbox: 'Sandbox (synthetic)',
};
/** The detail panel's label of each enriched field. */
const FIELD_LABELS: Record<EnrichedField, string> = {
  name: 'Name',
  industry: 'Industry',
  company_size: 'Company size',
  revenue_range: 'Revenue range',
  country: 'Country',
  region: 'Region',
  city: 'City',
  website: 'Website',
  linkedin_url: 'LinkedIn',
  description: 'Description',
  email_provider: 'Email provider',
  technologies: 'Technologies',
  logo_url: 'Logo',
  founded_year: 'Founded',
  employee_count: 'Employees',
  social_profiles: 'Profiles',
};

let browser: Browser;
/** Serves both emulators: Explorium's (the sandbox provider) and People Data Labs'. */
let emulators: SandboxServer;
let sys: TestSystem;

beforeAll(async () => {
  if (!existsSync(path.join(WEB_DIR, 'index.html'))) {
    throw new Error(
      `The web page is not built (${WEB_DIR}/index.html): run \`npm run build -w @gtm-enrich/web\`.`,
    );
  }
  emulators = await startSandboxServer({ apiKey: PROVIDER_KEY });
  const at = (name: ProviderName) => ({
    name,
    baseUrl: emulators.url,
    apiKey: PROVIDER_KEY,
    stop: async () => {},
  });
  sys = await startTestSystem({ env: { WEB_DIR }, providers: WATERFALL.map(at), waterfall: WATERFALL });
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  if (WRITE_SCREENSHOTS) await mkdir(SCREENSHOT_DIR, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
  await emulators?.close();
});

type Opened = { context: BrowserContext; page: Page; errors: string[] };

async function open(): Promise<Opened> {
  const context = await browser.newContext({
    viewport: DESKTOP,
    baseURL: sys.baseUrl,
    acceptDownloads: true,
  });
  const key = await sys.keyFor(ORG, 'admin');
  await context.addInitScript(
    ([name, value]) => window.sessionStorage.setItem(name!, value!),
    [SESSION_KEY, key],
  );
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  return { context, page, errors };
}

async function shot(page: Page, name: string) {
  const png = await page.screenshot();
  expect(png.byteLength).toBeGreaterThan(1000);
  await expectAccessible(page, name);
  if (WRITE_SCREENSHOTS) await writeFile(path.join(SCREENSHOT_DIR, `${name}.png`), png);
}

async function api<T>(pathAndQuery: string): Promise<T> {
  const res = await fetch(`${sys.baseUrl}${pathAndQuery}`, { headers: bearer(await sys.keyFor(ORG)) });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

async function uploadFile(name: string, fields: Record<string, string> = {}): Promise<Job> {
  const res = await upload(sys.baseUrl, csvFile(['domain', ...DOMAINS], name), { org_id: ORG, ...fields });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as Job;
}

async function completed(id: string): Promise<Job> {
  await expect
    .poll(async () => (await api<Job>(`/api/v1/jobs/${id}`)).status, { timeout: DONE_MS, interval: 100 })
    .toBe('completed');
  return api<Job>(`/api/v1/jobs/${id}`);
}

async function companiesOf(id: string, query = ''): Promise<Company[]> {
  return (await api<CompanyList>(`/api/v1/jobs/${id}/companies?limit=500${query}`)).data;
}

const resultRows = (page: Page) =>
  page.getByRole('region', { name: 'Results table' }).locator('tbody tr:not(.spacer-row)');
const loaded = (page: Page) => page.locator('.table-footer span').first().textContent();

/** The cells of the cost-per-provider table in `within`, row by row. */
async function waterfallRows(within: Locator): Promise<string[][]> {
  const rows = within.getByRole('region', { name: 'Cost per provider' }).locator('tbody tr');
  return rows.evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('th, td')].map((cell) => cell.textContent?.trim() ?? '')),
  );
}

describe('the providers of a job and where every value came from', () => {
  let job: Job;

  it('asks before spending with the cost per provider, then shows what each provider cost', async () => {
    const { page, context, errors } = await open();
    try {
      const waiting = await uploadFile('waterfall.csv', { start: 'false' });
      expect(waiting.providers).toEqual(WATERFALL);
      await page.goto(`/job/?id=${waiting.id}`);
      const start = page.getByRole('region', { name: 'Ready to start: check the cost' });
      await expect.poll(() => start.textContent()).toContain('Start enrichment');
      const estimate = (await api<Job>(`/api/v1/jobs/${waiting.id}`)).estimate!;
      // Before the start: the upper bounds per provider, in the order they are asked.
      expect(estimate.providers.map((p) => p.provider)).toEqual(WATERFALL);
      expect(await waterfallRows(start)).toEqual(
        estimate.providers.map((p, i) => [
          String(i + 1),
          LABELS[p.provider],
          p.provider_calls.toLocaleString('en-US'),
          p.credits.toLocaleString('en-US'),
        ]),
      );
      const facts = page.locator('.job-facts');
      expect(await facts.textContent()).toContain(
        'Providers, in orderPeople Data Labs → , then Sandbox (synthetic)',
      );
      await shot(page, 'job-ready-providers-1280');

      await start.getByRole('button', { name: 'Start enrichment' }).click();
      job = await completed(waiting.id);
      const usage = job.usage.providers;
      // People Data Labs was asked for every company, the sandbox only for what it left empty.
      expect(usage.map((u) => u.provider)).toEqual(WATERFALL);
      const [pdlUsage, sandboxUsage] = usage;
      expect(pdlUsage!.provider_calls).toBeGreaterThan(0);
      expect(sandboxUsage!.provider_calls).toBeGreaterThan(0);
      expect(usage.reduce((sum, u) => sum + u.credits, 0)).toBe(job.usage.credits);
      // After: what each provider cost, against its estimate, in the waterfall's order.
      await expect
        .poll(() => waterfallRows(page.getByRole('region', { name: 'Provider cost' })), { timeout: DONE_MS })
        .toEqual(
          WATERFALL.map((provider, i) => {
            const u = usage.find((p) => p.provider === provider)!;
            const e = estimate.providers.find((p) => p.provider === provider)!;
            return [
              String(i + 1),
              LABELS[provider],
              `${u.provider_calls} of ≤ ${e.provider_calls}`,
              String(u.records_billed),
              `${u.credits} of ≤ ${e.credits}`,
            ];
          }),
        );
      await shot(page, 'job-providers-1280');

      // The list of jobs names the providers too, in order.
      await page.goto('/jobs/');
      const rowHeaders = page.getByRole('region', { name: 'Jobs table' }).getByRole('rowheader');
      await expect.poll(() => rowHeaders.allTextContents()).toEqual(['waterfall.csv · PDL → , then Sandbox']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
    // A whole job and two views checked by axe: on two busy cores, longer than the default.
  }, 60_000);

  it("shows each field's provider, time and confidence, the match confidence, and 'cache' when reused", async () => {
    const companies = await companiesOf(job.id);
    const strong = companies.find((c) => c.domain === 'stripe.com')!;
    expect(strong.status).toBe('enriched');
    expect(strong.match_confidence).not.toBeNull();
    expect(provenanceOf(strong.provenance, 'name')?.provider).toBe('pdl');
    // One People Data Labs did not answer: the sandbox filled it, and gave no confidence.
    const second = companies.find(
      (c) => c.status === 'enriched' && c.provenance.every((p) => p.provider === 'sandbox'),
    )!;
    expect(second).toBeDefined();
    expect(second.match_confidence).toBeNull();

    const { page, context, errors } = await open();
    try {
      await page.goto(`/job/?id=${job.id}`);
      await expect.poll(() => loaded(page)).toBe(`${DOMAINS.length} of ${DOMAINS.length} loaded`);
      // The table shows each company's match confidence, or none.
      const rowOf = (domain: string) =>
        resultRows(page).filter({ has: page.getByRole('rowheader', { name: domain, exact: true }) });
      expect(await rowOf('stripe.com').textContent()).toContain(percent(strong.match_confidence!));

      const dialog = await openDetails(page, 'stripe.com');
      expect(await dialog.locator('.details__summary').textContent()).toContain(
        `Match confidence ${percent(strong.match_confidence!)}`,
      );
      await expectProvenanceShown(page, strong);
      expect(await fieldRow(page, 'Name').locator('.details__provenance').textContent()).toContain(
        `confidence ${percent(provenanceOf(strong.provenance, 'name')!.confidence!)}`,
      );
      expect(await fieldRow(page, 'Source').textContent()).toContain('People Data Labs');
      await shot(page, 'company-provenance-1280');
      await page.keyboard.press('Escape');

      const fallback = await openDetails(page, second.domain);
      expect(await fallback.locator('.details__summary').textContent()).not.toContain('Match confidence');
      await expectProvenanceShown(page, second);
      expect(await fieldRow(page, 'Source').locator('dd span').first().textContent()).toBe(
        'Sandbox (synthetic)',
      );
      await page.keyboard.press('Escape');

      // The same file again: answered from the enrichment cache, and the panel says so per field.
      const again = await completed((await uploadFile('waterfall-again.csv')).id);
      expect(again.usage.cache_hits).toBeGreaterThan(0);
      const cachedStrong = (await companiesOf(again.id, '&q=stripe.com'))[0]!;
      expect(provenanceOf(cachedStrong.provenance, 'name')?.source).toBe('cache');
      await page.goto(`/job/?id=${again.id}`);
      await expect.poll(() => loaded(page)).toBe(`${DOMAINS.length} of ${DOMAINS.length} loaded`);
      await openDetails(page, 'stripe.com');
      await expectProvenanceShown(page, cachedStrong);
      expect(await fieldRow(page, 'Name').locator('.details__provenance').textContent()).toMatch(/cache$/);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
    // A second job and three panels read field by field: on two busy cores, longer than the default.
  }, 60_000);

  it('filters by minimum match confidence on the server, and says why companies without one are left out', async () => {
    const all = await companiesOf(job.id);
    const strong = await companiesOf(job.id, '&min_confidence=0.9');
    // The filter means something here: some companies with a confidence are below it.
    expect(strong.length).toBeGreaterThan(0);
    expect(strong.length).toBeLessThan(all.filter((c) => c.match_confidence !== null).length);
    expect(strong.every((c) => c.match_confidence! >= 0.9)).toBe(true);

    const { page, context, errors } = await open();
    try {
      await page.goto(`/job/?id=${job.id}`);
      await expect.poll(() => loaded(page)).toBe(`${DOMAINS.length} of ${DOMAINS.length} loaded`);
      const asked = page.waitForRequest((req) => req.url().includes('min_confidence=0.9'));
      await page.getByLabel('Match confidence').selectOption({ label: '≥ 90 %' });
      await asked;
      await expect
        .poll(() => resultRows(page).getByRole('rowheader').allTextContents())
        .toEqual(strong.map((c) => c.domain));
      expect(await page.locator('.table-note').textContent()).toContain('match confidence at least 90 %');
      // The job's counters cannot say how many match a confidence: the footer counts what is loaded.
      expect(await loaded(page)).toBe(`${strong.length} loaded`);
      await page
        .getByRole('heading', { name: 'Results' })
        .evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await shot(page, 'results-confidence-1280');

      // With a status whose companies have no confidence: nothing, and why.
      await page.getByRole('button', { name: /^Not found/ }).click();
      await expect.poll(() => page.getByText('No companies match').count()).toBe(1);
      expect(await page.locator('.empty').textContent()).toContain(
        'Companies without a match confidence (not every provider gives one) are left out.',
      );
      await page.getByRole('button', { name: /^All/ }).click();
      await page.getByLabel('Match confidence').selectOption({ label: 'Any' });
      await expect.poll(() => loaded(page)).toBe(`${DOMAINS.length} of ${DOMAINS.length} loaded`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('exports with provenance: a provider and a fetched-at column per enriched field', async () => {
    const companies = new Map((await companiesOf(job.id)).map((c) => [c.domain, c]));
    const { page, context, errors } = await open();
    try {
      await page.goto(`/job/?id=${job.id}`);
      await expect.poll(() => loaded(page)).toBe(`${DOMAINS.length} of ${DOMAINS.length} loaded`);
      const plain = await download(page, 'Export CSV');
      expect(Object.keys(plain[0]!)).not.toContain('name_provider');

      await page.getByRole('checkbox', { name: 'With provenance' }).check();
      const asked = page.waitForRequest((req) => /export\.csv\?.*provenance=1/.test(req.url()));
      const records = await download(page, 'Export CSV');
      await asked;
      expect(records.map((r) => r.domain)).toEqual(DOMAINS);
      for (const r of records) {
        const c = companies.get(r.domain!)!;
        for (const field of ['name', 'industry', 'revenue_range'] as const) {
          const p = provenanceOf(c.provenance, field);
          expect(r[`${field}_provider`], `${c.domain} ${field}`).toBe(p?.provider ?? '');
          const at = r[`${field}_fetched_at`];
          expect(at ? new Date(at).toISOString() : null).toBe(
            p ? new Date(p.fetched_at).toISOString() : null,
          );
        }
      }
      // Both providers of the waterfall filled something.
      expect(new Set(records.map((r) => r.name_provider))).toEqual(new Set(['pdl', 'sandbox', '']));
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

/** "80 %", as the page writes a 0–1 confidence. */
const percent = (confidence: number) => `${Math.floor(confidence * 100 + 1e-9)} %`;

async function openDetails(page: Page, domain: string) {
  await page.getByRole('button', { name: domain, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: domain });
  await expect.poll(() => dialog.isVisible()).toBe(true);
  return dialog;
}

/** A row of the open detail panel, by its label. */
const fieldRow = (page: Page, label: string) =>
  page
    .getByRole('dialog')
    .locator('.details__field', { has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) });

/**
 * Every field the API says was filled shows its provider, the time (machine-readable, as the API
 * gave it), its confidence when given and "cache" when reused; no other row shows a source.
 */
async function expectProvenanceShown(page: Page, c: Company): Promise<void> {
  const entries = c.provenance.flatMap((p) => p.fields.map((field) => [field, p] as const));
  expect(entries.length).toBeGreaterThan(3);
  for (const [field, p] of entries) {
    const line = fieldRow(page, FIELD_LABELS[field]).locator('.details__provenance');
    const text = await line.textContent();
    expect(text, `${c.domain} ${field}`).toMatch(new RegExp(`^From ${escapeRegExp(LABELS[p.provider])}`));
    expect(await line.locator('time').getAttribute('datetime')).toBe(p.fetched_at);
    expect(text?.includes('confidence'), `${c.domain} ${field}`).toBe(p.confidence !== null);
    expect(text?.endsWith('cache'), `${c.domain} ${field}`).toBe(p.source === 'cache');
  }
  expect(await page.getByRole('dialog').locator('.details__provenance').count()).toBe(entries.length);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function download(page: Page, button: string): Promise<Record<string, string>[]> {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: button }).click(),
  ]);
  const csv = await readFile((await file.path())!, 'utf8');
  return parse(csv, { columns: true, bom: true, skip_empty_lines: true });
}
