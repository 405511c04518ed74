// Starts the gRPC Firestore emulator on 127.0.0.1 for tests, plus a small HTTP port that
// answers the emulator's whole state as JSON (GET /), so tests can read what was written.
// Usage: node server.js [grpcPort] [httpPort]   (0 picks a free port)
// Prints one line {"grpc": <port>, "http": <port>} once both listen.
'use strict';
const http = require('http');
const { ServerCredentials } = require('@grpc/grpc-js');
const { FirestoreServer } = require('@firestore-emulator/server');

const grpcPort = Number(process.argv[2] || 0);
const httpPort = Number(process.argv[3] || 0);
const emulator = new FirestoreServer();

emulator.server.bindAsync(`127.0.0.1:${grpcPort}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`cannot bind the gRPC port: ${err.message}`);
    process.exit(1);
  }
  const web = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(emulator.state.toJSON()));
  });
  web.listen(httpPort, '127.0.0.1', () => {
    console.log(JSON.stringify({ grpc: port, http: web.address().port }));
  });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    emulator.server.forceShutdown();
    process.exit(0);
  });
}
