// The lean upstream of the bench's "lean" rows: a minimal node:http2 gRPC server (plaintext h2c)
// that answers every call with a fixed reply, so that the rows measure the hop in front of it, not
// the upstream's own work. Replies: Points/Search ten scored points, Points/Count a count, anything
// else an empty message. `GET /served` answers how many Search and Count calls it has answered (the bench checks that
// every call a load generator counted as answered reached the upstream: gRPC refusals are HTTP 200 too).
//
//   node bench/lean-upstream.mjs [--port N]   prints {"msg":"listening","port":N} on stdout
import http2 from 'node:http2';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;

// Protobuf by hand (the few fields needed): varint, a length-delimited field, a fixed32/fixed64 field.
const varint = (n) => {
  const out = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
};
const field = (no, bytes) => Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
const float32 = (no, v) => {
  const b = Buffer.alloc(5);
  b[0] = (no << 3) | 5;
  b.writeFloatLE(v, 1);
  return b;
};
const double = (no, v) => {
  const b = Buffer.alloc(9);
  b[0] = (no << 3) | 1;
  b.writeDoubleLE(v, 1);
  return b;
};
const frame = (message) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
};

// SearchResponse { repeated ScoredPoint result = 1 { PointId id = 1 { num = 1 }, score = 3 }, time = 2 }
const hits = Array.from({ length: 10 }, (_, i) =>
  field(1, Buffer.concat([field(1, Buffer.concat([Buffer.from([0x08]), varint(i + 1)])), float32(3, 0.9 - i / 100)])),
);
const REPLIES = {
  '/qdrant.Points/Search': frame(Buffer.concat([...hits, double(2, 0.0001)])),
  // CountResponse { CountResult result = 1 { count = 1 }, time = 2 }
  '/qdrant.Points/Count': frame(Buffer.concat([field(1, Buffer.concat([Buffer.from([0x08]), varint(1000)])), double(2, 0.0001)])),
};
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
