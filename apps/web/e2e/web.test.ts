/**
 * The built page (apps/web/out) in headless Chromium against a whole system: a fresh
 * PostgreSQL database, the sandbox provider as a real HTTP server, the API serving the page and
 * a worker. The root `npm test` builds the page first; run alone, build it with
 * `npm run build -w @gtm-enrich/web`.
 *
 * Screenshots of every view at 1280 and 390 px are taken on each run (rendering them is part of
 * the test) and written to docs/screenshots/ when UPDATE_SCREENSHOTS=1.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRINCIPAL_CACHE_TTL_MS } from '../../server/src/http/auth';
import { bearer, csvFile, startTestSystem, type TestSystem, upload } from '../../server/test/test-system';
import { expectAccessible } from './axe';

const WEB_DIR = fileURLToPath(new URL('../out', import.meta.url));
const SCREENSHOT_DIR = fileURLToPath(new URL('../../../docs/screenshots', import.meta.url));
const WRITE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 900 };
const MOBILE = { width: 390, height: 844 };
const JOB_DONE_TIMEOUT_MS = 30_000;

/**
 * stripe.com twice (once as a URL), a domain the sandbox never matches (`nomatch…`), a reserved
 * `.invalid` name (rejected at upload: no company can own it), a blank line (skipped), an empty
 * domain cell and junk (both rejected).
 */
const MAIN_CSV = [
  'domain,company',
  'stripe.com,Stripe',
  'shopify.com,Shopify',
  'notion.so,Notion',
  'https://www.stripe.com/,Stripe again',
  'nomatch-acme.com,Nobody',
  'nothing-here.invalid,Nobody either',
  '',
  ',Blank domain',
  'not a domain,Junk',
].join('\n');

type Console = { errors: string[] };

let sys: TestSystem;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(path.join(WEB_DIR, 'index.html'))) {
    throw new Error(
      `The web page is not built (${WEB_DIR}/index.html is missing): run \`npm run build -w @gtm-enrich/web\` first.`,
    );
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium).`);
  }
  // A little provider latency and few companies in flight, so a job of a hundred companies
  // runs long enough to be seen running; the five-company job still finishes in about a second.
  sys = await startTestSystem({ sandbox: { latencyMs: 60 }, env: { WEB_DIR, WORKER_CONCURRENCY: '4' } });
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  if (WRITE_SCREENSHOTS) await mkdir(SCREENSHOT_DIR, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

/** The page keeps the API key of the browser session here (apps/web/src/lib/session.ts). */
const SESSION_KEY = 'gtm-enrich.api-key';

/**
 * A fresh browser context signed in with a key of `orgId` (of `role`; admin by default), or
 * signed out with `orgId` null, and every console error and uncaught exception collected.
 * `allow` lists network errors the scenario provokes on purpose.
 */
async function openPage(
  viewport: { width: number; height: number },
  orgId: string | null,
  allow: RegExp[] = [],
  opts: { role?: 'admin' | 'member' | 'viewer'; system?: TestSystem } = {},
): Promise<{ context: BrowserContext; page: Page; console: Console }> {
  const system = opts.system ?? sys;
  const context = await browser.newContext({ viewport, acceptDownloads: true, baseURL: system.baseUrl });
  if (orgId) {
    const key = await system.keyFor(orgId, opts.role ?? 'admin');
    await context.addInitScript(
      ([name, value]) => window.sessionStorage.setItem(name!, value!),
      [SESSION_KEY, key],
    );
  }
  const page = await context.newPage();
  const console: Console = { errors: [] };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = `${msg.text()} (${msg.location().url})`;
    if (!allow.some((re) => re.test(text))) console.errors.push(text);
  });
  page.on('pageerror', (err) => console.errors.push(`uncaught: ${err.message}`));
  return { context, page, console };
}

/** The visible viewport, or the whole page with `fullPage`; `scrollTo` brings a heading to the top first. */
async function screenshot(page: Page, name: string, opts: { fullPage?: boolean; scrollTo?: string } = {}) {
  if (opts.scrollTo) {
    await page
      .getByRole('heading', { name: opts.scrollTo })
      .evaluate((el) => el.scrollIntoView({ block: 'start' }));
  }
  const png = await page.screenshot({ fullPage: opts.fullPage ?? false });
  expect(png.byteLength).toBeGreaterThan(1000);
  // Every view that is shown is also checked: no serious or critical axe violation.
  await expectAccessible(page, name);
  if (WRITE_SCREENSHOTS) await writeFile(path.join(SCREENSHOT_DIR, `${name}.png`), png);
}

/** The page fits the viewport's width: only the tables scroll sideways. */
async function expectNoHorizontalPageScroll(page: Page): Promise<void> {
  const found = await page.evaluate(() => {
    const overflow = document.documentElement.scrollWidth - window.innerWidth;
    // Name the elements that stick out, outside the tables' own scroll regions, to say what to fix.
    const offenders = [...document.querySelectorAll('body *')]
      .filter(
        (el) => !el.closest('.table-scroll') && el.getBoundingClientRect().right > window.innerWidth + 0.5,
      )
      .slice(0, 5)
      .map(
        (el) =>
          `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`,
      );
    return { overflow: Math.max(0, overflow), offenders };
  });
  expect(found).toEqual({ overflow: 0, offenders: [] });
}

function resultRows(page: Page) {
  return page.getByRole('region', { name: 'Results table' }).locator('tbody tr');
}

const badgeText = (page: Page) => page.locator('h1 + .badge').textContent();

async function waitForProgress100(page: Page): Promise<void> {
  const bar = page.getByRole('progressbar', { name: 'Enrichment progress' });
  await expect.poll(() => bar.getAttribute('aria-valuenow'), { timeout: JOB_DONE_TIMEOUT_MS }).toBe('100');
  await expect
    .poll(() => page.locator('h1 + .badge').textContent(), { timeout: JOB_DONE_TIMEOUT_MS })
    .toBe('Completed');
}

async function waitForJobViaApi(jobId: string, orgId: string): Promise<Job> {
  let job: Job | undefined;
  const key = await sys.keyFor(orgId);
  await expect
    .poll(
      async () => {
        const res = await fetch(`${sys.baseUrl}/api/v1/jobs/${jobId}`, { headers: bearer(key) });
        job = (await res.json()) as Job;
        return job.status;
      },
      { timeout: JOB_DONE_TIMEOUT_MS, interval: 100 },
    )
    .toBe('completed');
  return job!;
}

describe('web page', () => {
  it('uploads a CSV, follows the job to 100 %, filters, exports and shows the rejected rows', async () => {
    const { context, page, console } = await openPage(DESKTOP, 'e2e-main');
    try {
      await page.goto('/');
      // The organization and role come from the key.
      const signedIn = page.getByLabel('Signed in');
      await expect.poll(() => signedIn.textContent()).toContain('e2e-main');
      expect(await signedIn.textContent()).toContain('admin');
      await page.getByLabel(/CSV file/).setInputFiles({
        name: 'prospects.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(MAIN_CSV),
      });
      await expect.poll(() => page.getByText('prospects.csv').count()).toBeGreaterThan(0);
      await screenshot(page, 'upload-1280', { fullPage: true });

      await page.getByRole('button', { name: 'Upload and see the cost' }).click();
      await page.waitForURL(/\/job\/\?id=[0-9a-f-]{36}$/);
      const jobId = new URL(page.url()).searchParams.get('id')!;
      // Nothing is spent before the estimate is seen and the job started.
      const start = page.getByRole('region', { name: 'Ready to start: check the cost' });
      await expect.poll(() => start.textContent()).toContain('Credits');
      expect(await badgeText(page)).toBe('Ready to start');
      await screenshot(page, 'job-ready-1280');
      await start.getByRole('button', { name: 'Start enrichment' }).click();

      // The banner says why the data is synthetic and what gives real data.
      const sandboxNote = page.getByRole('note', { name: 'Sandbox data' });
      await expect
        .poll(() => sandboxNote.textContent())
        .toContain(
          'Sandbox: synthetic data — no provider key is set and this machine could not resolve public names.',
        );
      expect(await sandboxNote.textContent()).toContain(
        'Set EXPLORIUM_API_KEY or PDL_API_KEY, or give the machine DNS (DNS_SERVERS) for the keyless web provider.',
      );
      await expect.poll(() => page.locator('h1').textContent()).toBe('prospects.csv');
      await waitForProgress100(page);
      await expect.poll(() => page.getByText('Finished in').count()).toBe(1);

      // Every unique domain once, in file order, with the firmographics the sandbox knows.
      await expect.poll(() => resultRows(page).count()).toBe(4);
      const stripe = resultRows(page).filter({ has: page.getByRole('rowheader', { name: 'stripe.com' }) });
      // The loaded rows refresh once more after the job finishes: wait for that refresh.
      await expect.poll(() => stripe.textContent(), { timeout: JOB_DONE_TIMEOUT_MS }).toContain('Enriched');
      const stripeText = await stripe.textContent();
      expect(stripeText).toContain('Stripe');
      expect(stripeText).toContain('Financial Services');
      expect(stripeText).toContain('5001-10000');
      expect(stripeText).toContain('1B-10B');
      expect(stripeText).toContain('South San Francisco, California, United States');
      for (const domain of ['shopify.com', 'notion.so']) {
        const row = resultRows(page).filter({ has: page.getByRole('rowheader', { name: domain }) });
        expect(await row.textContent()).toContain('Enriched');
      }
      await screenshot(page, 'job-done-1280');

      // Filter to not_found: exactly the domain that never matches, with the reason.
      // By keyboard: the filter buttons and the sortable headers are plain buttons.
      await page.getByRole('button', { name: /^Not found/ }).focus();
      await page.keyboard.press('Enter');
      expect(await page.getByRole('button', { name: /^Not found/ }).getAttribute('aria-pressed')).toBe(
        'true',
      );
      await expect
        .poll(async () => (await resultRows(page).allTextContents()).map((t) => t.slice(0, 40)))
        .toHaveLength(1);
      const notFound = resultRows(page).first();
      expect(await notFound.getByRole('rowheader').textContent()).toBe('nomatch-acme.com');
      expect(await notFound.textContent()).toContain('Not found');
      await page.getByRole('button', { name: /^All/ }).click();
      await expect.poll(() => resultRows(page).count()).toBe(4);

      // Search is done by the server.
      await page.getByLabel('Search by domain or name').fill('shop');
      await expect.poll(() => resultRows(page).count()).toBe(1);
      expect(await resultRows(page).first().getByRole('rowheader').textContent()).toBe('shopify.com');
      await page.getByLabel('Search by domain or name').fill('');
      await expect.poll(() => resultRows(page).count()).toBe(4);

      // Sorted by the server (every row of the job, not only those loaded).
      await page.getByRole('button', { name: /^Domain/ }).focus();
      await page.keyboard.press('Enter');
      await expect
        .poll(async () => resultRows(page).getByRole('rowheader').allTextContents())
        .toEqual(['nomatch-acme.com', 'notion.so', 'shopify.com', 'stripe.com']);
      expect(await page.getByRole('columnheader', { name: /^Domain/ }).getAttribute('aria-sort')).toBe(
        'ascending',
      );

      // The rejected rows, with their reasons, in a section that opens on demand.
      await page.locator('summary', { hasText: 'Rejected rows' }).focus();
      await page.keyboard.press('Enter');
      const rejected = page.getByRole('region', { name: 'Rejected rows table' });
      await expect.poll(() => rejected.locator('tbody tr').count()).toBe(3);
      expect(await rejected.textContent()).toContain('nothing-here.invalid');
      expect(await rejected.textContent()).toContain('not a domain');
      await screenshot(page, 'results-1280', { fullPage: true });

      // The export: every company, every field.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export CSV' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('prospects-enriched.csv');
      const csv = await readFile((await download.path())!, 'utf8');
      const records: Record<string, string>[] = parse(csv, {
        columns: true,
        bom: true,
        skip_empty_lines: true,
      });
      expect(records.map((r) => r.domain)).toEqual([
        'stripe.com',
        'shopify.com',
        'notion.so',
        'nomatch-acme.com',
      ]);
      const byDomain = new Map(records.map((r) => [r.domain, r]));
      expect(byDomain.get('stripe.com')).toMatchObject({
        status: 'enriched',
        name: 'Stripe',
        company_size: '5001-10000',
      });
      for (const domain of ['stripe.com', 'shopify.com', 'notion.so']) {
        const r = byDomain.get(domain)!;
        expect(r.status).toBe('enriched');
        expect(r.industry).not.toBe('');
        expect(r.revenue_range).not.toBe('');
      }
      expect(byDomain.get('nomatch-acme.com')?.status).toBe('not_found');

      // The row export: the file as uploaded, row for row, with the results (or the reason) appended.
      const [rowsDownload] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export my file' }).click(),
      ]);
      expect(rowsDownload.suggestedFilename()).toBe('prospects-rows-enriched.csv');
      const rowRecords: Record<string, string>[] = parse(
        await readFile((await rowsDownload.path())!, 'utf8'),
        {
          columns: true,
          bom: true,
          skip_empty_lines: true,
        },
      );
      expect(rowRecords.map((r) => [r.domain, r.company, r.enriched_domain, r.enriched_status])).toEqual([
        ['stripe.com', 'Stripe', 'stripe.com', 'enriched'],
        ['shopify.com', 'Shopify', 'shopify.com', 'enriched'],
        ['notion.so', 'Notion', 'notion.so', 'enriched'],
        ['https://www.stripe.com/', 'Stripe again', 'stripe.com', 'enriched'],
        ['nomatch-acme.com', 'Nobody', 'nomatch-acme.com', 'not_found'],
        ['nothing-here.invalid', 'Nobody either', '', 'rejected'],
        ['', 'Blank domain', '', 'rejected'],
        ['not a domain', 'Junk', '', 'rejected'],
      ]);

      // The job was filed under the key's organization, and only there.
      const res = await fetch(`${sys.baseUrl}/api/v1/jobs/${jobId}`, {
        headers: bearer(await sys.keyFor('e2e-main')),
      });
      expect(res.status).toBe(200);
      const elsewhere = await fetch(`${sys.baseUrl}/api/v1/jobs/${jobId}`, {
        headers: bearer(await sys.keyFor('e2e-other')),
      });
      expect(elsewhere.status).toBe(404);

      // Dead letters from the page: ask the provider again for the company it did not match.
      expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
      const matchedBefore = sys.sandbox.stats().domainsMatched['nomatch-acme.com'] ?? 0;
      await page.getByRole('button', { name: 'Ask again for 1 not found' }).click();
      await expect
        .poll(() => sys.sandbox.stats().domainsMatched['nomatch-acme.com'] ?? 0, {
          timeout: JOB_DONE_TIMEOUT_MS,
        })
        .toBe(matchedBefore + 1);
      expect((await waitForJobViaApi(jobId, 'e2e-main')).counts.not_found).toBe(1);
      expect(console.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);

  it('shows the API message naming the columns found when the CSV has no domain column', async () => {
    const { context, page, console } = await openPage(DESKTOP, 'e2e-nodomain', [
      // Chromium logs every 4xx answer to the console; this one is the point of the test.
      /status of 422.*\/api\/v1\/uploads/,
    ]);
    try {
      await page.goto('/');
      await page.getByLabel(/CSV file/).setInputFiles({
        name: 'people.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('first_name,last_name,phone\nAda,Lovelace,123\n'),
      });
      await page.getByRole('button', { name: 'Upload and see the cost' }).click();
      const alert = page.locator('form').getByRole('alert');
      await expect.poll(() => alert.textContent()).toMatch(/first_name.*last_name.*phone/);

      // Exactly the API's message, as written.
      const api = (await (
        await upload(sys.baseUrl, csvFile(['first_name,last_name,phone', 'Ada,Lovelace,123'], 'people.csv'), {
          org_id: 'e2e-nodomain',
        })
      ).json()) as {
        error: { code: string; message: string };
      };
      expect(api.error.code).toBe('NO_DOMAIN_COLUMN');
      expect(await alert.textContent()).toContain(api.error.message);
      expect(page.url()).toBe(`${sys.baseUrl}/`);
      await screenshot(page, 'upload-error-1280');
      expect(console.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('shows upload progress for a large file on a slow link', async () => {
    const { context, page, console } = await openPage(DESKTOP, 'e2e-big');
    try {
      await page.goto('/');
      // About 1.3 MB: the same domain 120,000 times, so one company.
      const big = `domain\n${'stripe.com\n'.repeat(120_000)}`;
      await page
        .getByLabel(/CSV file/)
        .setInputFiles({ name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.from(big) });
      // Every value the upload progress bar takes, reported as it changes.
      const seen: number[] = [];
      await page.exposeFunction('reportUploadProgress', (value: number) => seen.push(value));
      await page.evaluate(() => {
        const report = (window as unknown as { reportUploadProgress: (v: number) => void })
          .reportUploadProgress;
        let last: string | null = null;
        new MutationObserver(() => {
          const value = document
            .querySelector('[aria-label="Upload progress"]')
            ?.getAttribute('aria-valuenow');
          if (value != null && value !== last) report(Number(value));
          last = value ?? null;
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
      });
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 20,
        downloadThroughput: -1,
        uploadThroughput: 400 * 1024,
      });
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/uploads'), { timeout: 30_000 });
      await page.getByRole('button', { name: 'Upload and see the cost' }).click();
      // 120,000 rows are more than UPLOAD_INLINE_MAX_ROWS: answered once stored, read afterwards.
      expect(((await (await answered).json()) as Job).status).toBe('ingesting');
      await page.waitForURL(/\/job\/\?id=/, { timeout: 30_000 });
      await expect.poll(() => page.locator('h1').textContent()).toBe('big.csv');
      await expect.poll(() => page.getByRole('heading', { name: 'Reading your file' }).count()).toBe(1);
      // Once read, the job waits for its start with its estimate.
      await page.getByRole('button', { name: 'Start enrichment' }).click({ timeout: 60_000 });
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      await waitForProgress100(page);
      await expect.poll(() => page.getByText('1 of 1 company done').count()).toBe(1);
      expect(seen.length).toBeGreaterThan(0);
      expect(
        seen.some((v) => v > 0 && v < 100),
        `progress values seen: ${seen.join(', ')}`,
      ).toBe(true);
      expect(console.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('lists the jobs of the organization, newest first, and opens one', async () => {
    const orgId = 'e2e-list';
    const first = (await (
      await upload(sys.baseUrl, csvFile(['domain', 'stripe.com'], 'first.csv'), { org_id: orgId })
    ).json()) as Job;
    const second = (await (
      await upload(sys.baseUrl, csvFile(['domain', 'notion.so', 'figma.com'], 'second.csv'), {
        org_id: orgId,
      })
    ).json()) as Job;
    await waitForJobViaApi(first.id, orgId);
    await waitForJobViaApi(second.id, orgId);

    // Signed out: the sign-in view, then one organization's key, then another's.
    const { context, page, console } = await openPage(DESKTOP, null, [/status of 401.*\/api\/v1\/me/]);
    try {
      await page.goto('/jobs');
      const keyField = page.getByLabel('API key');
      await expect.poll(() => keyField.count()).toBe(1);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in with an API key');
      await screenshot(page, 'sign-in-1280');
      await keyField.fill('gtm_not-a-key-anybody-has-0000000000000');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('form').getByRole('alert').textContent()).toContain('not valid');
      await keyField.fill(await sys.keyFor('e2e-empty', 'viewer'));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByText('No jobs yet for “e2e-empty”').count()).toBe(1);
      expect(await page.getByLabel('Signed in').textContent()).toContain('viewer');
      // A viewer starts no job: no upload button here.
      expect(await page.getByRole('link', { name: 'New upload' }).count()).toBe(0);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await keyField.fill(await sys.keyFor(orgId, 'member'));
      await page.getByRole('button', { name: 'Sign in' }).click();
      const rows = page.getByRole('region', { name: 'Jobs table' }).locator('tbody tr');
      await expect
        .poll(() => rows.getByRole('rowheader').allTextContents())
        .toEqual(['second.csv · Sandbox', 'first.csv · Sandbox']);
      const text = await rows.first().textContent();
      expect(text).toContain('Completed');
      expect(text).toContain('100 %');
      await screenshot(page, 'jobs-1280');

      await page.setViewportSize(MOBILE);
      await expectNoHorizontalPageScroll(page);
      await screenshot(page, 'jobs-390');

      await page.getByRole('link', { name: 'second.csv' }).click();
      await page.waitForURL(new RegExp(`/job/\\?id=${second.id}$`));
      await expect.poll(() => resultRows(page).count()).toBe(2);
      expect(console.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('shows a running job live, then its results, at 1280 and 390 px', async () => {
    const orgId = 'e2e-live';
    const domains = Array.from({ length: 160 }, (_, i) => `lead-${String(i + 1).padStart(3, '0')}-co.com`);
    const lines = [
      'domain',
      'stripe.com',
      'shopify.com',
      'notion.so',
      'figma.com',
      'linear.app',
      ...domains,
      'nomatch-acme.com',
    ];

    const desktop = await openPage(DESKTOP, orgId);
    const mobile = await openPage(MOBILE, orgId);
    try {
      await mobile.page.goto('/');
      await expectNoHorizontalPageScroll(mobile.page);
      await screenshot(mobile.page, 'upload-390', { fullPage: true });

      const job = (await (
        await upload(sys.baseUrl, csvFile(lines, 'conference-leads.csv'), { org_id: orgId })
      ).json()) as Job;
      await desktop.page.goto(`/job/?id=${job.id}`);
      const bar = desktop.page.getByRole('progressbar', { name: 'Enrichment progress' });
      // Caught while running: some done, some not.
      await expect
        .poll(async () => Number(await bar.getAttribute('aria-valuenow')), {
          timeout: JOB_DONE_TIMEOUT_MS,
          interval: 50,
        })
        .toBeGreaterThan(10);
      const runningPct = Number(await bar.getAttribute('aria-valuenow'));
      expect(runningPct).toBeLessThan(100);
      await expect
        .poll(() => desktop.page.locator('.progress-eta').textContent(), { timeout: 5000, interval: 50 })
        .toMatch(/left|Almost done/);
      // No layout shift while polling: the results table stays where it is from one poll to the next.
      const top = async () => (await desktop.page.getByRole('heading', { name: 'Results' }).boundingBox())?.y;
      const before = await top();
      await desktop.page.waitForTimeout(1600);
      expect(await top()).toBe(before);
      await screenshot(desktop.page, 'job-running-1280');

      await mobile.page.goto(`/job/?id=${job.id}`);
      await expectNoHorizontalPageScroll(mobile.page);
      await screenshot(mobile.page, 'job-running-390');

      await waitForProgress100(desktop.page);
      await waitForProgress100(mobile.page);
      // 50 first (the page a running job polls), the next 500 behind "Load more" (or scrolling down).
      await expect
        .poll(() => desktop.page.locator('.table-footer').textContent())
        .toContain('50 of 166 loaded');
      await desktop.page.getByRole('button', { name: 'Load more' }).click();
      await expect
        .poll(() => desktop.page.locator('.table-footer').textContent())
        .toContain('166 of 166 loaded');
      await screenshot(desktop.page, 'results-many-1280', { scrollTo: 'Results' });

      await expectNoHorizontalPageScroll(mobile.page);
      await screenshot(mobile.page, 'results-390', { scrollTo: 'Results' });
      expect(desktop.console.errors).toEqual([]);
      expect(mobile.console.errors).toEqual([]);
    } finally {
      await desktop.context.close();
      await mobile.context.close();
    }
  }, 90_000);

  it('raises the credit limit of a job paused at it, and resumes it', async () => {
    const orgId = 'e2e-credit-limit';
    const domains = Array.from({ length: 8 }, (_, i) => `credit-limit-${i}.com`);
    const created = (await (
      await upload(sys.baseUrl, csvFile(['domain', ...domains], 'capped.csv'), {
        org_id: orgId,
        max_credits: '2',
      })
    ).json()) as Job;
    const { context, page, console: log } = await openPage(DESKTOP, orgId, [], { role: 'member' });
    try {
      await page.goto(`/job/?id=${created.id}`);
      const alert = page.getByRole('alert').filter({ hasText: 'The job is paused' });
      await expect.poll(() => alert.count(), { timeout: JOB_DONE_TIMEOUT_MS }).toBe(1);
      expect(await alert.textContent()).toContain('CREDIT_LIMIT_REACHED');
      // Paused at its limit, plain Resume would only pause again: the page offers to raise it instead.
      expect(await alert.getByRole('button', { name: 'Resume', exact: true }).count()).toBe(0);
      await screenshot(page, 'job-credit-limit-1280');

      const limit = alert.getByLabel('New credit limit');
      await limit.fill('1');
      await alert.getByRole('button', { name: 'Raise the limit and resume' }).click();
      expect(await alert.getByRole('alert').textContent()).toMatch(/above the 2 credits already spent/);

      await limit.fill('50');
      const [patched, resumed] = await Promise.all([
        page.waitForResponse((res) => res.request().method() === 'PATCH' && res.url().includes(created.id)),
        page.waitForResponse((res) => res.url().includes(`/api/v1/jobs/${created.id}/resume`)),
        alert.getByRole('button', { name: 'Raise the limit and resume' }).click(),
      ]);
      expect(patched.status()).toBe(200);
      expect(resumed.status()).toBe(200);
      const job = await waitForJobViaApi(created.id, orgId);
      expect(job.max_credits).toBe(50);
      expect(job.usage.credits).toBeLessThanOrEqual(8);
      await waitForProgress100(page);
      expect(await page.getByRole('alert').filter({ hasText: 'The job is paused' }).count()).toBe(0);
      expect(log.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe('web page with a provider that refuses the key', () => {
  let refused: TestSystem;

  beforeAll(async () => {
    // The sandbox accepts another key than the one the system sends: the job pauses with a reason.
    refused = await startTestSystem({ sandbox: { apiKey: 'another-key' }, env: { WEB_DIR } });
  });

  afterAll(async () => {
    await refused?.stop();
  });

  it('hides what a viewer may not do, and signs out a key that is revoked meanwhile', async () => {
    const orgId = 'e2e-viewer';
    const job = (await (
      await upload(refused.baseUrl, csvFile(['domain', 'stripe.com'], 'watched.csv'), { org_id: orgId })
    ).json()) as Job;
    const { context, page, console } = await openPage(DESKTOP, orgId, [/status of 401/], {
      role: 'viewer',
      system: refused,
    });
    try {
      await page.goto(`/job/?id=${job.id}`);
      const alert = page.getByRole('alert').filter({ hasText: 'The job is paused' });
      await expect.poll(() => alert.count(), { timeout: JOB_DONE_TIMEOUT_MS }).toBe(1);
      expect(await page.getByLabel('Signed in').textContent()).toContain('viewer');
      // Reads, but neither resumes nor exports.
      expect(await alert.getByRole('button', { name: 'Resume' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Export CSV' }).count()).toBe(0);
      await page.goto('/');
      await expect.poll(() => page.getByRole('note').textContent()).toContain('viewer role');
      expect(await page.getByLabel(/CSV file/).count()).toBe(0);

      // The key is revoked while the page is open (by the CLI: another process): within the API's
      // principal cache bound, the next request lands on the sign-in view, saying why.
      const key = await refused.keyFor(orgId, 'viewer');
      await refused.system.auth.revokeKey(key.slice(0, 12), { actor: 'cli' });
      await expect
        .poll(
          async () => {
            await page.goto('/jobs/');
            await page.waitForLoadState('networkidle');
            return page.getByLabel('API key').count();
          },
          { timeout: PRINCIPAL_CACHE_TTL_MS + 5_000, interval: 500 },
        )
        .toBe(1);
      await expect.poll(() => page.locator('form').getByRole('alert').textContent()).toContain('revoked');
      expect(await page.evaluate((name) => window.sessionStorage.getItem(name), SESSION_KEY)).toBeNull();
      expect(console.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('shows why the job is paused and resumes it on request', async () => {
    const orgId = 'e2e-paused';
    const job = (await (
      await upload(refused.baseUrl, csvFile(['domain', 'stripe.com'], 'paused.csv'), { org_id: orgId })
    ).json()) as Job;
    const { context, page, console: log } = await openPage(DESKTOP, orgId, [], { system: refused });
    const errors = log.errors;
    try {
      await page.goto(`/job/?id=${job.id}`);
      const alert = page.getByRole('alert').filter({ hasText: 'The job is paused' });
      await expect.poll(() => alert.count(), { timeout: JOB_DONE_TIMEOUT_MS }).toBe(1);
      const paused = (await (
        await fetch(`${refused.baseUrl}/api/v1/jobs/${job.id}`, {
          headers: bearer(await refused.keyFor(orgId)),
        })
      ).json()) as Job;
      expect(paused.status).toBe('paused');
      expect(await alert.textContent()).toContain(paused.error!.message);
      await screenshot(page, 'job-paused-1280');

      const [resumed] = await Promise.all([
        page.waitForResponse((res) => res.url().includes(`/api/v1/jobs/${job.id}/resume`)),
        alert.getByRole('button', { name: 'Resume' }).click(),
      ]);
      expect(resumed.status()).toBe(200);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
