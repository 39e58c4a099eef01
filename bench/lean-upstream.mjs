// The lean upstream of the bench's "lean" rows: a minimal node:http2 gRPC server (plaintext h2c)
// that answers every call with a fixed reply, so that the rows measure the hop in front of it, not
// the upstream's own work. Replies: Points/Search ten scored points, Points/Count a count, anything
// else an empty message. `GET /served` answers how many Search and Count calls it has answered (the bench checks that
// every call a load generator counted as answered reached the upstream: gRPC refusals are HTTP 200 too).
//
//   node bench/lean-upstream.mjs [--port N]   prints {"msg":"listening","port":N} on stdout
import http2 from 'node:http2';
import { frame, REPLIES } from './lean-messages.mjs';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;

const EMPTY = frame(Buffer.alloc(0));

let served = 0;
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream, headers) => {
  stream.on('error', () => undefined);
  if (headers[':method'] === 'GET' && headers[':path'] === '/served') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(String(served));
    return;
  }
  const reply = REPLIES[headers[':path']];
  const measured = reply !== undefined; // the proxies' own health probes are not counted

  stream.on('data', () => undefined); // the request is read and dropped
  stream.on('end', () => {
    if (stream.destroyed) return;
    if (measured) served++;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(reply ?? EMPTY);
  });
});
server.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref());
