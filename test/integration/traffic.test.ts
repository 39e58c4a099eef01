// The traffic policy through the real binary: source-address rules (at accept, before TLS, and
// per call with trusted proxies), rate and concurrency limits (local, and shared through a real
// redis-server by two proxy processes), the fallback when Redis is away, and shadow mode.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, hashKey } from '../../src/auth/named-keys/key-format.js';
import type { Standin } from '../../src/standin/standin-server.js';
import { RedisLimits } from '../../src/traffic/redis-limits.js';
import { testCerts } from '../helpers/certs.js';
import { overrideForTest, startStack, startStandinMtls, upstreamConfig } from '../helpers/proxy-stack.js';
import { md, rawClient, rawUnary } from '../helpers/raw-client.js';
import { freePort, type RunningRedis, startRedis } from '../helpers/redis.js';
import { type RunningProxy, startProxy } from '../helpers/start-proxy.js';
import { until } from '../helpers/wait.js';

const KEY = 'traffic-test-master-key-0123456789';
const READ_KEY = 'traffic-test-read-only-key-0123456789';
const LIST = '/qdrant.Collections/List';
const get = async (port: number, path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
const list = (client: grpc.Client, metadata: Record<string, string>) => rawUnary(client, LIST, Buffer.alloc(0), md(metadata));

/** Sends `perSecond` calls a second for `seconds` (paced, not waiting for answers); the codes of all of them. */
async function paced(
  send: () => Promise<{ code: number }>,
  perSecond: number,
  seconds: number,
): Promise<{ codes: number[]; sendingS: number; elapsedS: number }> {
  const pending: Promise<{ code: number }>[] = [];
  const start = performance.now();
  for (let i = 0; i < perSecond * seconds; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the load, not waiting for an event
    pending.push(send());
  }
  const sendingS = (performance.now() - start) / 1000;
  const codes = (await Promise.all(pending)).map((o) => o.code);
  // Calls sent late may be decided after they were sent: up to the last answer bounds the refill time.
  return { codes, sendingS, elapsedS: (performance.now() - start) / 1000 };
}

describe('source addresses', () => {
  it('a connection from outside service.allowed_source_ranges is closed at accept, before TLS', async () => {
    const certs = testCerts();
    const stack = await startStack({
      service: { api_key: KEY, allowed_source_ranges: ['10.0.0.0/8'], enable_tls: true },
      tls: { cert: certs.path('server.pem'), key: certs.path('server-key.pem') },
    });
    try {
      // Raw TCP: closed without a byte of the TLS handshake.
      const bytes = await new Promise<number>((resolve, reject) => {
        let received = 0;
        const socket = connect(stack.proxy.port, '127.0.0.1', () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05])));
        socket.on('data', (d) => (received += d.length));
        socket.on('close', () => resolve(received));
        socket.on('error', () => undefined);
        setTimeout(() => reject(new Error('not closed')), 5000).unref();
      });
      expect(bytes).toBe(0);
      await stack.proxy.waitForLine(/connection refused: outside service.allowed_source_ranges/);
    } finally {
      await stack.stop();
    }
  });

  it('behind a trusted proxy the reported client counts; from any other peer the header has no effect', async () => {
    const stack = await startStack({ service: { api_key: KEY, allowed_source_ranges: ['10.0.0.0/8'], trusted_proxies: ['127.0.0.1/32'] } });
    try {
      expect((await list(stack.client, { 'api-key': KEY, 'x-forwarded-for': '10.1.2.3' })).code).toBe(0);
      expect(await list(stack.client, { 'api-key': KEY, 'x-forwarded-for': '192.168.1.1' })).toMatchObject({
        code: 7,
        details: 'Forbidden: calls from this address are not allowed',
      });
      // The load balancer writes X-Forwarded-For (service.forwarded_header): a Forwarded header is the client's own.
      expect((await list(stack.client, { 'api-key': KEY, forwarded: 'for=10.4.4.4', 'x-forwarded-for': '192.168.1.1' })).code).toBe(7);
    } finally {
      await stack.stop();
    }
    const rfc7239 = await startStack({
      service: { api_key: KEY, allowed_source_ranges: ['10.0.0.0/8'], trusted_proxies: ['127.0.0.1/32'], forwarded_header: 'forwarded' },
    });
    try {
      expect((await list(rfc7239.client, { 'api-key': KEY, forwarded: 'for="[2001:db8::1]:443", for=10.4.4.4' })).code).toBe(0);
      expect((await list(rfc7239.client, { 'api-key': KEY, forwarded: 'for=192.168.1.1', 'x-forwarded-for': '10.4.4.4' })).code).toBe(7);
    } finally {
      await rfc7239.stop();
    }
    // No trusted proxy: a forwarded 10.x from the loopback peer is not believed.
    const direct = await startStack({
      service: { api_key: KEY, allowed_source_ranges: ['127.0.0.0/8'] },
      auth: { client_cert_identities: {} },
    });
    try {
      expect((await list(direct.client, { 'api-key': KEY, 'x-forwarded-for': '192.168.1.1' })).code).toBe(0);
    } finally {
      await direct.stop();
    }
  });
});

describe("an identity's own ranges", () => {
  it('a named key used from outside its allowed_source_ranges is refused and audited; one used from inside works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qap-traffic-keys-'));
    const [remote, local] = [createKey('remote-only'), createKey('local-only')];
    writeFileSync(
      join(dir, 'keys.yaml'),
      `keys:\n  - {id: remote-only, hash: ${hashKey(remote)}, access: r, allowed_source_ranges: [10.0.0.0/8]}\n` +
        `  - {id: local-only, hash: ${hashKey(local)}, access: r, allowed_source_ranges: ["127.0.0.1", "::1"], rate_limit: {calls_per_second: 100}}\n`,
    );
    const stack = await startStack({
      service: { api_key: KEY },
      auth: { keys_file: join(dir, 'keys.yaml') },
      audit: { enabled: true, dir: join(dir, 'audit') },
    });
    try {
      expect(await list(stack.client, { 'api-key': remote })).toMatchObject({
        code: 7,
        details: 'Forbidden: this credential may not be used from this address',
      });
      expect(await list(stack.client, { 'api-key': remote, 'x-forwarded-for': '10.1.1.1' })).toMatchObject({ code: 7 }); // no trusted proxy: not believed
      expect((await list(stack.client, { 'api-key': local })).code).toBe(0);
      await until(
        () => readdirSync(join(dir, 'audit')).some((f) => readFileSync(join(dir, 'audit', f), 'utf8').includes('may not be used from this address')),
        10_000,
        'the refusal audited',
      );
      const record = readdirSync(join(dir, 'audit'))
        .flatMap((f) =>
          readFileSync(join(dir, 'audit', f), 'utf8')
            .trim()
            .split('\n'),
        )
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((r) => r.result === 'denied');
      expect(record).toMatchObject({ key_id: 'remote-only', remote: '127.0.0.1', code: 7 });
    } finally {
      await stack.stop();
    }
  });
});

describe('rate and concurrency limits', () => {
  it('over 5 s at twice the limit, the admitted rate is the limit (±10%), and the refusal names it', async () => {
    const stack = await startStack({ service: { api_key: KEY }, rate_limits: { default: { calls_per_second: 40, burst: 4 } } });
    try {
      const { codes, sendingS, elapsedS } = await paced(() => list(stack.client, { 'api-key': KEY }), 80, 5);
      const admitted = codes.filter((c) => c === 0).length;
      expect(admitted).toBeGreaterThan((40 * sendingS + 4) * 0.9);
      expect(admitted).toBeLessThan((40 * elapsedS + 4) * 1.1);
      expect(codes.every((c) => c === 0 || c === 8)).toBe(true);
      expect(await list(stack.client, { 'api-key': KEY })).toMatchObject({
        code: 8,
        details: 'rate limit exceeded: 40 calls per second (burst 4) per identity, from rate_limits.default',
      });
      const metrics = await get(stack.proxy.metricsPort!, '/metrics');
      expect(metrics).toMatch(/qdrant_auth_proxy_traffic_refusals_total\{rule="calls_per_second",class="manage",mode="enforce"\} [1-9]/);
    } finally {
      await stack.stop();
    }
  });

  it("the proxy's own services pass the same rules: gRPC health checks by address and limit", async () => {
    const stack = await startStack({
      service: { api_key: KEY, allowed_source_ranges: ['127.0.0.0/8'], trusted_proxies: ['127.0.0.1/32'] },
      rate_limits: { classes: { anonymous: { calls_per_second: 0.01, burst: 1 } } },
    });
    try {
      const check = (metadata: Record<string, string>) => rawUnary(stack.client, '/grpc.health.v1.Health/Check', Buffer.alloc(0), md(metadata));
      expect(await check({ 'x-forwarded-for': '192.168.7.7' })).toMatchObject({ code: 7, details: 'Forbidden: calls from this address are not allowed' });
      expect((await check({})).code).toBe(0);
      expect(await check({})).toMatchObject({ code: 8, details: expect.stringContaining('from rate_limits.classes.anonymous') });
    } finally {
      await stack.stop();
    }
  });

  it('calls in flight past max_in_flight are refused at once; their places come back when they end', async () => {
    const stack = await startStack({ service: { api_key: KEY }, rate_limits: { identities: { 'apikey:manage': { max_in_flight: 2 } } } });
    try {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      overrideForTest(stack.standin, LIST, ((call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        void call;
        void gate.then(() => cb(null, Buffer.alloc(0)));
      }) as grpc.UntypedHandleCall);
      const first = list(stack.client, { 'api-key': KEY });
      const second = list(stack.client, { 'api-key': KEY });
      await until(() => stack.standin.calls.filter((c) => c.path === LIST).length >= 2, 5000, 'two calls upstream');
      expect(await list(stack.client, { 'api-key': KEY })).toMatchObject({
        code: 8,
        details: 'too many calls in flight: 2 calls in flight per identity, from rate_limits.identities.apikey:manage',
      });
      release();
      expect([(await first).code, (await second).code]).toEqual([0, 0]);
      expect((await list(stack.client, { 'api-key': KEY })).code).toBe(0);
    } finally {
      await stack.stop();
    }
  });
});

describe('limits shared through Redis', () => {
  let redis: RunningRedis;
  let standin: Standin;
  const proxies: RunningProxy[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    standin = await startStandinMtls(testCerts());
  });
  afterAll(async () => {
    for (const p of proxies) await p.stop();
    await standin?.close();
    await redis?.stop();
  });
  // A check slower than redis_timeout_ms is decided by each process's local limits (by design), which
  // would double the admitted rate: the shared-limit test gives a loaded CI machine ample time.
  const proxyWith = async (redisUrl: string, redisTimeoutMs = 200) => {
    const proxy = await startProxy({
      service: { api_key: KEY },
      upstream: upstreamConfig(testCerts(), standin.port),
      rate_limits: { default: { calls_per_second: 40, burst: 4 }, redis_url: redisUrl, redis_timeout_ms: redisTimeoutMs },
    });
    proxies.push(proxy);
    return proxy;
  };

  it('two proxy processes share one limit: at twice the limit split over both, the admitted rate is the limit (±10%)', async () => {
    const [a, b] = [await proxyWith(redis.url, 5000), await proxyWith(redis.url, 5000)];
    const [ca, cb] = [rawClient(a.address), rawClient(b.address)];
    try {
      const [ra, rb] = await Promise.all([paced(() => list(ca, { 'api-key': KEY }), 40, 5), paced(() => list(cb, { 'api-key': KEY }), 40, 5)]);
      for (const proxy of [a, b]) {
        const metrics = await get(proxy.metricsPort!, '/metrics');
        expect(metrics).toMatch(/qdrant_auth_proxy_rate_limit_store\{store="redis"\} 1/);
        expect(metrics).toMatch(/qdrant_auth_proxy_rate_limit_redis_seconds_count\{result="ok"\} [1-9]/);
        expect(metrics).not.toMatch(/qdrant_auth_proxy_rate_limit_redis_seconds_count\{result="error"\} [1-9]/);
      }
      const admitted = [...ra.codes, ...rb.codes].filter((c) => c === 0).length;
      expect(admitted).toBeGreaterThan((40 * Math.max(ra.sendingS, rb.sendingS) + 4) * 0.9);
      expect(admitted).toBeLessThan((40 * Math.max(ra.elapsedS, rb.elapsedS) + 4) * 1.1);
    } finally {
      ca.close();
      cb.close();
    }
  });

  it('serving starts once Redis is connected: the first call is already decided by Redis, on a slow connect', async () => {
    // A relay that takes 2 s to reach Redis (as a slow network would; the proxy's connect timeout
    // is 5 s): a proxy that served before its first connection was up would decide its first calls
    // locally. The relay records when it starts forwarding: the proxy may only listen after that.
    let forwardingSince = Number.POSITIVE_INFINITY;
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      sockets.add(client);
      client.pause();
      const timer = setTimeout(() => {
        const server = connect(redis.port, '127.0.0.1', () => {
          forwardingSince = Math.min(forwardingSince, performance.now());
          client.pipe(server).pipe(client);
          client.resume();
        });
        sockets.add(server);
        server.on('error', () => client.destroy());
      }, 2000);
      client.on('error', () => undefined);
      client.on('close', () => clearTimeout(timer));
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    try {
      const proxy = await proxyWith(`redis://127.0.0.1:${(relay.address() as AddressInfo).port}`, 5000);
      expect(performance.now()).toBeGreaterThan(forwardingSince);
      const client = rawClient(proxy.address);
      try {
        expect((await list(client, { 'api-key': KEY })).code).toBe(0);
        const metrics = await get(proxy.metricsPort!, '/metrics');
        expect(metrics).toMatch(/qdrant_auth_proxy_rate_limit_redis_seconds_count\{result="ok"\} 1\n/);
        expect(metrics).not.toMatch(/qdrant_auth_proxy_rate_limit_redis_seconds_count\{result="error"\} [1-9]/);
        expect(metrics).toMatch(/qdrant_auth_proxy_rate_limit_store\{store="redis"\} 1/);
      } finally {
        client.close();
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => relay.close(r));
    }
  });

  it('with Redis unreachable each process applies the limit on its own (never unlimited, never refusing everyone), and says so', async () => {
    const proxy = await proxyWith(`redis://127.0.0.1:${await freePort()}`);
    const client = rawClient(proxy.address);
    try {
      const codes: number[] = [];
      for (let i = 0; i < 20; i++) codes.push((await list(client, { 'api-key': KEY })).code);
      expect(codes.filter((c) => c === 0).length).toBeGreaterThanOrEqual(4);
      expect(codes.filter((c) => c === 8).length).toBeGreaterThan(0);
      await proxy.waitForLine(/rate limits: Redis does not answer/);
      expect(await get(proxy.metricsPort!, '/metrics')).toMatch(/qdrant_auth_proxy_rate_limit_store\{store="local"\} 1/);
    } finally {
      client.close();
    }
  });
});

describe('a Redis that hangs', () => {
  it('checks that time out give back the places they would take; meanwhile Redis is skipped, no call waits on it', async () => {
    const hung = await startRedis();
    const limits = new RedisLimits({ url: hung.url, timeoutMs: 100, keyPrefix: 'hang:', leaseMs: 600_000, observe: () => undefined });
    const admin = new Redis(hung.url);
    const limit = { callsPerSecond: null, burst: null, maxInFlight: 3 };
    try {
      let ok: Awaited<ReturnType<RedisLimits['take']>> = null;
      await until(
        async () => {
          ok = await limits.take('apikey:manage', limit, 1);
          return ok !== null;
        },
        10_000,
        'Redis connected',
      );
      const first = ok as Awaited<ReturnType<RedisLimits['take']>>;
      if (first?.ok) first.release();
      await until(async () => (await admin.zcard('hang:f:apikey:manage')) === 0, 5000, 'the first place given back');
      hung.pause();
      expect(await Promise.all([1, 2, 3].map(() => limits.take('apikey:manage', limit, 1)))).toEqual([null, null, null]);
      const started = performance.now();
      expect(await limits.take('apikey:manage', limit, 1)).toBeNull();
      expect(performance.now() - started).toBeLessThan(50); // skipped, not waited on
      hung.resume();
      // The three checks run late in Redis, then the releases sent after them: no place is left held.
      await until(async () => (await admin.zcard('hang:f:apikey:manage')) === 0 && (await admin.exists('hang:f:apikey:manage')) === 0, 5000, 'no lease left');
    } finally {
      admin.disconnect();
      limits.close();
      await hung.stop();
    }
  });
});

describe('shadow mode', () => {
  it('admits everything and audits exactly the calls enforce mode refuses (same call sequence)', async () => {
    const sequence = [
      { 'api-key': KEY },
      { 'api-key': READ_KEY, write: 'yes' }, // the access table refuses a write with the read-only key
      { 'api-key': KEY, 'x-forwarded-for': '192.168.9.9' }, // outside the allowed ranges (via the trusted loopback)
      { 'api-key': KEY },
      { 'api-key': KEY }, // the third manage call within the burst of 2: over the limit
      { 'api-key': READ_KEY },
    ];
    const run = async (mode: 'enforce' | 'shadow') => {
      const dir = mkdtempSync(join(tmpdir(), `qap-shadow-${mode}-`));
      const stack = await startStack({
        service: { api_key: KEY, read_only_api_key: READ_KEY, allowed_source_ranges: ['127.0.0.0/8'], trusted_proxies: ['127.0.0.1/32'] },
        rate_limits: { identities: { 'apikey:manage': { calls_per_second: 0.001, burst: 2 } } },
        policy_mode: { access: mode, addresses: mode, limits: mode },
        audit: { enabled: true, dir },
      });
      const codes: number[] = [];
      try {
        for (const [i, entry] of sequence.entries()) {
          const { write, ...metadata } = entry as unknown as Record<string, string>;
          const path = write ? '/qdrant.Collections/Delete' : LIST;
          codes.push((await rawUnary(stack.client, path, Buffer.alloc(0), md({ ...metadata, 'x-request-id': `call-${i}` }))).code);
        }
      } finally {
        await stack.stop();
      }
      const records = readdirSync(dir).flatMap((f) =>
        readFileSync(join(dir, f), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { tracing_id: string; result: string; error?: string }),
      );
      return { codes, records };
    };
    const enforce = await run('enforce');
    const shadow = await run('shadow');
    const refused = enforce.records.filter((r) => r.result === 'denied').map((r) => r.tracing_id);
    expect(refused).toEqual(['call-1', 'call-2', 'call-4']);
    expect(shadow.codes.filter((c) => c === 7 || c === 8)).toEqual([]);
    expect(shadow.records.filter((r) => r.result === 'shadow_denied').map((r) => r.tracing_id)).toEqual(refused);
    for (const id of refused) expect(shadow.records.find((r) => r.tracing_id === id)!.error).toBe(enforce.records.find((r) => r.tracing_id === id)!.error);
  });
});
