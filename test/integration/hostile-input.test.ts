// What the internet sends: random and mutated protobuf bodies, metadata and tokens (fast-check,
// bounded), odd paths and content types, and an HTTP/2 rapid-reset burst. The proxy must never
// crash, never let a call through that it should deny, and keep answering.
import { connect, constants as h2 } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_TABLE } from '../../src/access/access-table.js';
import { servedApi } from '../../src/access/compile-rules.js';
import { stringsAt } from '../../src/access/request-fields.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { forwardedSince, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { h2frame, rssMb } from '../helpers/raw-h2.js';
import { until } from '../helpers/wait.js';

const KEY = 'hostile-input-key';
const ALLOWED = 'fuzz_allowed';
const api = servedApi(loadQdrantApi());
const readPaths = ACCESS_TABLE.filter((r) => r.kind === 'unary' && r.need.scope === 'collection' && !r.need.write && !r.need.manage && !r.need.extras).map(
  (r) => r.path,
);
const writePaths = ACCESS_TABLE.filter((r) => r.kind === 'unary' && r.need.scope === 'collection' && (r.need.write || r.need.manage)).map((r) => r.path);
const allPaths = ACCESS_TABLE.filter((r) => r.kind === 'unary').map((r) => r.path);

let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack({ service: { api_key: KEY, jwt_rbac: true }, log_level: 'WARN' });
  token = await new SignJWT({ access: [{ collection: ALLOWED, access: 'r' }] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(KEY));
  for (const method of api.methods.values()) {
    if (method.kind === 'unary')
      stack.standin.override(method.path, ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0))) as grpc.UntypedHandleCall);
  }
});
afterAll(async () => stack?.stop());

const alive = async () => (await rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': KEY }))).code === 0;

const forwarded = (from: number) => forwardedSince(stack.standin, from);

/** Everything that reached the upstream must be a read of the allowed collection only. */
function assertOnlyAllowedReachedUpstream(from: number): void {
  for (const call of forwarded(from)) {
    const rule = ACCESS_TABLE.find((r) => r.path === call.path)!;
    expect(readPaths.includes(call.path) || rule.need.scope === 'list', call.path).toBe(true);
    if (rule.need.scope === 'collection') {
      const names = stringsAt(call.request, [{ number: 1, recursive: false }]);
      expect(names.length > 0 ? names : ['']).toEqual(names.map(() => ALLOWED));
    }
  }
}

const mutate = (bytes: Uint8Array, edits: [number, number][]) => {
  const out = Buffer.from(bytes);
  for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
  return out;
};
const validRequest = (path: string, collection: string) => {
  const codec = api.methods.get(path)?.request;
  return codec ? codec.encode({ collection_name: collection, limit: 3 }) : Buffer.from([0x0a, collection.length, ...Buffer.from(collection)]);
};

describe('fuzzing (bounded, fast-check)', () => {
  it('random and mutated bodies with a collection-scoped token never reach the upstream unless allowed', async () => {
    const from = stack.standin.calls.length;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...allPaths),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(fc.constantFrom(ALLOWED, 'secret', ''), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
            .map(([c, edits]) => ({ c, edits })),
        ),
        async (path, body) => {
          const bytes = body instanceof Uint8Array ? Buffer.from(body) : mutate(validRequest(path, body.c), body.edits);
          const out = await rawUnary(stack.client, path, bytes, md({ authorization: `Bearer ${token}` }));
          expect(typeof out.code).toBe('number');
          if (writePaths.includes(path)) expect(out.code).not.toBe(0);
        },
      ),
      { numRuns: 400, seed: 20261123 },
    );
    assertOnlyAllowedReachedUpstream(from);
    expect(await alive()).toBe(true);
  });

  it('random metadata and mutated tokens are refused cleanly', async () => {
    const from = stack.standin.calls.length;
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 400 });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('api-key', 'authorization', 'x-request-id', 'traceparent', 'x-forwarded-for'),
        fc.oneof(
          printable,
          printable.map((s) => `Bearer ${s}`),
          fc
            .array(fc.tuple(fc.nat(), fc.integer({ min: 0x20, max: 0x7e })), { maxLength: 6 })
            .map((edits) => `Bearer ${mutate(Buffer.from(token), edits).toString('latin1')}`),
        ),
        fc.constantFrom(...writePaths),
        async (key, value, path) => {
          const out = await rawUnary(stack.client, path, validRequest(path, ALLOWED), md({ [key]: value }));
          expect(out.code).not.toBe(0); // a write with anything but the real key is refused
        },
      ),
      { numRuns: 300, seed: 7 },
    );
    expect(forwarded(from).map((c) => [c.path, c.metadata.toJSON()])).toEqual([]);
    expect(await alive()).toBe(true);
  });
});

describe('malformed transport input', () => {
  function rawH2(headers: Record<string, string>, body: Buffer | null): Promise<Record<string, string | string[] | undefined>> {
    return new Promise((resolve, reject) => {
      const session = connect(`http://${stack.proxy.address}`);
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ...headers });
      let response: Record<string, string | string[] | undefined> = {};
      req.on('response', (h) => (response = { ...h }));
      req.on('trailers', (t) => (response = { ...response, ...t }));
      req.on('error', () => undefined);
      req.on('close', () => {
        session.close();
        resolve(response);
      });
      req.end(body ?? undefined);
    });
  }
  const frame = (payload: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);

  it.each([
    ['unknown method', { ':path': '/qdrant.Points/Nope', 'content-type': 'application/grpc' }, frame(Buffer.alloc(0))],
    ['odd path encoding', { ':path': '/qdrant.Points%2FSearch/../x', 'content-type': 'application/grpc' }, frame(Buffer.alloc(0))],
    ['wrong content type', { ':path': '/qdrant.Points/Search', 'content-type': 'text/html' }, Buffer.from('<html>')],
    [
      'truncated frame',
      { ':path': '/qdrant.Points/Search', 'content-type': 'application/grpc', authorization: `Bearer x` },
      Buffer.from([0, 0, 0, 0, 50, 1, 2]),
    ],
    ['frame claiming 2 GB', { ':path': '/qdrant.Points/Search', 'content-type': 'application/grpc' }, Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1])],
  ])('%s gets an answer, and the proxy keeps serving', async (_name, headers, body) => {
    const before = stack.standin.calls.length;
    const response = await rawH2(headers, body);
    expect(Number(response[':status']) === 415 || response['grpc-status'] !== undefined).toBe(true);
    expect(response['grpc-status']).not.toBe('0');
    expect(forwarded(before)).toEqual([]);
    expect(await alive()).toBe(true);
  });

  /** Writes raw HTTP/2 frames on a plain TCP connection (no client library to hold them back). */
  function rawFrames(frames: Buffer[], holdMs = 500): Promise<void> {
    return new Promise((resolve) => {
      const socket = netConnect(stack.proxy.port, '127.0.0.1', () => {
        socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        for (const f of frames) if (!socket.destroyed) socket.write(f);
        setTimeout(() => socket.destroy(), holdMs);
      });
      socket.on('data', () => undefined); // never read slowly: drain what the server sends
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
  }

  it('a SETTINGS flood and a CONTINUATION flood neither stop the proxy nor keep its memory', async () => {
    const pid = stack.proxy.process.pid!;
    expect(await alive()).toBe(true);
    const baseline = rssMb(pid);
    const settings = Array.from({ length: 20_000 }, () => h2frame(4, 0, 0, Buffer.alloc(0)));
    await rawFrames(settings);
    // HEADERS without END_HEADERS, then endless CONTINUATION frames of header bytes (CVE-2024-27983 class).
    const literal = Buffer.concat([Buffer.from([0x40, 0x0a]), Buffer.from('x-flooding'), Buffer.from([0x7f, 0x81, 0x7f]), Buffer.alloc(16_000, 0x61)]);
    const continuation = [h2frame(1, 0, 1, literal), ...Array.from({ length: 2_000 }, () => h2frame(9, 0, 1, literal))];
    await rawFrames(continuation);
    await until(async () => (await alive()) && rssMb(pid) - baseline < 80, 10_000, 'serving, with the memory back');
  });

  it('an HTTP/2 rapid-reset burst does not take the process down or keep its memory', async () => {
    const pid = stack.proxy.process.pid!;
    expect(await alive()).toBe(true);
    const baseline = rssMb(pid);
    for (let round = 0; round < 10; round++) {
      await new Promise<void>((resolve) => {
        const session = connect(`http://${stack.proxy.address}`);
        session.on('error', () => undefined);
        session.on('close', () => resolve());
        session.on('connect', () => {
          for (let i = 0; i < 500; i++) {
            try {
              const req = session.request({
                ':method': 'POST',
                ':path': '/qdrant.Points/Search',
                'content-type': 'application/grpc',
                te: 'trailers',
                'api-key': KEY,
              });
              req.on('error', () => undefined);
              req.close(h2.NGHTTP2_CANCEL);
            } catch {
              break; // the server closed the session (rapid-reset protection)
            }
          }
          setTimeout(() => session.destroy(), 200);
        });
      });
    }
    await until(async () => (await alive()) && rssMb(pid) - baseline < 80, 10_000, 'serving, with the memory back');
  });
});
