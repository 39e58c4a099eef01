// Prometheus metrics (prom-client). Labels are bounded: `method` is one of the served paths.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type BudgetName = 'request_bytes' | 'reply_bytes' | 'anonymous_bytes' | 'calls' | 'connections';

export type Decision = 'allowed' | 'denied' | 'unauthenticated' | 'no_auth';

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly calls = new Counter({
    name: 'qdrant_auth_proxy_calls_total',
    help: 'Calls handled, by method, authorization decision and gRPC status code.',
    labelNames: ['method', 'decision', 'code'] as const,
    registers: [this.registry],
  });
  private readonly proxyTime = new Histogram({
    name: 'qdrant_auth_proxy_proxy_duration_seconds',
    help: "The proxy's own time per call (authentication, authorization, filtering), without the upstream.",
    labelNames: ['method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly upstreamTime = new Histogram({
    name: 'qdrant_auth_proxy_upstream_duration_seconds',
    help: 'Time from forwarding a call to the upstream status.',
    labelNames: ['method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly valueExists = new Counter({
    name: 'qdrant_auth_proxy_value_exists_cache_total',
    help: 'value_exists checks answered from the cache (hit) or by an upstream look-up (miss).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly keyFetches = new Counter({
    name: 'qdrant_auth_proxy_jwks_fetches_total',
    help: "Fetches of an identity provider's signing keys (JWKS), by provider and result (ok, error).",
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  private readonly providerTokens = new Counter({
    name: 'qdrant_auth_proxy_provider_tokens_total',
    help: 'Identity provider tokens checked, by provider and outcome (ok, cached, expired, invalid_signature, unknown_key, rejected, no_access, keys_unavailable).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly namedKeyUses = new Counter({
    name: 'qdrant_auth_proxy_named_key_uses_total',
    help: 'Named keys presented, by key id (only ids in auth.keys_file; "" for an unknown id) and outcome (ok, wrong_secret, unknown, expired, not_yet_valid).',
    labelNames: ['key_id', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly revoked = new Counter({
    name: 'qdrant_auth_proxy_revoked_total',
    help: 'Calls refused by auth.revocations_file, by what matched (jti, subject, key_id, token_sha256, issued_before).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly trafficRefusals = new Counter({
    name: 'qdrant_auth_proxy_traffic_refusals_total',
    help: 'Calls refused by the traffic policy or the access table in shadow mode, by rule (address_global, address_identity, calls_per_second, max_in_flight, access), access class and mode (enforce: refused; shadow: let through).',
    labelNames: ['rule', 'class', 'mode'] as const,
    registers: [this.registry],
  });
  private readonly redisChecks = new Histogram({
    name: 'qdrant_auth_proxy_rate_limit_redis_seconds',
    help: 'Round trip of each rate-limit check through Redis, by result (ok, error: the local limits decided).',
    labelNames: ['result'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });
  private readonly limitStore = new Gauge({
    name: 'qdrant_auth_proxy_rate_limit_store',
    help: 'Which store decides the rate limits now (1): redis, or local (no Redis configured, or Redis not answering).',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  private readonly upstreamUp = new Gauge({
    name: 'qdrant_auth_proxy_upstream_up',
    help: "1 while the upstream answers the proxy's health probe.",
    registers: [this.registry],
  });
  private readonly serving = new Gauge({
    name: 'qdrant_auth_proxy_serving',
    help: '1 while the proxy reports SERVING (upstream up and not draining).',
    registers: [this.registry],
  });

  /** With `enabled` false (metrics.enabled: false) nothing is collected and every call is a no-op. */
  constructor(
    version: string,
    qdrantApi: string,
    private readonly enabled = true,
  ) {
    if (!enabled) return;
    new Gauge({
      name: 'qdrant_auth_proxy_build_info',
      help: 'Build information; the value is always 1.',
      labelNames: ['version', 'qdrant_api', 'node'] as const,
      registers: [this.registry],
    })
      .labels(version, qdrantApi, process.version)
      .set(1);
    collectDefaultMetrics({ register: this.registry, prefix: 'qdrant_auth_proxy_' });
  }

  call(method: string, decision: Decision, code: number, proxySeconds: number): void {
    if (!this.enabled) return;
    this.calls.labels(method, decision, String(code)).inc();
    this.proxyTime.labels(method).observe(proxySeconds);
  }

  upstream(method: string, seconds: number): void {
    if (!this.enabled) return;
    this.upstreamTime.labels(method).observe(seconds);
  }

  /** Reports what the budgets hold (limits.max_buffered_*_bytes, max_calls_in_flight, max_connections), read at each scrape. */
  watchBudgets(read: () => Readonly<Record<BudgetName, number>>): void {
    if (!this.enabled) return;
    new Gauge({
      name: 'qdrant_auth_proxy_held',
      help: 'What clients hold right now: request, reply and anonymous bytes in memory, calls in flight, open connections.',
      labelNames: ['budget'] as const,
      registers: [this.registry],
      collect() {
        for (const [name, value] of Object.entries(read())) this.labels(name).set(value);
      },
    });
  }

  /** Reports each provider's key set (age in seconds, usable or not), read at each scrape. */
  watchKeySets(read: () => readonly { provider: string; ageSeconds: number | null; usable: boolean }[]): void {
    if (!this.enabled) return;
    new Gauge({
      name: 'qdrant_auth_proxy_jwks_age_seconds',
      help: "Age of an identity provider's current key set (-1: none yet).",
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        this.reset(); // a provider a reload removed drops out
        for (const s of read()) this.labels(s.provider).set(s.ageSeconds ?? -1);
      },
    });
    new Gauge({
      name: 'qdrant_auth_proxy_jwks_usable',
      help: "1 while an identity provider's tokens can be verified (keys present and not older than cache + max_stale_seconds).",
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of read()) this.labels(s.provider).set(s.usable ? 1 : 0);
      },
    });
  }

  /** Reports the named keys in force (how many, seconds until the soonest expiry), read at each scrape. */
  watchNamedKeys(read: () => { count: number; soonestExpirySeconds: number | null } | null): void {
    if (!this.enabled) return;
    new Gauge({
      name: 'qdrant_auth_proxy_named_keys',
      help: 'Named keys in force (auth.keys_file).',
      registers: [this.registry],
      collect() {
        this.set(read()?.count ?? 0);
      },
    });
    new Gauge({
      name: 'qdrant_auth_proxy_named_key_soonest_expiry_seconds',
      help: 'Seconds until the soonest expires_at among the named keys (absent when none expires).',
      registers: [this.registry],
      collect() {
        this.reset();
        const seconds = read()?.soonestExpirySeconds;
        if (seconds !== null && seconds !== undefined) this.set(seconds);
      },
    });
  }

  namedKeyUse(keyId: string | null, outcome: string): void {
    if (!this.enabled) return;
    this.namedKeyUses.labels(keyId ?? '', outcome).inc();
  }

  revocation(reason: string): void {
    if (!this.enabled) return;
    this.revoked.labels(reason).inc();
  }

  trafficRefusal(rule: string, accessClass: string, mode: 'enforce' | 'shadow'): void {
    if (!this.enabled) return;
    this.trafficRefusals.labels(rule, accessClass, mode).inc();
  }

  redisCheck(seconds: number, ok: boolean): void {
    if (!this.enabled) return;
    this.redisChecks.labels(ok ? 'ok' : 'error').observe(seconds);
  }

  setLimitStore(store: 'redis' | 'local'): void {
    this.limitStore.labels('redis').set(store === 'redis' ? 1 : 0);
    this.limitStore.labels('local').set(store === 'local' ? 1 : 0);
  }

  /** Reports the identities held in the local rate-limit buckets, read at each scrape. */
  watchLimiter(read: () => number): void {
    if (!this.enabled) return;
    new Gauge({
      name: 'qdrant_auth_proxy_rate_limit_identities',
      help: 'Identities with a local rate-limit bucket (at most rate_limits.max_identities).',
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  keyFetch(provider: string, ok: boolean): void {
    if (!this.enabled) return;
    this.keyFetches.labels(provider, ok ? 'ok' : 'error').inc();
  }

  providerToken(provider: string, outcome: string): void {
    if (!this.enabled) return;
    this.providerTokens.labels(provider, outcome).inc();
  }

  valueExistsLookup(hit: boolean): void {
    if (!this.enabled) return;
    this.valueExists.labels(hit ? 'hit' : 'miss').inc();
  }

  setUpstreamUp(up: boolean): void {
    this.upstreamUp.set(up ? 1 : 0);
  }

  setServing(serving: boolean): void {
    this.serving.set(serving ? 1 : 0);
  }
}
