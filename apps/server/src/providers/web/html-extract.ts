/**
 * What a homepage says about its company, read with htmlparser2 (a small, maintained, forgiving
 * streaming parser: real pages are not well-formed, and its callbacks let us keep only what we
 * use instead of building a DOM): name, description, logo, social profiles, the JSON-LD
 * Organization (address, founding date, employees), and the evidence technology signatures match.
 * Pure: HTML and the page's URL in, facts out, each with the method that found it.
 */
import { Parser } from 'htmlparser2';
import type { PageEvidence } from './signatures';

/** A value and how it was found (`html:og:site_name`, `jsonld:Organization.name`…). */
export type Sourced<T> = { value: T; method: string };

export const SOCIAL_NETWORKS = ['linkedin', 'twitter', 'github', 'crunchbase', 'facebook'] as const;
export type SocialNetwork = (typeof SOCIAL_NETWORKS)[number];
export type SocialProfiles = Partial<Record<SocialNetwork, Sourced<string>>>;

export type PageFacts = {
  name: Sourced<string> | null;
  description: Sourced<string> | null;
  logoUrl: Sourced<string> | null;
  socialProfiles: SocialProfiles;
  country: Sourced<string> | null;
  region: Sourced<string> | null;
  city: Sourced<string> | null;
  foundedYear: Sourced<number> | null;
  employeeCount: Sourced<number> | null;
  evidence: PageEvidence;
};

/** Bounds on what one page may make us keep, whatever its size. */
const MAX_INLINE_SCRIPT_CHARS = 512 * 1024;
const MAX_JSON_LD_CHARS = 256 * 1024;
const MAX_LINKS = 2_000;
const MAX_NAMES = 2_000;
const MAX_DESCRIPTION_CHARS = 1_000;
const MAX_NAME_CHARS = 120;

type RawPage = {
  title: string | null;
  meta: Map<string, string>;
  links: { rel: string[]; href: string }[];
  anchors: string[];
  scriptSrc: string[];
  inlineScript: string[];
  jsonLd: string[];
  ids: Set<string>;
  attributes: Set<string>;
};

function parseRaw(html: string): RawPage {
  const page: RawPage = {
    title: null,
    meta: new Map(),
    links: [],
    anchors: [],
    scriptSrc: [],
    inlineScript: [],
    jsonLd: [],
    ids: new Set(),
    attributes: new Set(),
  };
  let inlineChars = 0;
  let jsonLdChars = 0;
  // The text being collected and where it goes when its element closes.
  let collecting: { tag: string; text: string; kind: 'title' | 'script' | 'jsonld' } | null = null;
  let svgDepth = 0;

  const parser = new Parser(
    {
      onopentag(name, attribs) {
        for (const attr of Object.keys(attribs)) {
          if (page.attributes.size < MAX_NAMES) page.attributes.add(attr);
        }
        if (attribs.id && page.ids.size < MAX_NAMES) page.ids.add(attribs.id);
        if (name === 'svg') svgDepth++;
        switch (name) {
          case 'title':
            // An <svg> has <title>s of its own; only the document's first counts.
            if (svgDepth === 0 && page.title === null) collecting = { tag: name, text: '', kind: 'title' };
            break;
          case 'meta': {
            const key = (attribs.property ?? attribs.name ?? attribs.itemprop ?? '').trim().toLowerCase();
            const content = attribs.content?.trim();
            if (key && content && !page.meta.has(key)) page.meta.set(key, content);
            break;
          }
          case 'link':
            if (attribs.href && page.links.length < MAX_LINKS) {
              page.links.push({ rel: (attribs.rel ?? '').toLowerCase().split(/\s+/), href: attribs.href });
            }
            break;
          case 'a':
            if (attribs.href && page.anchors.length < MAX_LINKS) page.anchors.push(attribs.href);
            break;
          case 'script': {
            const type = (attribs.type ?? '').trim().toLowerCase();
            if (attribs.src) {
              if (page.scriptSrc.length < MAX_LINKS) page.scriptSrc.push(attribs.src);
            } else if (type === 'application/ld+json') {
              collecting = { tag: name, text: '', kind: 'jsonld' };
            } else {
              collecting = { tag: name, text: '', kind: 'script' };
            }
            break;
          }
        }
      },
      ontext(text) {
        if (!collecting) return;
        if (collecting.kind === 'script' && inlineChars + collecting.text.length > MAX_INLINE_SCRIPT_CHARS)
          return;
        if (collecting.kind === 'jsonld' && jsonLdChars + collecting.text.length > MAX_JSON_LD_CHARS) return;
        collecting.text += text;
      },
      onclosetag(name) {
        if (name === 'svg' && svgDepth > 0) svgDepth--;
        if (!collecting || collecting.tag !== name) return;
        const { kind, text } = collecting;
        collecting = null;
        if (kind === 'title') page.title = text;
        else if (kind === 'jsonld') {
          jsonLdChars += text.length;
          page.jsonLd.push(text);
        } else if (text.trim() !== '') {
          inlineChars += text.length;
          page.inlineScript.push(text);
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  return page;
}

function clean(text: string, max: number): string | null {
  const value = text.replace(/\s+/g, ' ').trim();
  if (value === '') return null;
  return value.length > max ? `${value.slice(0, max - 1).trimEnd()}…` : value;
}

function absoluteHttpUrl(href: string, base: URL): string | null {
  try {
    const url = new URL(href.trim(), base);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Title parts that name the page, not the company. */
const GENERIC_TITLE_PARTS = new Set([
  'home',
  'homepage',
  'home page',
  'welcome',
  'official site',
  'official website',
]);

/**
 * "Home | Acme" → "Acme"; "Acme — Widgets for teams" → "Acme". Of the parts around a separator,
 * the one that looks like the domain's own label wins, else the first that is not "Home".
 */
export function cleanTitle(title: string, domain: string): string | null {
  const whole = clean(title, 1_000);
  if (!whole) return null;
  const parts = whole
    .split(/\s+[|\-–—·•:»]\s+/)
    .map((p) => p.trim())
    .filter((p) => p !== '' && !GENERIC_TITLE_PARTS.has(p.toLowerCase()));
  if (parts.length === 0) return null;
  const label = compact(domain.split('.')[0] ?? '');
  const matching = label
    ? parts.find((p) => {
        const c = compact(p);
        return c !== '' && (c.startsWith(label) || label.startsWith(c));
      })
    : undefined;
  const chosen = matching ?? parts[0]!;
  return chosen.length > MAX_NAME_CHARS ? null : chosen;
}

function compact(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

// ---------------------------------------------------------------------------------------------
// Social profiles

const TWITTER_RESERVED = new Set([
  'intent',
  'share',
  'home',
  'search',
  'hashtag',
  'i',
  'settings',
  'login',
  'signup',
  'privacy',
  'tos',
  'explore',
]);
const GITHUB_RESERVED = new Set([
  'features',
  'pricing',
  'about',
  'login',
  'join',
  'sponsors',
  'topics',
  'marketplace',
  'enterprise',
  'site',
  'security',
  'explore',
  'contact',
]);
const FACEBOOK_RESERVED = new Set([
  'sharer',
  'sharer.php',
  'share',
  'share.php',
  'dialog',
  'plugins',
  'tr',
  'login',
  'profile.php',
  'groups',
  'events',
]);

/** The canonical profile URL `href` points to, and its network; null for anything else. */
export function socialProfileOf(href: string): { network: SocialNetwork; url: string } | null {
  let url: URL;
  try {
    url = new URL(href.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const host = url.hostname.toLowerCase().replace(/^(www|m|mobile)\./, '');
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const [first, second] = segments;
  if (!first) return null;
  if (host === 'linkedin.com' || host.endsWith('.linkedin.com')) {
    if ((first === 'company' || first === 'school') && second && /^[\w%.-]+$/.test(second)) {
      return { network: 'linkedin', url: `https://www.linkedin.com/${first}/${second}` };
    }
    return null;
  }
  if (host === 'twitter.com' || host === 'x.com') {
    if (/^\w{1,15}$/.test(first) && !TWITTER_RESERVED.has(first.toLowerCase())) {
      return { network: 'twitter', url: `https://x.com/${first}` };
    }
    return null;
  }
  if (host === 'github.com') {
    const org = first === 'orgs' ? second : first;
    if (org && /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(org) && !GITHUB_RESERVED.has(org.toLowerCase())) {
      return { network: 'github', url: `https://github.com/${org}` };
    }
    return null;
  }
  if (host === 'crunchbase.com') {
    if (first === 'organization' && second && /^[\w-]+$/.test(second)) {
      return { network: 'crunchbase', url: `https://www.crunchbase.com/organization/${second}` };
    }
    return null;
  }
  if (host === 'facebook.com' || host === 'fb.com') {
    if (/^[\w.-]+$/.test(first) && !FACEBOOK_RESERVED.has(first.toLowerCase())) {
      return { network: 'facebook', url: `https://www.facebook.com/${first}` };
    }
    return null;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// JSON-LD

type JsonObject = Record<string, unknown>;

const ORGANIZATION_TYPES = new Set([
  'organization',
  'corporation',
  'onlinebusiness',
  'onlinestore',
  'localbusiness',
  'professionalservice',
  'ngo',
  'educationalorganization',
  'governmentorganization',
  'newsmediaorganization',
  'medicalorganization',
  'researchorganization',
  'sportsorganization',
  'airline',
  'store',
]);

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typesOf(node: JsonObject): string[] {
  const t = node['@type'];
  const list = Array.isArray(t) ? t : [t];
  return list.filter((x): x is string => typeof x === 'string').map((x) => x.replace(/^.*[/#]/, ''));
}

/** Every object in the JSON-LD blocks, nested ones included (publisher, @graph…), bounded. */
function jsonLdNodes(blocks: readonly string[]): JsonObject[] {
  const out: JsonObject[] = [];
  const visit = (v: unknown, depth: number) => {
    if (depth > 8 || out.length > 500) return;
    if (Array.isArray(v)) for (const item of v) visit(item, depth + 1);
    else if (isObject(v)) {
      out.push(v);
      for (const child of Object.values(v)) if (typeof child === 'object') visit(child, depth + 1);
    }
  };
  for (const block of blocks) {
    try {
      // Pages put raw newlines and tabs inside JSON strings; JSON.parse refuses them.
      visit(JSON.parse(block.replace(/[\t\n\r\f\v]+/g, ' ')), 0);
    } catch {
      // A broken block says nothing; the rest of the page still does.
    }
  }
  return out;
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return clean(v, MAX_DESCRIPTION_CHARS);
  if (typeof v === 'number') return String(v);
  if (isObject(v)) return text(v.name ?? v['@value']);
  if (Array.isArray(v)) return text(v[0]);
  return null;
}

function urlOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return urlOf(v[0]);
  if (isObject(v)) return urlOf(v.url ?? v.contentUrl ?? v['@id']);
  return null;
}

function numberOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*[\d,.\s]+\s*$/.test(v)) {
    const n = Number(v.replace(/[,.\s]/g, ''));
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** The page's own Organization: the one whose url is on this domain, else the first with a name. */
function organizationOf(nodes: JsonObject[], domain: string): { node: JsonObject; type: string } | null {
  const orgs = nodes
    .map((node) => ({ node, type: typesOf(node).find((t) => ORGANIZATION_TYPES.has(t.toLowerCase())) }))
    .filter(
      (o): o is { node: JsonObject; type: string } => o.type !== undefined && text(o.node.name) !== null,
    );
  const onDomain = orgs.find(({ node }) => {
    const url = urlOf(node.url);
    if (!url) return false;
    try {
      const host = new URL(url).hostname.toLowerCase();
      return host === domain || host.endsWith(`.${domain}`);
    } catch {
      return false;
    }
  });
  return onDomain ?? orgs[0] ?? null;
}

// ---------------------------------------------------------------------------------------------

/** Facts a homepage states about its company. `pageUrl` is where it was fetched (after redirects). */
export function extractPage(html: string, pageUrl: URL, domain: string): PageFacts {
  const raw = parseRaw(html);
  const meta = raw.meta;
  const org = organizationOf(jsonLdNodes(raw.jsonLd), domain);
  const jsonld = (field: string) => `jsonld:${org?.type ?? 'Organization'}.${field}`;
  const sourced = <T>(value: T | null | undefined, method: string): Sourced<T> | null =>
    value === null || value === undefined ? null : { value, method };
  const first = <T>(...candidates: (Sourced<T> | null)[]): Sourced<T> | null =>
    candidates.find((c) => c !== null) ?? null;

  const metaText = (key: string, max: number) => {
    const v = meta.get(key);
    return v ? sourced(clean(v, max), `html:meta[${key}]`) : null;
  };

  const name = first(
    metaText('og:site_name', MAX_NAME_CHARS),
    sourced(org ? text(org.node.name) : null, jsonld('name')),
    sourced(raw.title === null ? null : cleanTitle(raw.title, domain), 'html:title'),
  );

  const description = first(
    metaText('description', MAX_DESCRIPTION_CHARS),
    metaText('og:description', MAX_DESCRIPTION_CHARS),
    sourced(org ? text(org.node.description) : null, jsonld('description')),
  );

  const appleIcon = raw.links.find(
    (l) => l.rel.includes('apple-touch-icon') || l.rel.includes('apple-touch-icon-precomposed'),
  );
  const orgLogo = org ? urlOf(org.node.logo) : null;
  const ogImage = meta.get('og:image');
  const logoUrl = first(
    sourced(orgLogo ? absoluteHttpUrl(orgLogo, pageUrl) : null, jsonld('logo')),
    sourced(appleIcon ? absoluteHttpUrl(appleIcon.href, pageUrl) : null, 'html:link[apple-touch-icon]'),
    sourced(ogImage ? absoluteHttpUrl(ogImage, pageUrl) : null, 'html:meta[og:image]'),
  );

  const socialProfiles: SocialProfiles = {};
  const sameAs = org?.node.sameAs;
  for (const href of (Array.isArray(sameAs) ? sameAs : [sameAs]).filter((s) => typeof s === 'string')) {
    const profile = socialProfileOf(href);
    if (profile && !socialProfiles[profile.network]) {
      socialProfiles[profile.network] = { value: profile.url, method: jsonld('sameAs') };
    }
  }
  const twitterSite = meta.get('twitter:site')?.replace(/^@/, '');
  if (!socialProfiles.twitter && twitterSite && /^\w{1,15}$/.test(twitterSite)) {
    socialProfiles.twitter = { value: `https://x.com/${twitterSite}`, method: 'html:meta[twitter:site]' };
  }
  for (const href of raw.anchors) {
    const absolute = absoluteHttpUrl(href, pageUrl);
    const profile = absolute ? socialProfileOf(absolute) : null;
    if (profile && !socialProfiles[profile.network]) {
      socialProfiles[profile.network] = { value: profile.url, method: 'html:a[href]' };
    }
  }

  const addresses = org ? (Array.isArray(org.node.address) ? org.node.address : [org.node.address]) : [];
  const address = addresses.find(isObject);
  const country = sourced(address ? text(address.addressCountry) : null, jsonld('address.addressCountry'));
  const region = sourced(address ? text(address.addressRegion) : null, jsonld('address.addressRegion'));
  const city = sourced(address ? text(address.addressLocality) : null, jsonld('address.addressLocality'));

  const founding = org ? text(org.node.foundingDate) : null;
  const year = founding ? Number(/^\s*(\d{4})/.exec(founding)?.[1]) : Number.NaN;
  const foundedYear = sourced(
    Number.isInteger(year) && year >= 1600 && year <= new Date().getUTCFullYear() ? year : null,
    jsonld('foundingDate'),
  );

  let employeeCount: Sourced<number> | null = null;
  const employees = org?.node.numberOfEmployees;
  const exact = numberOf(isObject(employees) ? employees.value : employees);
  if (exact !== null && exact > 0) employeeCount = { value: exact, method: jsonld('numberOfEmployees') };
  else if (isObject(employees)) {
    // A range ({minValue, maxValue}) is published as such; its lower bound is what is known for sure.
    const min = numberOf(employees.minValue);
    if (min !== null && min > 0) employeeCount = { value: min, method: jsonld('numberOfEmployees.minValue') };
  }

  return {
    name,
    description,
    logoUrl,
    socialProfiles,
    country,
    region,
    city,
    foundedYear,
    employeeCount,
    evidence: {
      meta,
      scriptSrc: raw.scriptSrc,
      linkHref: raw.links.map((l) => l.href),
      inlineScript: raw.inlineScript,
      ids: raw.ids,
      attributes: raw.attributes,
    },
  };
}
