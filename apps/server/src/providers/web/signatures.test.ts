import { describe, expect, it } from 'vitest';
import { emailProviderOf, spfIncludes, technologiesOfPage, toolsFromTxt } from './signatures';

describe('DNS signatures', () => {
  it('names the email provider of the preferred MX host', () => {
    expect(
      emailProviderOf([
        { exchange: 'alt1.aspmx.l.google.com', priority: 5 },
        { exchange: 'aspmx.l.google.com', priority: 1 },
      ]),
    ).toBe('Google Workspace');
    expect(emailProviderOf([{ exchange: 'acme-test.mail.protection.outlook.com', priority: 0 }])).toBe(
      'Microsoft 365',
    );
    expect(emailProviderOf([{ exchange: 'mx.zoho.eu', priority: 10 }])).toBe('Zoho Mail');
    expect(emailProviderOf([{ exchange: 'mail.protonmail.ch', priority: 10 }])).toBe('Proton Mail');
    expect(emailProviderOf([{ exchange: 'in1-smtp.messagingengine.com', priority: 10 }])).toBe('Fastmail');
    // A suffix is matched on a label boundary: notgoogle.com is not google.com.
    expect(emailProviderOf([{ exchange: 'mx.notgoogle.com', priority: 10 }])).toBeNull();
    expect(emailProviderOf([])).toBeNull();
  });

  it('reads SPF includes and redirects, ignoring other TXT records', () => {
    expect(
      spfIncludes([
        'v=spf1 include:_spf.google.com include:sendgrid.net ~include:mail.zendesk.com -all',
        'google-site-verification=abc',
        'v=spf1 redirect=_spf.example.net',
      ]),
    ).toEqual(['_spf.google.com', 'sendgrid.net', 'mail.zendesk.com', '_spf.example.net']);
    expect(spfIncludes(['v=spf10 include:x.com'])).toEqual([]);
  });

  it('turns SPF includes and verification records into tools, each once', () => {
    const tools = toolsFromTxt([
      'v=spf1 include:_spf.google.com include:servers.mcsv.net include:amazonses.com include:_spf.salesforce.com include:mailgun.org ~all',
      'google-site-verification=q1w2e3',
      'MS=ms12345678',
      'facebook-domain-verification=abcdef',
      'atlassian-domain-verification=xyz',
      'apple-domain-verification=123',
      'docusign=0f0f0f0f-aaaa',
      'stripe-verification=deadbeef',
      'hubspot-developer-verification=abc',
      'Docusign=second-record-same-tool',
    ]);
    expect(tools).toEqual(
      expect.arrayContaining([
        { name: 'Google Workspace', category: 'email', method: 'dns:spf' },
        { name: 'Mailchimp', category: 'email marketing', method: 'dns:spf' },
        { name: 'Amazon SES', category: 'email delivery', method: 'dns:spf' },
        { name: 'Salesforce', category: 'CRM', method: 'dns:spf' },
        { name: 'Mailgun', category: 'email delivery', method: 'dns:spf' },
        { name: 'Google (site verification)', category: 'verification', method: 'dns:txt' },
        { name: 'Microsoft 365', category: 'email', method: 'dns:txt' },
        { name: 'Facebook', category: 'advertising', method: 'dns:txt' },
        { name: 'Atlassian', category: 'collaboration', method: 'dns:txt' },
        { name: 'Apple', category: 'verification', method: 'dns:txt' },
        { name: 'DocuSign', category: 'e-signature', method: 'dns:txt' },
        { name: 'Stripe', category: 'payments', method: 'dns:txt' },
        { name: 'HubSpot', category: 'marketing automation', method: 'dns:txt' },
      ]),
    );
    expect(tools.filter((t) => t.name === 'DocuSign')).toHaveLength(1);
    expect(toolsFromTxt(['some-unknown-verification=1', 'v=spf1 -all'])).toEqual([]);
  });
});

describe('technology signatures', () => {
  const emptyPage = {
    meta: new Map<string, string>(),
    scriptSrc: [],
    linkHref: [],
    inlineScript: [],
    ids: new Set<string>(),
    attributes: new Set<string>(),
  };

  it('reads CDNs, hosts and servers from response headers', () => {
    const found = technologiesOfPage(null, {
      server: 'cloudflare',
      'cf-ray': '8a1b2c3d4e5f-AMS',
      'x-vercel-id': 'fra1::abc',
      'x-powered-by': 'Next.js',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        { name: 'Cloudflare', category: 'CDN', method: 'header:cf-ray' },
        { name: 'Vercel', category: 'hosting', method: 'header:x-vercel-id' },
        { name: 'Next.js', category: 'framework', method: 'header:x-powered-by' },
        { name: 'React', category: 'framework', method: 'implied:Next.js' },
      ]),
    );
    expect(technologiesOfPage(null, { server: 'nginx/1.25.3' })).toEqual([
      { name: 'nginx', category: 'web server', method: 'header:server' },
    ]);
  });

  it('matches meta generators, script sources, inline snippets, ids and attributes', () => {
    const found = technologiesOfPage(
      {
        ...emptyPage,
        meta: new Map([['generator', 'Webflow']]),
        scriptSrc: ['https://js.hs-scripts.com/123.js', 'https://static.hotjar.com/c/hotjar-1.js'],
        inlineScript: ["mixpanel.init('token')"],
        ids: new Set(['___gatsby']),
        attributes: new Set(['ng-version']),
      },
      {},
    );
    expect(found.map((t) => `${t.name} ${t.method}`)).toEqual(
      expect.arrayContaining([
        'Webflow html:meta[generator]',
        'HubSpot html:script[src]',
        'Hotjar html:script[src]',
        'Mixpanel html:script',
        'Gatsby html:[id]',
        'Angular html:[attribute]',
      ]),
    );
    expect(technologiesOfPage(emptyPage, {})).toEqual([]);
  });
});
