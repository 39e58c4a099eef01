// Per-identity limits held in this process: a token bucket (calls per second, refilled
// continuously, `burst` deep) and a count of calls in flight. Buckets live in an LRU of
// `maxIdentities`, so any number of distinct callers costs bounded memory; an identity evicted
// while idle starts again with a full bucket (the most it can gain is one burst). Counts of calls
// in flight are kept apart and never evicted: there are never more than the calls in flight
// (limits.max_calls_in_flight). Time is the monotonic clock: a wall clock stepped back stalls nothing.
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
}

/** A bucket's depth: `burst`, else one second of calls, and never less than one call. */
export function depthOf(limit: Limit): number {
  return Math.max(1, limit.burst ?? limit.callsPerSecond ?? 1);
}

export const NOTHING_TO_RELEASE = (): void => undefined;

/** A place in flight, given back once however often the caller calls it. */
export function releaseOnce(giveBack: () => void): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    giveBack();
  };
}

export class LocalLimits {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly inFlight = new Map<string, number>();

  constructor(maxIdentities: number) {
    this.buckets = new LRUCache({ max: maxIdentities });
  }

  get size(): number {
    return this.buckets.size;
  }

  /** `weight` above the bucket's depth counts as the depth: a heavy call waits for a full bucket, never forever. */
  take(identity: string, limit: Limit, weight: number, now: number): Verdict {
    const depth = depthOf(limit);
    const cost = Math.min(weight, depth);
    let bucket: Bucket | undefined;
    if (limit.callsPerSecond !== null) {
      bucket = this.buckets.get(identity);
      if (!bucket) {
        bucket = { tokens: depth, at: now };
        this.buckets.set(identity, bucket);
      }
      // Time that went backwards refills nothing and costs nothing.
      if (now > bucket.at) bucket.tokens = Math.min(depth, bucket.tokens + ((now - bucket.at) / 1000) * limit.callsPerSecond);
      bucket.at = now;
      if (bucket.tokens < cost) return { ok: false, limit: 'calls_per_second' };
    }
    const held = this.inFlight.get(identity) ?? 0;
    if (limit.maxInFlight !== null && held >= limit.maxInFlight) return { ok: false, limit: 'max_in_flight' };
    if (bucket) bucket.tokens -= cost;
    if (limit.maxInFlight === null) return { ok: true, release: NOTHING_TO_RELEASE };
    this.inFlight.set(identity, held + 1);
    return {
      ok: true,
      release: releaseOnce(() => {
        const left = (this.inFlight.get(identity) ?? 1) - 1;
        if (left > 0) this.inFlight.set(identity, left);
        else this.inFlight.delete(identity);
      }),
    };
  }
}
