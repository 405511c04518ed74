// A webhook receiver for tests: records every POST to /hooks/<name> ({name, event, delivery,
// signature, body}, oldest first) and answers by the name: `fail-*` always 500, `flaky-*` 500
// to its first two requests and 200 after, any other 200. GET /received?secret=S answers the
// records, each with `signatureValid`: whether `X-CGS-Signature` is `sha256=` and the hex
// HMAC-SHA256 of the body with S, as Node's crypto computes it.
// Usage: node webhook-receiver.js [httpPort]   (0 picks a free port)
// Prints one line {"http": <port>} once it listens.
'use strict';
const http = require('http');
const crypto = require('crypto');

const port = Number(process.argv[2] || 0);
const received = [];
const seen = {};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/received') {
    const secret = url.searchParams.get('secret') || '';
    const out = received.map((r) => {
      const want = 'sha256=' + crypto.createHmac('sha256', secret).update(r.body).digest('hex');
      const valid = r.signature.length === want.length &&
        crypto.timingSafeEqual(Buffer.from(r.signature), Buffer.from(want));
      return { ...r, signatureValid: valid };
    });
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify(out));
  }
  if (req.method !== 'POST' || !url.pathname.startsWith('/hooks/')) {
    res.statusCode = 404;
    return res.end();
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const name = url.pathname.slice('/hooks/'.length);
    seen[name] = (seen[name] || 0) + 1;
    received.push({
      name,
      event: req.headers['x-cgs-event'] || null,
      delivery: req.headers['x-cgs-delivery'] || null,
      signature: req.headers['x-cgs-signature'] || '',
      contentType: req.headers['content-type'] || null,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    const fail = name.startsWith('fail-') || (name.startsWith('flaky-') && seen[name] <= 2);
    res.statusCode = fail ? 500 : 200;
    res.end(fail ? 'down for now' : 'ok');
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ http: server.address().port }));
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
