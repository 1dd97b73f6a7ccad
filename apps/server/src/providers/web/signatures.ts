/**
 * The two signature files (dns-signatures.json, tech-signatures.json) read and matched. Data, not
 * code, so that adding a tool is one line of JSON (docs/providers.md, section web); the schemas
 * below reject a malformed entry when the module loads, in tests first, rather than matching
 * nothing in production.
 */
import { z } from 'zod';
import dnsFile from './dns-signatures.json' with { type: 'json' };
import techFile from './tech-signatures.json' with { type: 'json' };

/** A tool or technology found, and how: `dns:mx`, `dns:txt`, `html:script[src]`, `header:server`… */
export type WebTechnology = { name: string; category: string; method: string };

const patterns = z.array(z.string().min(1)).optional();

const DnsSignatures = z.strictObject({
  about: z.string(),
  emailProviders: z.array(z.strictObject({ name: z.string().min(1), mx: z.array(z.string().min(1)) })),
  spfIncludes: z.array(
    z.strictObject({
      name: z.string().min(1),
      category: z.string().min(1),
      include: z.array(z.string().min(1)),
    }),
  ),
  txtRecords: z.array(
    z.strictObject({
      name: z.string().min(1),
      category: z.string().min(1),
      prefix: z.array(z.string().min(1)),
    }),
  ),
});

const TechSignatures = z.strictObject({
  about: z.string(),
  technologies: z.array(
    z.strictObject({
      name: z.string().min(1),
      category: z.string().min(1),
      meta: z.record(z.string(), z.array(z.string().min(1))).optional(),
      scriptSrc: patterns,
      linkHref: patterns,
      inlineScript: patterns,
      ids: patterns,
      attributes: patterns,
      headers: z.record(z.string(), z.string()).optional(),
      implies: patterns,
    }),
  ),
});

const DNS = DnsSignatures.parse(dnsFile);
const TECH = TechSignatures.parse(techFile);
const TECH_BY_NAME = new Map(TECH.technologies.map((t) => [t.name, t]));

/** `host` is `suffix` or a subdomain of it (aspmx.l.google.com ends with google.com). */
function hostEndsWith(host: string, suffix: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const s = suffix.toLowerCase();
  return h === s || h.endsWith(`.${s}`);
}

/** The email provider the lowest-priority (preferred) MX host points to; null when none is known. */
export function emailProviderOf(mx: readonly { exchange: string; priority: number }[]): string | null {
  const sorted = [...mx].sort((a, b) => a.priority - b.priority);
  for (const { exchange } of sorted) {
    const found = DNS.emailProviders.find((p) => p.mx.some((s) => hostEndsWith(exchange, s)));
    if (found) return found.name;
  }
  return null;
}

/** The `include:` (and `redirect=`) targets of the domain's SPF record(s). */
export function spfIncludes(txt: readonly string[]): string[] {
  const out: string[] = [];
  for (const record of txt) {
    if (!/^v=spf1(\s|$)/i.test(record)) continue;
    for (const term of record.split(/\s+/)) {
      const m = /^[+~?-]?(?:include:|redirect=)(.+)$/i.exec(term);
      if (m?.[1]) out.push(m[1].toLowerCase());
    }
  }
  return out;
}

/** Tools named by SPF includes and TXT verification records, each once. */
export function toolsFromTxt(txt: readonly string[]): WebTechnology[] {
  const found = new Map<string, WebTechnology>();
  for (const include of spfIncludes(txt)) {
    for (const sig of DNS.spfIncludes) {
      if (sig.include.some((s) => hostEndsWith(include, s)) && !found.has(sig.name)) {
        found.set(sig.name, { name: sig.name, category: sig.category, method: 'dns:spf' });
      }
    }
  }
  for (const record of txt) {
    const lower = record.trim().toLowerCase();
    for (const sig of DNS.txtRecords) {
      if (sig.prefix.some((p) => lower.startsWith(p.toLowerCase())) && !found.has(sig.name)) {
        found.set(sig.name, { name: sig.name, category: sig.category, method: 'dns:txt' });
      }
    }
  }
  return [...found.values()];
}

/** What the HTML parser collected from a page that technology signatures look at. */
export type PageEvidence = {
  meta: ReadonlyMap<string, string>;
  scriptSrc: readonly string[];
  linkHref: readonly string[];
  inlineScript: readonly string[];
  ids: ReadonlySet<string>;
  attributes: ReadonlySet<string>;
};

/** Technologies a page and its response headers show, each once, with the first evidence seen. */
export function technologiesOfPage(
  page: PageEvidence | null,
  headers: Readonly<Record<string, string>>,
): WebTechnology[] {
  const found = new Map<string, WebTechnology>();
  const lower = (list: readonly string[]) => list.map((s) => s.toLowerCase());
  const scriptSrc = lower(page?.scriptSrc ?? []);
  const linkHref = lower(page?.linkHref ?? []);
  const inline = lower(page?.inlineScript ?? []);
  const ids = new Set([...(page?.ids ?? [])].map((s) => s.toLowerCase()));
  const attributes = new Set([...(page?.attributes ?? [])].map((s) => s.toLowerCase()));
  const anyIncludes = (haystack: readonly string[], needles: readonly string[] | undefined) =>
    needles?.some((n) => haystack.some((h) => h.includes(n.toLowerCase()))) ?? false;

  const add = (name: string, method: string) => {
    if (found.has(name)) return;
    const sig = TECH_BY_NAME.get(name);
    found.set(name, { name, category: sig?.category ?? 'other', method });
    for (const implied of sig?.implies ?? []) add(implied, `implied:${name}`);
  };

  for (const sig of TECH.technologies) {
    let method: string | null = null;
    for (const [name, needles] of Object.entries(sig.meta ?? {})) {
      const content = page?.meta.get(name.toLowerCase())?.toLowerCase();
      if (content && needles.some((n) => content.includes(n.toLowerCase()))) method ??= `html:meta[${name}]`;
    }
    if (!method && anyIncludes(scriptSrc, sig.scriptSrc)) method = 'html:script[src]';
    if (!method && anyIncludes(linkHref, sig.linkHref)) method = 'html:link[href]';
    if (!method && anyIncludes(inline, sig.inlineScript)) method = 'html:script';
    if (!method && sig.ids?.some((id) => ids.has(id.toLowerCase()))) method = 'html:[id]';
    if (!method && sig.attributes?.some((a) => attributes.has(a.toLowerCase()))) method = 'html:[attribute]';
    if (!method) {
      for (const [header, needle] of Object.entries(sig.headers ?? {})) {
        const value = headers[header.toLowerCase()];
        if (value?.toLowerCase().includes(needle.toLowerCase())) {
          method = `header:${header.toLowerCase()}`;
          break;
        }
      }
    }
    if (method) add(sig.name, method);
  }
  return [...found.values()];
}
