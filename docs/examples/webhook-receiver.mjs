// A GTM Enrich webhook receiver with nothing but Node: verifies the Standard Webhooks signature
// over the raw body, refuses old timestamps, and drops repeats by webhook-id.
//   WEBHOOK_SECRET=whsec_… PORT=8080 node webhook-receiver.mjs
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = Buffer.from(process.env.WEBHOOK_SECRET.replace(/^whsec_/, ''), 'base64');
const seen = new Set(); // use a table with a unique key in production: retries repeat an id

function verified(headers, body) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = (headers['webhook-signature'] ?? '').split(' ');
  if (!id || !timestamp || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = `v1,${createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return signatures.some(
    (s) => s.length === expected.length && timingSafeEqual(Buffer.from(s), Buffer.from(expected)),
  );
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8'); // the raw bytes: parse only after verifying
    if (!verified(req.headers, body)) return res.writeHead(400).end('bad signature');
    const id = req.headers['webhook-id'];
    if (!seen.has(id)) {
      seen.add(id);
      const event = JSON.parse(body);
      console.log(event.type, event.data.job.id, event.data.job.status);
    }
    res.writeHead(204).end(); // any 2xx: delivered; anything else is retried
  });
}).listen(Number(process.env.PORT ?? 8080));
