// Per-identity limits held in this process: a token bucket (calls per second, refilled
// continuously, `burst` deep) and a count of calls in flight. Identities live in an LRU of
// `maxIdentities`, so any number of distinct callers costs bounded memory; an identity evicted
// while idle starts again with a full bucket (the most it can gain is one burst).
import { LRUCache } from 'lru-cache';

export interface Limit {
  /** Calls per second (weighted); null: no rate limit. */
  readonly callsPerSecond: number | null;
  /** Bucket depth; defaults to one second of calls. */
  readonly burst: number | null;
  /** Calls in flight at once; null: no limit. */
  readonly maxInFlight: number | null;
}

/** A limit as the config writes it (rate_limits.*, a named key's rate_limit). */
export interface LimitConfig {
  readonly calls_per_second: number | null;
  readonly burst: number | null;
  readonly max_in_flight: number | null;
}

export function limitOf(config: LimitConfig): Limit {
  return { callsPerSecond: config.calls_per_second, burst: config.burst, maxInFlight: config.max_in_flight };
}

export type Verdict = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly limit: 'calls_per_second' | 'max_in_flight' };

interface Bucket {
  tokens: number;
  at: number;
  inFlight: number;
}

export const NOTHING_TO_RELEASE = (): void => undefined;

export class LocalLimits {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(maxIdentities: number) {
    this.buckets = new LRUCache({ max: maxIdentities });
  }

  get size(): number {
    return this.buckets.size;
  }

  take(identity: string, limit: Limit, weight: number, now: number): Verdict {
    let bucket = this.buckets.get(identity);
    const burst = limit.burst ?? limit.callsPerSecond ?? 0;
    if (!bucket) {
      bucket = { tokens: burst, at: now, inFlight: 0 };
      this.buckets.set(identity, bucket);
    }
    if (limit.callsPerSecond !== null) {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.callsPerSecond);
      bucket.at = now;
      if (bucket.tokens < weight) return { ok: false, limit: 'calls_per_second' };
    }
    if (limit.maxInFlight !== null && bucket.inFlight >= limit.maxInFlight) return { ok: false, limit: 'max_in_flight' };
    if (limit.callsPerSecond !== null) bucket.tokens -= weight;
    if (limit.maxInFlight === null) return { ok: true, release: NOTHING_TO_RELEASE };
    bucket.inFlight++;
    const held = bucket;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        held.inFlight--;
      },
    };
  }
}
