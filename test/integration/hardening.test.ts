// What a client can do to the proxy, with or without a credential, found by attacking it from
// outside (issue 11): each finding is reproduced here and must leave the proxy serving, its memory
// bounded, other clients unharmed, and nothing it should refuse at the upstream.
import { writeFileSync } from 'node:fs';
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { servedApi } from '../../src/access/compile-rules.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { forwardedSince, held, overrideForTest, type Stack, startStack, upstreamConfig } from '../helpers/proxy-stack.js';
import { md, rawClient, rawUnary } from '../helpers/raw-client.js';
import { FRAME, grpcMessage, rawCall, rssMb } from '../helpers/raw-h2.js';
import { hs256, rawHs256 } from '../helpers/tokens.js';
import { until } from '../helpers/wait.js';

const KEY = 'hardening-key';
const api = servedApi(loadQdrantApi());
const encode = (path: string, value: object) => api.methods.get(path)!.request!.encode(value);
const list = (stack: Stack, metadata = md({ 'api-key': KEY })) => rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), metadata);

interface H2Outcome {
  status: string | undefined;
  message: string | undefined;
  headers: Record<string, unknown>;
  ms: number;
}

/** One call on a node:http2 session, with a body written as given (possibly never ended). `ms`: until its status arrived. */
function h2call(session: ClientHttp2Session, path: string, headers: Record<string, string | string[]>, body: Buffer | null, end = true): Promise<H2Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let all: Record<string, unknown> = {};
    let answered = 0;
    const note = (h: Record<string, unknown>) => {
      all = { ...all, ...h };
      if (all['grpc-status'] !== undefined && answered === 0) answered = Date.now() - started;
    };
    req.on('response', note);
    req.on('trailers', note);
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('close', () =>
      resolve({
        status: all['grpc-status'] as string | undefined,
        message: all['grpc-message'] ? decodeURIComponent(String(all['grpc-message'])) : undefined,
        headers: all,
        ms: answered || Date.now() - started,
      }),
    );
    if (body) req.write(body);
    if (end) req.end();
  });
}

const openSession = (stack: Stack) =>
  new Promise<ClientHttp2Session>((resolve, reject) => {
    const session = h2connect(`http://${stack.proxy.address}`);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });

describe('headers that HTTP/2 reserves for a connection', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ service: { api_key: KEY }, upstream: { connections: 4 }, log_level: 'WARN' });
  });
  afterAll(async () => stack?.stop());

  const CONNECTION_SPECIFIC: [string, string][] = [
    ['http2-settings', 'AAMAAABkAAQAoAAAAAIAAAAA'],
    ['connection', 'close'],
    ['upgrade', 'h2c'],
    ['keep-alive', 'timeout=5'],
    ['proxy-connection', 'keep-alive'],
    ['transfer-encoding', 'chunked'],
    ['te', 'gzip'],
    ['host', 'elsewhere.example'],
  ];

  it('never stop the proxy (anonymous health checks carried them) and never reach the upstream', async () => {
    for (const header of CONNECTION_SPECIFIC) {
      for (let i = 0; i < 2; i++) {
        const out = await rawCall(stack.proxy.port, '/qdrant.Qdrant/HealthCheck', [header]);
        expect(out.goaway, header[0]).toBeNull();
      }
      const before = stack.standin.calls.length;
      await rawCall(stack.proxy.port, '/qdrant.Collections/List', [header, ['api-key', KEY]]);
      for (const call of forwardedSince(stack.standin, before)) expect(call.metadata.get(header[0]), header[0]).toEqual([]);
      expect(stack.proxy.process.exitCode, header[0]).toBeNull();
      expect((await list(stack)).code).toBe(0);
    }
  });

  it('random header names and values (fast-check, fixed seed): every call is answered and the proxy keeps serving', async () => {
    const name = fc.oneof(
      fc.constantFrom(
        ...CONNECTION_SPECIFIC.map(([n]) => n),
        'age',
        'etag',
        'user-agent',
        'content-length',
        'grpc-timeout',
        'grpc-encoding',
        'grpc-accept-encoding',
        'x-forwarded-for',
        'authorization',
        'api-key',
      ),
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,19}$/),
    );
    const value = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 6 }), fc.boolean(), async (headers, anonymous) => {
        const extra: [string, string][] = anonymous ? headers : [...headers, ['api-key', KEY]];
        const out = await rawCall(stack.proxy.port, anonymous ? '/qdrant.Qdrant/HealthCheck' : '/qdrant.Collections/List', extra);
        expect(out.frames.some((f) => f.stream === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM))).toBe(true);
      }),
      { numRuns: 150, seed: 20261201 },
    );
    expect(stack.proxy.process.exitCode).toBeNull();
    expect((await list(stack)).code).toBe(0);
  });
});

describe('memory: nothing is read before authentication, and what is read is bounded', () => {
  let stack: Stack;
  // 128 MiB of zeros: 128 KiB compressed.
  const bomb = grpcMessage(gzipSync(Buffer.alloc(128 * 1024 * 1024)), 1);
  beforeAll(async () => {
    stack = await startStack({
      service: { api_key: KEY },
      limits: { request_body_timeout_ms: 1000, max_message_bytes: 128 * 1024 * 1024 + 64, max_buffered_request_bytes: 160 * 1024 * 1024 },
      log_level: 'WARN',
    });
  });
  afterAll(async () => stack?.stop());

  it('twelve anonymous gzip bombs on one connection are refused on their headers; memory stays flat', async () => {
    const pid = stack.proxy.process.pid!;
    const baseline = rssMb(pid);
    const session = await openSession(stack);
    const outs = await Promise.all(Array.from({ length: 12 }, () => h2call(session, '/qdrant.Points/Search', { 'grpc-encoding': 'gzip' }, bomb)));
    session.close();
    for (const out of outs) expect([out.status, out.message]).toEqual(['16', 'Must provide an API key or an Authorization bearer token']);
    expect(rssMb(pid) - baseline).toBeLessThan(40);
  });

  it('an unfinished anonymous 100 MB upload is answered at once, not held', async () => {
    const session = await openSession(stack);
    const head = grpcMessage(Buffer.alloc(1024 * 1024)).subarray(0, 5);
    head.writeUInt32BE(100 * 1024 * 1024, 1);
    const out = await h2call(session, '/qdrant.Points/Upsert', {}, Buffer.concat([head, Buffer.alloc(1024 * 1024)]), false);
    session.destroy();
    expect(out.status).toBe('16');
    expect(out.ms).toBeLessThan(2000);
  });

  it('an authenticated gzip bomb stops at limits.max_decompression_ratio', async () => {
    const pid = stack.proxy.process.pid!;
    const baseline = rssMb(pid);
    const session = await openSession(stack);
    const out = await h2call(session, '/qdrant.Points/Search', { 'grpc-encoding': 'gzip', 'api-key': KEY }, bomb);
    session.close();
    expect(out.status).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    expect(out.message).toMatch(/^Error decompressing: size limit, of \d+ bytes, exceeded while decompressing message$/);
    expect(rssMb(pid) - baseline).toBeLessThan(60);
  });

  it('a reply the client does not read is held only up to the upstream window, not whole', async () => {
    const big = Buffer.alloc(96 * 1024 * 1024, 1);
    let sent = false;
    overrideForTest(stack.standin, '/qdrant.Points/Scroll', ((_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      sent = true;
      cb(null, big);
    }) as grpc.UntypedHandleCall);
    const pid = stack.proxy.process.pid!;
    const baseline = rssMb(pid);
    const session = await openSession(stack);
    const req = session.request({ ':method': 'POST', ':path': '/qdrant.Points/Scroll', 'content-type': 'application/grpc', te: 'trailers', 'api-key': KEY });
    req.on('error', () => undefined);
    req.pause(); // never read
    req.end(grpcMessage(Buffer.alloc(0)));
    await until(() => sent);
    let peak = 0;
    for (const end = Date.now() + 1500; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) peak = Math.max(peak, rssMb(pid) - baseline);
    session.destroy();
    expect(peak).toBeLessThan(30);
  });

  it('an authenticated body that never ends times out (limits.request_body_timeout_ms)', async () => {
    const session = await openSession(stack);
    const out = await h2call(session, '/qdrant.Points/Search', { 'api-key': KEY }, grpcMessage(Buffer.alloc(100)).subarray(0, 50), false);
    session.destroy();
    expect([out.status, out.message]).toEqual([String(grpc.status.DEADLINE_EXCEEDED), 'request body not received in time (limits.request_body_timeout_ms)']);
    expect(out.ms).toBeGreaterThanOrEqual(900);
  });

  it('requests held together stay within limits.max_buffered_request_bytes: past it, RESOURCE_EXHAUSTED at once', async () => {
    const session = await openSession(stack);
    const claim = (mb: number) => {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(mb * 1024 * 1024, 1);
      return prefix;
    };
    const first = h2call(session, '/qdrant.Points/Upsert', { 'api-key': KEY }, claim(100), false); // holds 100 MiB of the 160
    await until(async () => (await held(stack.proxy, 'request_bytes')) === 100 * 1024 * 1024);
    const second = await h2call(session, '/qdrant.Points/Upsert', { 'api-key': KEY }, claim(100), false);
    expect([second.status, second.message]).toEqual([
      String(grpc.status.RESOURCE_EXHAUSTED),
      'the proxy is holding too many request bytes; retry later (limits.max_buffered_request_bytes)',
    ]);
    expect(second.ms).toBeLessThan(500);
    expect((await first).status).toBe(String(grpc.status.DEADLINE_EXCEEDED)); // its body never came
    session.close();
    expect((await list(stack)).code).toBe(0);
    await until(async () => (await held(stack.proxy, 'request_bytes')) === 0); // released when the call ended
  });
});

describe('isolation on the upstream connection', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ service: { api_key: KEY }, log_level: 'WARN' });
    // Health checks take a while upstream, so a dropped client leaves many of them in flight.
    stack.standin.override('/qdrant.Qdrant/HealthCheck', ((_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      started++;
      setTimeout(() => {
        finished++;
        cb(null, Buffer.alloc(0));
      }, 300);
    }) as grpc.UntypedHandleCall);
  });
  let started = 0;
  let finished = 0;
  afterAll(async () => stack?.stop());

  it("a client that opens thousands of calls and drops its connection does not fail another client's calls", async () => {
    let stop = false;
    const failures: string[] = [];
    let done = 0;
    const other = rawClient(stack.proxy.address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
    const steady = (async () => {
      while (!stop) {
        const out = await rawUnary(other, '/qdrant.Collections/List', Buffer.alloc(0), md({ 'api-key': KEY }));
        if (out.code !== 0) failures.push(`${out.code} ${out.details}`);
        done++;
      }
    })();
    for (let round = 0; round < 5; round++) {
      const session = await openSession(stack);
      session.on('error', () => undefined);
      for (let i = 0; i < 900; i++) {
        const req = session.request({ ':method': 'POST', ':path': '/qdrant.Qdrant/HealthCheck', 'content-type': 'application/grpc', te: 'trailers' });
        req.on('error', () => undefined);
        req.end(grpcMessage(Buffer.alloc(0)));
      }
      await new Promise((r) => setTimeout(r, 30)); // the attack: drop the connection 30 ms in
      session.destroy();
      await new Promise((r) => setTimeout(r, 200)); // and again, a little later
    }
    await until(() => started > 0 && finished === started); // every call the upstream got has ended
    stop = true;
    await steady;
    other.close();
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(20);
    expect(stack.proxy.output.filter((l) => l.includes('upstream sent GOAWAY'))).toEqual([]);
  }, 60_000);
});

describe('connection slots free in seconds, whatever the peer does', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      limits: { max_connections: 4, handshake_timeout_ms: 1500, max_connection_idle_ms: 1500, close_grace_ms: 300 },
      log_level: 'WARN',
    });
    stack.client.close(); // its connection would hold a slot
  });
  afterAll(async () => stack?.stop());

  /** Sockets that hold a slot: they never read, never close, and (speaking) send only the preface and SETTINGS. */
  const holdSlots = (n: number, speak: boolean) =>
    Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<Socket>((resolve) => {
            const socket = netConnect({ port: stack.proxy.port, host: '127.0.0.1', allowHalfOpen: true }, () => {
              if (speak) socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
              resolve(socket);
            });
            socket.on('error', () => undefined);
            socket.pause();
          }),
      ),
    );
  const callWorks = async () => {
    const client = rawClient(stack.proxy.address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
    const out = await rawUnary(client, '/qdrant.Collections/List', Buffer.alloc(0), undefined, { deadline: Date.now() + 400 });
    client.close();
    return out.code === 0;
  };

  for (const [what, speak] of [
    ['sockets that never send a byte are closed at the handshake deadline', false],
    ['connections that never open a stream are closed when idle, their sockets destroyed though the peer never reads or closes', true],
  ] as const) {
    it(what, async () => {
      // A connection closed by the client (an earlier test's) may still hold its slot for a moment.
      await until(async () => (await held(stack.proxy, 'connections')) === 0);
      const sockets = await holdSlots(4, speak);
      await until(async () => (await held(stack.proxy, 'connections')) === 4);
      expect(await callWorks()).toBe(false); // every slot is taken
      const started = Date.now();
      await until(callWorks, 6000);
      expect(Date.now() - started).toBeLessThan(4000);
      for (const socket of sockets) socket.destroy();
      await until(callWorks, 3000);
    });
  }
});

describe('parsing as Qdrant parses', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ service: { api_key: KEY, jwt_rbac: true }, log_level: 'WARN' });
  });
  afterAll(async () => stack?.stop());
  const bearer = (token: string) => md({ authorization: `Bearer ${token}` });

  it('a collection name keeps its byte-order mark (prost does): "\\uFEFFalpha" is not "alpha"', async () => {
    const token = await hs256({ access: [{ collection: 'alpha', access: 'r' }] }, KEY);
    const before = stack.standin.calls.length;
    const count = await rawUnary(stack.client, '/qdrant.Points/Count', encode('/qdrant.Points/Count', { collection_name: '\uFEFFalpha' }), bearer(token));
    expect([count.code, count.details]).toEqual([7, 'Forbidden: Access to collection \uFEFFalpha is required']);
    const lookup = await rawUnary(
      stack.client,
      '/qdrant.Points/Recommend',
      encode('/qdrant.Points/Recommend', { collection_name: 'alpha', lookup_from: { collection_name: '\uFEFFalpha' } }),
      bearer(token),
    );
    expect([lookup.code, lookup.details]).toEqual([7, 'Forbidden: Access to collection \uFEFFalpha is required']);
    expect(forwardedSince(stack.standin, before)).toEqual([]);
  });

  it('signed tokens Qdrant refuses are refused: a repeated field, exp 1e20 or 5.0', async () => {
    for (const payload of [
      '{"access":[{"collection":"alpha","access":"r"}],"access":"m"}',
      '{"exp":1e20}',
      `{"exp":${Math.floor(Date.now() / 1000) + 60}.0}`,
      '{"access":[{"collection":"alpha","collection":"beta","access":"rw"}]}',
    ]) {
      const out = await list(stack, bearer(rawHs256(payload, KEY)));
      expect([out.code, out.details], payload).toEqual([16, 'Invalid API key or JWT']);
    }
  });

  it('the compressed flag is honoured as tonic does', async () => {
    const session = await openSession(stack);
    const body = Buffer.alloc(3, 1);
    const noEncoding = await h2call(session, '/qdrant.Collections/List', { 'api-key': KEY }, grpcMessage(body, 1));
    const identity = await h2call(session, '/qdrant.Collections/List', { 'api-key': KEY, 'grpc-encoding': 'identity' }, grpcMessage(body, 1));
    const badFlag = await h2call(session, '/qdrant.Collections/List', { 'api-key': KEY }, grpcMessage(body, 2));
    const deflate = await h2call(session, '/qdrant.Collections/List', { 'api-key': KEY, 'grpc-encoding': 'deflate' }, grpcMessage(body, 1));
    session.close();
    const noFlagMessage = 'protocol error: received message with compressed-flag but no grpc-encoding was specified';
    expect([noEncoding.status, noEncoding.message]).toEqual(['13', noFlagMessage]);
    expect([identity.status, identity.message]).toEqual(['13', noFlagMessage]);
    expect([badFlag.status, badFlag.message]).toEqual([
      '13',
      'protocol error: received message with invalid compression flag: 2 (valid flags are 0 and 1), while sending request',
    ]);
    expect([deflate.status, deflate.message, deflate.headers['grpc-accept-encoding']]).toEqual([
      '12',
      "Content is compressed with `deflate` which isn't supported",
      'gzip,identity',
    ]);
  });

  it('two api-key headers are two credentials: different ones conflict, equal ones count once', async () => {
    const two = new grpc.Metadata();
    two.add('api-key', KEY);
    two.add('api-key', 'another');
    expect(await list(stack, two)).toMatchObject({ code: 16, details: 'Conflicting credentials: send one API key or token per call' });
    const same = new grpc.Metadata();
    same.add('api-key', KEY);
    same.add('api-key', KEY);
    expect((await list(stack, same)).code).toBe(0);
  });

  it('messages keep a collection name as it is, replacement patterns included', async () => {
    const token = await hs256({ access: [{ collection: 'alpha', access: 'r' }] }, KEY);
    for (const name of ['a$&b', "a$'b", 'a$`b', 'a$1b']) {
      const out = await rawUnary(stack.client, '/qdrant.Points/Count', encode('/qdrant.Points/Count', { collection_name: name }), bearer(token));
      expect(out.details).toBe(`Forbidden: Access to collection ${name} is required`);
    }
  });

  it('a value_exists integer beyond 2^53 is looked up exactly as written', async () => {
    const token = rawHs256('{"access":"r","value_exists":{"collection":"people","matches":[{"key":"uid","value":1234567890123456789}]}}', KEY);
    const before = stack.standin.calls.length;
    await list(stack, bearer(token));
    const scroll = stack.standin.calls.slice(before).find((c) => c.path === '/qdrant.Points/Scroll')!;
    const request = api.methods.get('/qdrant.Points/Scroll')!.request!.decode(scroll.request) as {
      filter: { must: { field: { match: { integer: string } } }[] };
    };
    expect(request.filter.must[0]!.field.match.integer).toBe('1234567890123456789');
  });
});

describe('a reload while a call waits', () => {
  const FIRST = 'hardening-first-key';
  const SECOND = 'hardening-second-key';
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ service: { api_key: FIRST, jwt_rbac: true }, auth: { value_exists_cache_ttl_seconds: 0 }, log_level: 'INFO' });
  });
  afterAll(async () => stack?.stop());

  it('a call waiting on its value_exists look-up when SIGHUP rotates api_key is decided under the new key', async () => {
    let release: () => void = () => undefined;
    const scrollReply = api.methods.get('/qdrant.Points/Scroll')!.response!.encode({ result: [{ id: { num: 1 } }] });
    overrideForTest(stack.standin, '/qdrant.Points/Scroll', ((_call: unknown, cb: grpc.sendUnaryData<Buffer>) => {
      release = () => cb(null, scrollReply);
    }) as grpc.UntypedHandleCall);
    const token = await hs256({ access: 'r', value_exists: { collection: 'users', matches: [{ key: 'user', value: 'alice' }] } }, FIRST);
    const before = stack.standin.calls.length;
    const pending = list(stack, md({ authorization: `Bearer ${token}` }));
    await until(() => stack.standin.calls.slice(before).some((c) => c.path === '/qdrant.Points/Scroll'));

    writeFileSync(
      stack.proxy.configFile,
      stringify({
        log_level: 'INFO',
        service: { host: '127.0.0.1', grpc_port: 0, api_key: SECOND, jwt_rbac: true },
        auth: { value_exists_cache_ttl_seconds: 0 },
        metrics: { port: 0 },
        upstream: upstreamConfig(stack.certs, stack.standin.port),
      }),
    );
    stack.proxy.process.kill('SIGHUP');
    await stack.proxy.waitForLine(/config reloaded/);
    release();
    expect(await pending).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'InvalidSignature' });
  });
});

describe('health Watch streams', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ limits: { max_health_watch_streams: 2 }, log_level: 'WARN' });
  });
  afterAll(async () => stack?.stop());

  it('are capped (limits.max_health_watch_streams): anyone may open one', async () => {
    const session = await openSession(stack);
    // The first two are served: each gets its first status message.
    await Promise.all(
      [0, 1].map(
        () =>
          new Promise<void>((resolve) => {
            const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Watch', 'content-type': 'application/grpc', te: 'trailers' });
            req.on('error', () => undefined);
            req.once('data', () => resolve());
            req.end(grpcMessage(Buffer.alloc(0)));
          }),
      ),
    );
    const third = await h2call(session, '/grpc.health.v1.Health/Watch', {}, grpcMessage(Buffer.alloc(0)));
    expect([third.status, third.message]).toEqual([String(grpc.status.RESOURCE_EXHAUSTED), 'too many health Watch streams (limits.max_health_watch_streams)']);
    session.destroy();
  });
});
