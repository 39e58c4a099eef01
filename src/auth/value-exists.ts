// Qdrant's stateful `value_exists` check: a Scroll with limit 1 and an AND of exact matches on the
// claim's collection, run with the proxy's own upstream credential. Grants are cached for a short
// TTL (bounded, concurrent look-ups merged); misses and failures are never cached.
import { LRUCache } from 'lru-cache';
import { ProxyError } from '../errors.js';
import type { ValueExistsClaim } from './principal.js';

export interface ScrollOutcome {
  readonly ok: boolean;
  readonly notFound: boolean;
  readonly pointCount: number;
  /** Why the look-up failed, for the log (never shown to the client). */
  readonly error?: string;
}

/** Runs `qdrant.Points/Scroll` upstream with the given request object. */
export type ScrollFn = (request: object) => Promise<ScrollOutcome>;

export interface ValueExistsOptions {
  readonly ttlMs: number;
  readonly max: number;
  readonly now?: () => number;
}

export interface ValueExistsStats {
  hits: number;
  misses: number;
}

export class ValueExistsChecker {
  private readonly cache: LRUCache<string, true> | null;
  private readonly inflight = new Map<string, Promise<void>>();
  readonly stats: ValueExistsStats = { hits: 0, misses: 0 };

  constructor(
    private readonly scroll: ScrollFn,
    options: ValueExistsOptions,
    private readonly onFailure: (claim: ValueExistsClaim, error: string) => void = () => undefined,
    private readonly observe: (hit: boolean) => void = () => undefined,
  ) {
    this.cache =
      options.ttlMs > 0
        ? new LRUCache<string, true>({ max: options.max, ttl: options.ttlMs, ttlResolution: 0, ...(options.now ? { perf: { now: options.now } } : {}) })
        : null;
  }

  /** Resolves when the claim holds; rejects with Qdrant's error otherwise. */
  async check(claim: ValueExistsClaim): Promise<void> {
    const key = cacheKey(claim);
    if (this.cache?.get(key)) {
      this.stats.hits++;
      this.observe(true);
      return;
    }
    this.stats.misses++;
    this.observe(false);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookUp(claim, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async lookUp(claim: ValueExistsClaim, key: string): Promise<void> {
    let outcome: ScrollOutcome;
    try {
      outcome = await this.scroll(scrollRequest(claim));
    } catch (err) {
      outcome = { ok: false, notFound: false, pointCount: 0, error: String(err) };
    }
    if (outcome.notFound) throw new ProxyError('value_exists_collection_missing');
    if (!outcome.ok) {
      this.onFailure(claim, outcome.error ?? 'unknown');
      throw new ProxyError('value_exists_unavailable');
    }
    if (outcome.pointCount < 1) throw new ProxyError('value_exists_no_match');
    this.cache?.set(key, true);
  }
}

function cacheKey(claim: ValueExistsClaim): string {
  return JSON.stringify([claim.collection, claim.matches.map((m) => [m.key, typeof m.value, String(m.value)])]);
}

/** The same query Qdrant runs: limit 1, AND of exact matches, no payload, no vectors. */
export function scrollRequest(claim: ValueExistsClaim): object {
  return {
    collection_name: claim.collection,
    limit: 1,
    filter: {
      must: claim.matches.map((m) => ({
        field: {
          key: m.key,
          match: typeof m.value === 'string' ? { keyword: m.value } : typeof m.value === 'boolean' ? { boolean: m.value } : { integer: String(m.value) },
        },
      })),
    },
    with_payload: { enable: false },
    with_vectors: { enable: false },
  };
}
