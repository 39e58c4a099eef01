// Per-identity limits shared by every process and replica through Redis (`rate_limits.redis_url`):
// one server-side script per check takes from the identity's token bucket and registers the call
// in flight, atomically, on Redis's own clock (replicas' clocks may differ). A call in flight is a
// lease that expires on its own, so a process that dies holding calls frees them. While Redis
// cannot answer within `redis_timeout_ms`, the local limits decide instead (never "unlimited",
// never "refuse everyone"): the caller is told, for the metrics and a log line. After a failure
// Redis is skipped for a second (no call waits on a Redis that hangs), and no more than 256 checks
// wait for it at once. Serving starts once the first connection is up (or its connect timeout passed).
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Limit, Verdict } from './local-limits.js';
import { depthOf, NOTHING_TO_RELEASE, releaseOnce } from './local-limits.js';

// KEYS[1] bucket (hash: tokens, at), KEYS[2] calls in flight (zset: call id → lease end, ms)
// ARGV: rate (calls/s, 0: none), burst, weight, max in flight (0: none), call id, lease ms
// Returns 1 admitted, 0 over the rate, -1 over the calls in flight.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, weight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max_in_flight, lease = tonumber(ARGV[4]), tonumber(ARGV[6])
local tokens
if rate > 0 then
  local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
  tokens = tonumber(b[1]) or burst
  local at = tonumber(b[2]) or now
  if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
  if tokens < weight then
    redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
    redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
    return 0
  end
end
if max_in_flight > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= max_in_flight then return -1 end
  redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], lease)
end
if rate > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tokens - weight, 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
end
return 1
`;

type RedisWithTake = Redis & {
  takeLimit(bucket: string, inFlight: string, rate: number, burst: number, weight: number, max: number, id: string, lease: number): Promise<number>;
};

export interface RedisLimitsOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** Prefix of every key the proxy writes. */
  readonly keyPrefix: string;
  /** How long a call in flight holds its place at most (the longest call the proxy allows). */
  readonly leaseMs: number;
  /** Each check's round trip, and whether Redis answered. */
  readonly observe: (seconds: number, ok: boolean) => void;
}

/** After Redis fails a check, checks skip it for this long (decided locally at once, no waiting). */
const COOL_DOWN_MS = 1000;
/** Checks waiting for Redis at most; past it the local limits decide (a slow Redis never queues without bound). */
const MAX_PENDING = 256;

export class RedisLimits {
  private readonly redis: RedisWithTake;
  private nextId = 0;
  private readonly processId = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  private pending = 0;
  private skipUntil = 0;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: RedisLimitsOptions) {
    this.connectTimeoutMs = Math.max(1000, options.timeoutMs);
    // ioredis is loaded only when Redis is configured (~2 MB of heap otherwise held for nothing).
    const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.redis = new RedisClient(options.url, {
      // Fail fast while Redis is away: the local limits take over; reconnect in the background.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: this.connectTimeoutMs,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      keepAlive: 5000, // a Redis gone without closing the connection is noticed
      lazyConnect: false,
    }) as RedisWithTake;
    this.redis.on('error', () => undefined); // reported per check, through `observe`
    this.redis.defineCommand('takeLimit', { numberOfKeys: 2, lua: TAKE });
  }

  /** The verdict, or null when Redis did not answer (the caller falls back to local limits). */
  async take(identity: string, limit: Limit, weight: number): Promise<Verdict | null> {
    const started = performance.now();
    if (started < this.skipUntil || this.pending >= MAX_PENDING) return null;
    const id = `${this.processId}-${this.nextId++}`;
    const inFlightKey = `${this.options.keyPrefix}f:${identity}`;
    const rate = limit.callsPerSecond ?? 0;
    const burst = depthOf(limit);
    this.pending++;
    try {
      const result = await this.redis.takeLimit(
        `${this.options.keyPrefix}b:${identity}`,
        inFlightKey,
        rate,
        burst,
        Math.min(weight, burst),
        limit.maxInFlight ?? 0,
        id,
        this.options.leaseMs,
      );
      this.options.observe((performance.now() - started) / 1000, true);
      if (result === 0) return { ok: false, limit: 'calls_per_second' };
      if (result === -1) return { ok: false, limit: 'max_in_flight' };
      if (limit.maxInFlight === null) return { ok: true, release: NOTHING_TO_RELEASE };
      return {
        ok: true,
        // Best effort: a release that fails is freed when its lease ends.
        release: releaseOnce(() => void this.redis.zrem(inFlightKey, id).catch(() => undefined)),
      };
    } catch {
      this.options.observe((performance.now() - started) / 1000, false);
      this.skipUntil = performance.now() + COOL_DOWN_MS;
      // The check may still run in Redis after its timeout: give back the place it would register
      // (sent after it on the same connection, so it runs after it), or it would hold it for a lease.
      if (limit.maxInFlight !== null) this.redis.zrem(inFlightKey, id).catch(() => undefined);
      return null;
    } finally {
      this.pending--;
    }
  }

  /**
   * Whether Redis got connected within its connect timeout. The proxy waits for this before serving:
   * until the first connection is up every check would fail at once (no offline queue), so each
   * process would apply the limits on its own during start-up. A refused connection does not end
   * the wait (ioredis tries again within it: Redis may be starting alongside the proxy).
   */
  connected(): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    if (this.redis.status === 'end') return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        this.redis.off('end', onEnd);
        resolve(ok);
      };
      const onReady = () => done(true);
      const onEnd = () => done(false);
      const timer = setTimeout(onEnd, this.connectTimeoutMs);
      this.redis.once('ready', onReady);
      this.redis.once('end', onEnd);
    });
  }

  close(): void {
    this.redis.disconnect();
  }
}
