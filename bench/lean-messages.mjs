// The lean set's gRPC messages, protobuf by hand (the few fields needed): the requests h2load sends
// (bench/lean.mjs, bench/compare.sh LOADGEN=h2load) and the fixed replies of bench/lean-upstream.mjs.
//
//   node bench/lean-messages.mjs DIR     writes DIR/search.bin and DIR/count.bin (gRPC-framed requests)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const varint = (n) => {
  const out = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
};
/** A length-delimited field. */
const field = (no, bytes) => Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
const fixed = (no, wireType, size, write) => {
  const b = Buffer.alloc(1 + size);
  b[0] = (no << 3) | wireType;
  write(b);
  return b;
};
const float32 = (no, v) => fixed(no, 5, 4, (b) => b.writeFloatLE(v, 1));
const double = (no, v) => fixed(no, 1, 8, (b) => b.writeDoubleLE(v, 1));
/** A gRPC message frame: not compressed, then the length. */
export const frame = (message) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
};
const uint = (no, n) => Buffer.concat([varint(no << 3), varint(n)]);

const vector = Buffer.alloc(768 * 4);
for (let i = 0; i < 768; i++) vector.writeFloatLE(Math.sin(i), i * 4);
const bench = field(1, Buffer.from('bench'));

export const REQUESTS = {
  // SearchPoints { collection_name = 1, vector = 2 (packed), limit = 4 }
  search: frame(Buffer.concat([bench, field(2, vector), uint(4, 10)])),
  // CountPoints { collection_name = 1, exact = 3 }
  count: frame(Buffer.concat([bench, uint(3, 0)])),
};

export const REPLIES = {
  // SearchResponse { repeated ScoredPoint result = 1 { PointId id = 1 { num = 1 }, score = 3 }, time = 2 }
  '/qdrant.Points/Search': frame(
    Buffer.concat([...Array.from({ length: 10 }, (_, i) => field(1, Buffer.concat([field(1, uint(1, i + 1)), float32(3, 0.9 - i / 100)]))), double(2, 0.0001)]),
  ),
  // CountResponse { CountResult result = 1 { count = 1 }, time = 2 }
  '/qdrant.Points/Count': frame(Buffer.concat([field(1, uint(1, 1000)), double(2, 0.0001)])),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir] = process.argv.slice(2);
  for (const [name, body] of Object.entries(REQUESTS)) writeFileSync(join(dir, `${name}.bin`), body);
}
