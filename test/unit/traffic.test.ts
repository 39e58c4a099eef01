import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfig } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';
import { ProxyError } from '../../src/errors.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';
import { AddressRanges, parseRange } from '../../src/traffic/address-ranges.js';
import { clientAddress, forwardedHops } from '../../src/traffic/client-address.js';
import { Limiter } from '../../src/traffic/limiter.js';
import { LocalLimits } from '../../src/traffic/local-limits.js';
import { identityOf, ShadowRefusal, TrafficPolicy } from '../../src/traffic/traffic-policy.js';

describe('address ranges', () => {
  it('IPv4, IPv6, single addresses; IPv4-mapped IPv6 matches as IPv4', () => {
    const r = new AddressRanges(['10.0.0.0/8', '2001:db8::/32', '192.168.1.7']);
    expect(r.has('10.255.0.1')).toBe(true);
    expect(r.has('::ffff:10.1.2.3')).toBe(true);
    expect(r.has('11.0.0.1')).toBe(false);
    expect(r.has('2001:db8:1::5')).toBe(true);
    expect(r.has('2001:db9::1')).toBe(false);
    expect(r.has('192.168.1.7')).toBe(true);
    expect(r.has('192.168.1.8')).toBe(false);
    expect(r.has('not an address')).toBe(false);
    expect(r.has(null)).toBe(false);
    expect(new AddressRanges(['0.0.0.0/0']).has('8.8.8.8')).toBe(true);
    // An IPv6 range never admits an IPv4 address (node's BlockList would, in mapped form).
    expect(new AddressRanges(['::/0']).has('10.1.2.3')).toBe(false);
    expect(new AddressRanges(['::/0']).has('2001:db8::1')).toBe(true);
  });

  it.each([
    ['10.0.0.0/33', 'the prefix length must be 0-32'],
    ['2001:db8::/129', 'the prefix length must be 0-128'],
    ['10.0.0.0/', 'the prefix length must be 0-32'],
    ['10.0.0/8', 'not an IPv4 or IPv6 address'],
    ['example.com', 'not an IPv4 or IPv6 address'],
    ['10.0.0.0/-1', 'the prefix length'],
  ])('%s is refused: %s', (range, message) => {
    expect(() => parseRange(range)).toThrow(message);
  });
});

describe('client address', () => {
  const trusted = new AddressRanges(['10.9.0.0/16']);
  const md = (entries: Record<string, string>) => RequestMetadata.of(entries);

  it('the TCP peer, unless it is a trusted proxy: then the rightmost hop that is not one', () => {
    expect(clientAddress('203.0.113.5', md({ 'x-forwarded-for': '198.51.100.1' }), trusted)).toBe('203.0.113.5'); // untrusted peer: header ignored
    expect(clientAddress('10.9.0.1', md({ 'x-forwarded-for': '198.51.100.1, 10.9.0.2' }), trusted)).toBe('198.51.100.1');
    expect(clientAddress('10.9.0.1', md({ 'x-forwarded-for': '6.6.6.6, 198.51.100.1' }), trusted)).toBe('198.51.100.1'); // a spoofed left part is not reached
    expect(clientAddress('10.9.0.1', md({}), trusted)).toBe('10.9.0.1');
    expect(clientAddress('::ffff:10.9.0.1', md({ 'x-forwarded-for': '198.51.100.1' }), trusted)).toBe('198.51.100.1');
    expect(clientAddress('10.9.0.1', md({ 'x-forwarded-for': 'unknown' }), trusted)).toBeNull();
    expect(clientAddress(null, md({}), trusted)).toBeNull();
  });

  it('Forwarded: for= with quotes, ports and IPv6 brackets; X-Forwarded-For with ports', () => {
    expect(forwardedHops(md({ forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"' }), 'forwarded')).toEqual([
      '192.0.2.60',
      '2001:db8:cafe::17',
    ]);
    expect(forwardedHops(md({ forwarded: 'For="192.0.2.1:8080"' }), 'forwarded')).toEqual(['192.0.2.1']);
    expect(forwardedHops(md({ forwarded: 'for=_hidden, by=x' }), 'forwarded')).toEqual([null, null]);
    expect(forwardedHops(md({ 'x-forwarded-for': '1.2.3.4:99, [::1]:5, garbage' }), 'x-forwarded-for')).toEqual(['1.2.3.4', '::1', null]);
  });

  it("only service.forwarded_header is read: the other is the client's to forge", () => {
    const both = md({ forwarded: 'for=10.20.9.9', 'x-forwarded-for': '192.168.1.1' });
    expect(clientAddress('10.9.0.1', both, trusted)).toBe('192.168.1.1');
    expect(clientAddress('10.9.0.1', both, trusted, 'forwarded')).toBe('10.20.9.9');
    expect(clientAddress('10.9.0.1', md({ forwarded: 'for=10.20.9.9' }), trusted)).toBe('10.9.0.1');
  });
});

describe('local limits', () => {
  it('a token bucket: the burst at once, then the rate; weights cost more', () => {
    const limits = new LocalLimits(100);
    const limit = { callsPerSecond: 10, burst: 5, maxInFlight: null };
    let now = 0;
    const admitted = (n: number, weight = 1) => Array.from({ length: n }, () => limits.take('a', limit, weight, now).ok).filter(Boolean).length;
    expect(admitted(10)).toBe(5);
    now += 1000; // 10 more tokens, capped at the burst of 5
    expect(admitted(10)).toBe(5);
    now += 500;
    expect(admitted(1, 5)).toBe(1);
    expect(admitted(1)).toBe(0);
    // Over 10 s at twice the rate, exactly the rate (plus the initial burst) gets through.
    const l2 = new LocalLimits(100);
    let count = 0;
    for (let t = 0; t < 10_000; t += 50) if (l2.take('b', limit, 1, t).ok) count++;
    expect(count).toBe(5 + 99);
  });

  it('calls in flight: refused past the limit, given back once (a second release is nothing)', () => {
    const limits = new LocalLimits(100);
    const limit = { callsPerSecond: null, burst: null, maxInFlight: 2 };
    const a = limits.take('x', limit, 1, 0);
    const b = limits.take('x', limit, 1, 0);
    expect(limits.take('x', limit, 1, 0)).toEqual({ ok: false, limit: 'max_in_flight' });
    if (!a.ok || !b.ok) throw new Error('admitted');
    a.release();
    a.release();
    expect(limits.take('x', limit, 1, 0).ok).toBe(true);
    expect(limits.take('x', limit, 1, 0).ok).toBe(false);
  });

  it("an identity's calls in flight survive its bucket's eviction (a flood of other identities cannot reset them)", () => {
    const limits = new LocalLimits(100);
    const limit = { callsPerSecond: 1000, burst: null, maxInFlight: 1 };
    expect(limits.take('busy', limit, 1, 0).ok).toBe(true);
    for (let i = 0; i < 200; i++) limits.take(`addr:10.0.0.${i}`, limit, 1, 0);
    expect(limits.take('busy', limit, 1, 1)).toEqual({ ok: false, limit: 'max_in_flight' });
  });

  it('time that goes backwards neither refills nor stalls a bucket; a bucket is at least one call deep', () => {
    const limits = new LocalLimits(100);
    const limit = { callsPerSecond: 10, burst: 1, maxInFlight: null };
    expect(limits.take('t', limit, 1, 60_000).ok).toBe(true);
    expect(limits.take('t', limit, 1, 0).ok).toBe(false);
    expect(limits.take('t', limit, 1, 200).ok).toBe(true);
    const slow = { callsPerSecond: 0.5, burst: null, maxInFlight: null };
    expect(limits.take('s', slow, 1, 0).ok).toBe(true);
    expect(limits.take('s', slow, 1, 1000).ok).toBe(false);
    expect(limits.take('s', slow, 1, 2000).ok).toBe(true);
    // A weight above the bucket's depth costs the depth: it waits for a full bucket, never forever.
    expect(limits.take('w', { callsPerSecond: 2, burst: null, maxInFlight: null }, 5, 0).ok).toBe(true);
  });

  it('100,000 distinct identities stay within max_identities', () => {
    const limits = new LocalLimits(10_000);
    const limit = { callsPerSecond: 1, burst: null, maxInFlight: null };
    for (let i = 0; i < 100_000; i++) limits.take(`sub:user-${i}`, limit, 1, i);
    expect(limits.size).toBe(10_000);
  });
});

describe('traffic policy', () => {
  const silent = pino({ level: 'silent' });
  const policyOf = (raw: object) => {
    const config = parseConfig(raw);
    return new TrafficPolicy(config, new Limiter({ maxIdentities: 1000, redis: null, logger: silent, now: () => 0 }));
  };
  const principal = (extra: Partial<Principal> & { access?: 'manage' | 'read' }): Principal => ({ access: 'read', authType: 'ApiKey', ...extra }) as Principal;
  const call = (peer: string, metadata: Record<string, string> = {}) => ({ peer, metadata: RequestMetadata.of(metadata) });

  it('names each identity', () => {
    expect(identityOf(principal({ keyId: 'svc-a', subject: 'svc-a' }), '1.2.3.4')).toBe('key:svc-a');
    expect(identityOf(principal({ authType: 'Jwt', subject: 'alice' }), null)).toBe('sub:alice');
    expect(identityOf(principal({ authType: 'Jwt', tokenId: 'abc' }), null)).toBe('token:abc');
    expect(identityOf(principal({ authType: 'Jwt', provider: 'kc', subject: 'bob' }), null)).toBe('idp:kc:bob');
    expect(identityOf(principal({ authType: 'Certificate', subject: 'svc.example' }), null)).toBe('cert:svc.example');
    expect(identityOf(principal({ access: 'manage' }), null)).toBe('apikey:manage');
    expect(identityOf(null, '10.0.0.1')).toBe('addr:10.0.0.1');
  });

  it('the most specific limit applies: identity, then its key, then its class, then the default', async () => {
    const p = policyOf({
      rate_limits: {
        default: { calls_per_second: 1000 },
        classes: { read: { calls_per_second: 100 } },
        identities: { 'sub:alice': { calls_per_second: 1, burst: 1 } },
      },
    });
    const refusal = async (who: Principal) => {
      try {
        for (let i = 0; i < 2000; i++) (await p.admit(who, call('127.0.0.1:1'), '/qdrant.Points/Count'))();
        return null;
      } catch (err) {
        return (err as ProxyError).message;
      }
    };
    expect(await refusal(principal({ authType: 'Jwt', subject: 'alice' }))).toBe(
      'rate limit exceeded: 1 calls per second (burst 1) per identity, from rate_limits.identities.sub:alice',
    );
    expect(await refusal(principal({ authType: 'Jwt', subject: 'bob' }))).toBe(
      'rate limit exceeded: 100 calls per second (burst 100) per identity, from rate_limits.classes.read',
    );
    expect(await refusal(principal({ keyId: 'k', subject: 'k', rateLimit: { callsPerSecond: 3, burst: null, maxInFlight: null } }))).toBe(
      "rate limit exceeded: 3 calls per second (burst 3) per identity, from key k's rate_limit",
    );
    expect(await refusal(principal({ access: 'manage' }))).toBe(
      'rate limit exceeded: 1000 calls per second (burst 1000) per identity, from rate_limits.default',
    );
  });

  it('method weights: a heavy call takes more of the bucket', async () => {
    const p = policyOf({ rate_limits: { default: { calls_per_second: 10 }, method_weights: { 'qdrant.Points/Upsert': 5 } } });
    const who = principal({ authType: 'Jwt', subject: 'w' });
    (await p.admit(who, call('127.0.0.1:1'), '/qdrant.Points/Upsert'))();
    (await p.admit(who, call('127.0.0.1:1'), '/qdrant.Points/Upsert'))();
    await expect(Promise.resolve().then(() => p.admit(who, call('127.0.0.1:1'), '/qdrant.Points/Count'))).rejects.toThrow(ProxyError);
  });

  it('addresses: the global list, then the identity ranges; shadow mode reports instead of refusing', () => {
    const p = policyOf({ service: { allowed_source_ranges: ['10.0.0.0/8'], trusted_proxies: ['127.0.0.1'] } });
    expect(p.acceptsConnection('127.0.0.1')).toBe(true); // a trusted proxy connects for its clients
    expect(p.acceptsConnection('192.168.0.1')).toBe(false);
    expect(p.acceptsConnection('::ffff:10.1.1.1')).toBe(true);
    expect(p.addressOf(call('127.0.0.1:5000', { 'x-forwarded-for': '10.2.3.4' }))).toBe('10.2.3.4');
    expect(() => p.checkAddress(call('127.0.0.1:5000', { 'x-forwarded-for': '10.2.3.4' }), null)).not.toThrow();
    expect(() => p.checkAddress(call('127.0.0.1:5000', { 'x-forwarded-for': '192.168.1.1' }), null)).toThrow(
      'Forbidden: calls from this address are not allowed',
    );
    const scoped = principal({ keyId: 'k', allowedRanges: new AddressRanges(['10.1.0.0/16']) });
    expect(() => p.checkAddress(call('10.2.0.1:1'), scoped)).toThrow('Forbidden: this credential may not be used from this address');
    expect(() => p.checkAddress(call('10.1.0.1:1'), scoped)).not.toThrow();
    const shadow = policyOf({ service: { allowed_source_ranges: ['10.0.0.0/8'] }, policy_mode: { addresses: 'shadow' } });
    expect(shadow.acceptsConnection('192.168.0.1')).toBe(true);
    expect(() => shadow.checkAddress(call('192.168.0.1:1'), null)).toThrow(ShadowRefusal);
  });

  it.each([
    [{ service: { allowed_source_ranges: ['10.0.0.0/33'] } }, 'service.allowed_source_ranges[0]: "10.0.0.0/33": the prefix length must be 0-32'],
    [{ service: { trusted_proxies: ['proxy.local'] } }, 'service.trusted_proxies[0]: "proxy.local": not an IPv4 or IPv6 address'],
    [{ rate_limits: { default: { calls_per_second: 0 } } }, 'rate_limits.default.calls_per_second'],
    [{ rate_limits: { default: { calls_per_second: -5 } } }, 'rate_limits.default.calls_per_second'],
    [{ rate_limits: { default: { burst: 10 } } }, 'rate_limits.default.burst: only with calls_per_second'],
    [{ rate_limits: { default: { max_in_flight: 0 } } }, 'rate_limits.default.max_in_flight'],
    [{ rate_limits: { identities: { alice: { calls_per_second: 1 } } } }, 'rate_limits.identities.alice: expected key:<id>'],
    [{ rate_limits: { redis_url: 'http://localhost:6379' } }, 'rate_limits.redis_url: must be redis://'],
    [{ policy_mode: { access: 'dry-run' } }, 'policy_mode.access'],
  ])('%j is refused, naming the key', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  });
});

describe('traffic warnings', () => {
  it('shadow parts, and identities whose ranges lie outside the global list', () => {
    const warnings = configWarnings(
      parseConfig({
        service: { allowed_source_ranges: ['10.0.0.0/8'] },
        policy_mode: { limits: 'shadow' },
        auth: {
          jwt_providers: [{ name: 'p', issuer: 'https://p', audiences: ['q'], discovery: true, access_claim: 'a', allowed_source_ranges: ['192.168.0.0/16'] }],
        },
      }),
    ).join('\n');
    expect(warnings).toContain('policy_mode.limits is shadow');
    expect(
      configWarnings(parseConfig({ rate_limits: { default: { calls_per_second: 2 }, method_weights: { 'qdrant.Points/Upsert': 5 } } })).join('\n'),
    ).toContain('rate_limits.default: a bucket of 2 is smaller than the heaviest method weight (5): such calls cost 2 instead');
    expect(warnings).toContain('auth.jwt_providers p: allowed_source_ranges lie outside service.allowed_source_ranges');
    expect(configWarnings(parseConfig({ service: { allowed_source_ranges: ['10.0.0.0/8'] } })).join('\n')).not.toMatch(/shadow|outside/);
  });
});
