// The per-identity limits of the process: local buckets, or Redis shared by every process and
// replica with the local buckets as the fallback while Redis does not answer. Long-lived: a reload
// keeps the buckets (only the limits change).
import type { Logger } from '../log/logger.js';
import { type Limit, LocalLimits, type Verdict } from './local-limits.js';
import { RedisLimits } from './redis-limits.js';

export interface LimiterOptions {
  readonly maxIdentities: number;
  readonly redis: { readonly url: string; readonly timeoutMs: number; readonly keyPrefix: string; readonly leaseMs: number } | null;
  readonly logger: Logger;
  readonly now: () => number;
  /** Each Redis check: its round trip and whether Redis answered. */
  readonly onRedis?: (seconds: number, ok: boolean) => void;
  /** Which store decides: redis, or local (no Redis configured, or the fallback while it is away). */
  readonly onStore?: (store: 'redis' | 'local') => void;
}

export class Limiter {
  private readonly local: LocalLimits;
  private readonly redis: RedisLimits | null;
  private redisUp = true;

  constructor(private readonly options: LimiterOptions) {
    this.local = new LocalLimits(options.maxIdentities);
    this.redis = options.redis ? new RedisLimits({ ...options.redis, observe: (seconds, ok) => this.observeRedis(seconds, ok) }) : null;
    options.onStore?.(this.redis ? 'redis' : 'local');
  }

  /** Identities held in this process's buckets. */
  get localIdentities(): number {
    return this.local.size;
  }

  take(identity: string, limit: Limit, weight: number): Verdict | Promise<Verdict> {
    if (!this.redis) return this.local.take(identity, limit, weight, this.options.now());
    return this.redis.take(identity, limit, weight).then((verdict) => verdict ?? this.local.take(identity, limit, weight, this.options.now()));
  }

  /** Resolves once the store can decide: at once locally; with Redis, once connected or given up on. */
  async connected(): Promise<void> {
    if (!this.redis || (await this.redis.connected())) return;
    this.setRedisUp(false);
  }

  close(): void {
    this.redis?.close();
  }

  private observeRedis(seconds: number, ok: boolean): void {
    this.options.onRedis?.(seconds, ok);
    this.setRedisUp(ok);
  }

  /** Which store decides, said once per change (metrics and a log line). */
  private setRedisUp(ok: boolean): void {
    if (ok === this.redisUp) return;
    this.redisUp = ok;
    this.options.onStore?.(ok ? 'redis' : 'local');
    if (ok) this.options.logger.info({}, 'rate limits: Redis answers again; limits are shared across replicas');
    else this.options.logger.warn({}, 'rate limits: Redis does not answer; each process applies the limits on its own until it does');
  }
}
