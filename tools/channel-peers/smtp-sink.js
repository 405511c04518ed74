// An SMTP sink for tests: accepts mail on 127.0.0.1 (no TLS, any or no login), parses it, and
// answers what it received as JSON on a small HTTP port (GET / -> [{from, to, subject, text,
// messageId, inReplyTo, autoSubmitted}], oldest first). It refuses recipients the way real
// servers do: one whose address starts with `gone-` for good (550 5.1.1, no such user), one
// starting with `full-` for now (452 4.2.2, mailbox full); each refusal is counted (GET /refused).
// Usage: node smtp-sink.js [smtpPort] [httpPort]   (0 picks a free port)
// Prints one line {"smtp": <port>, "http": <port>} once both listen.
'use strict';
const http = require('http');
const { SMTPServer } = require('smtp-server');
const { simpleParser } = require('mailparser');

const smtpPort = Number(process.argv[2] || 0);
const httpPort = Number(process.argv[3] || 0);
const received = [];
const refused = [];

const smtp = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  onAuth(_auth, _session, callback) {
    callback(null, { user: 'test' });
  },
  onRcptTo(address, _session, callback) {
    const refusal = (code, text) => {
      refused.push({ to: address.address, code });
      const err = new Error(text);
      err.responseCode = code;
      callback(err);
    };
    if (address.address.startsWith('gone-')) return refusal(550, '5.1.1 No such user here');
    if (address.address.startsWith('full-')) return refusal(452, '4.2.2 Mailbox full, try again later');
    return callback();
  },
  onData(stream, session, callback) {
    simpleParser(stream)
      .then((mail) => {
        received.push({
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: mail.subject || '',
          text: mail.text || '',
          messageId: mail.messageId || null,
          inReplyTo: mail.inReplyTo || null,
          autoSubmitted: mail.headers.get('auto-submitted') || null,
        });
        callback();
      })
      .catch((err) => callback(err));
  },
});

smtp.on('error', (err) => console.error(`smtp: ${err.message}`));
smtp.listen(smtpPort, '127.0.0.1', () => {
  const web = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/refused' ? refused : received));
  });
  web.listen(httpPort, '127.0.0.1', () => {
    console.log(JSON.stringify({ smtp: smtp.server.address().port, http: web.address().port }));
  });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
