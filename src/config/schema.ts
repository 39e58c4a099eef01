// The configuration file's schema: Qdrant's keys where Qdrant has them, plus `upstream`, `api`,
// `limits` and `shutdown`. Every default is documented in config/example.yaml.
import { z } from 'zod';

// Environment overrides arrive as strings; accept "6334" and "true" where numbers and booleans go.
const int = (min: number, max: number) =>
  z.preprocess((v) => (typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(min).max(max));
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const secret = z
  .string()
  .refine((v) => v.trim().length > 0, { message: 'must not be empty or blank (leave the key out to disable it)' })
  .nullable();
const path = z.string().min(1).nullable();

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** An access grant, shaped like a Qdrant JWT's `access` claim: m, r, or a list of collection grants (a grant's payload: auth.tenant_isolation). */
const grant = z.union([
  z.enum(['m', 'r']),
  z.array(
    z.strictObject({
      collection: z.string(),
      access: z.enum(['r', 'rw', 'prw']),
      payload: z
        .record(z.string().min(1), z.union([z.string(), z.number().int().refine(Number.isSafeInteger, 'must be a safe integer'), z.boolean()]))
        .optional(),
    }),
  ),
]);

/** CIDR ranges (IPv4 or IPv6) or single addresses; checked in detail by src/traffic/address-ranges.ts. */
const ranges = z.array(z.string().min(1)).default([]);

/** Per-identity limits (src/traffic): each null = no limit of that kind. */
export const limitSchema = z.strictObject({
  calls_per_second: z.number().positive().max(1_000_000).nullable().default(null),
  burst: int(1, 10_000_000).nullable().default(null),
  max_in_flight: int(1, 1_000_000).nullable().default(null),
});

/** A client certificate identity: a grant, or a grant with its own address ranges and limit. */
const certificateIdentity = z.union([
  grant,
  z.strictObject({ access: grant, allowed_source_ranges: ranges, rate_limit: limitSchema.nullable().default(null) }),
]);

const mode = z.enum(['enforce', 'shadow']).default('enforce');

/** Asymmetric algorithms only: an external provider's public key must never be usable as an HMAC secret. */
export const PROVIDER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** An identity provider whose tokens the proxy accepts beside Qdrant's own (README "Identity providers"). */
const jwtProvider = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, _ . -'),
  issuer: z.string().min(1),
  audiences: z.array(z.string().min(1)).min(1),
  jwks_uri: z
    .string()
    .regex(/^https:\/\//, 'must be an https:// URL')
    .nullable()
    .default(null),
  jwks_file: path.default(null),
  discovery: bool.default(false),
  algorithms: z.array(z.enum(PROVIDER_ALGORITHMS)).min(1).default(['RS256']),
  leeway_seconds: int(0, 600).default(30),
  require_exp: bool.default(true),
  require_iat: bool.default(false),
  max_token_age_seconds: int(1, 365 * 24 * 3600)
    .nullable()
    .default(null),
  subject_claim: z.string().min(1).default('sub'),
  // Beyond the issuer's own rules: where this provider's tokens may be used from (src/traffic).
  allowed_source_ranges: ranges,
  access_claim: z.string().min(1).nullable().default(null),
  access_rules: z.array(z.strictObject({ claim: z.string().min(1), contains: z.string().min(1), access: grant })).default([]),
  jwks: z
    .strictObject({
      cache_seconds: int(10, 7 * 24 * 3600).default(300),
      max_stale_seconds: int(0, 30 * 24 * 3600).default(3600),
      unknown_kid_refetch_seconds: int(1, 3600).default(10),
      timeout_ms: int(100, 60_000).default(5000),
      max_bytes: int(1024, 16 * 1024 * 1024).default(1024 * 1024),
      ca_cert: path.default(null),
    })
    .prefault({}),
});
export type JwtProviderConfig = z.infer<typeof jwtProvider>;

export const configSchema = z.strictObject({
  // Beyond Qdrant: worker processes sharing the gRPC port (Node's cluster module); 1 = no cluster.
  workers: int(1, 64).default(1),
  log_level: z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(LOG_LEVELS)).default('INFO'),
  service: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      grpc_port: int(0, 65535).default(6334),
      api_key: secret.default(null),
      alt_api_key: secret.default(null),
      read_only_api_key: secret.default(null),
      // Beyond Qdrant: each secret may come from a file instead (src/config/secret-files.ts).
      api_key_file: path.default(null),
      alt_api_key_file: path.default(null),
      read_only_api_key_file: path.default(null),
      jwt_rbac: bool.default(false),
      enable_tls: bool.default(false),
      verify_https_client_certificate: bool.default(false),
      // Beyond Qdrant (README "Traffic policy"): who may connect, and whose forwarded address to believe.
      allowed_source_ranges: ranges,
      trusted_proxies: ranges,
      // The one header the trusted proxies write the client into (the other is the client's to forge).
      forwarded_header: z.enum(['x-forwarded-for', 'forwarded']).default('x-forwarded-for'),
    })
    .prefault({}),
  tls: z
    .strictObject({
      cert: path.default(null),
      key: path.default(null),
      ca_cert: path.default(null),
      cert_ttl: int(1, 365 * 24 * 3600)
        .nullable()
        .default(3600),
    })
    .prefault({}),
  audit: z
    .strictObject({
      enabled: bool.default(false),
      dir: z.string().min(1).default('./storage/audit'),
      rotation: z.enum(['daily', 'hourly']).default('daily'),
      max_log_files: int(1, 100000).default(7),
      trust_forwarded_headers: bool.default(false),
      log_api: bool.default(true),
      stdout: bool.default(false), // beyond Qdrant: also write each record to stdout, for log shippers
    })
    .prefault({}),
  // Beyond Qdrant: the proxy's own authentication settings.
  auth: z
    .strictObject({
      max_credential_bytes: int(64, 1024 * 1024).default(16 * 1024),
      token_cache_size: int(0, 10_000_000).default(10_000),
      value_exists_cache_ttl_seconds: int(0, 3600).default(10),
      value_exists_cache_size: int(1, 10_000_000).default(10_000),
      value_exists_timeout_ms: int(1, 600_000).default(5_000),
      // Client certificate CN or SAN → access, shaped like a JWT `access` claim (m, r, or a list).
      client_cert_identities: z.record(z.string().min(1), certificateIdentity).default({}),
      // Identity providers (OpenID Connect / JWKS) whose tokens are accepted beside Qdrant's own.
      jwt_providers: z.array(jwtProvider).default([]),
      // Beyond Qdrant (README "Tenant isolation"): a collection grant's `payload` confines it to a
      // tenant's points; `prefix*` grants in Qdrant's own tokens (the proxy's credentials always may).
      tenant_isolation: bool.default(false),
      collection_patterns: bool.default(false),
      // Named keys (hashes only) and revocations, re-read when they change (README "Named keys").
      keys_file: path.default(null),
      revocations_file: path.default(null),
      key_expiry_warning_days: int(0, 365).default(14),
    })
    .prefault({}),
  // Beyond Qdrant (README "Traffic policy"): per-identity rate and concurrency limits.
  rate_limits: z
    .strictObject({
      default: limitSchema.prefault({}),
      // By access class: manage, read (global read-only), collections, anonymous (health checks, by address).
      classes: z.partialRecord(z.enum(['manage', 'read', 'collections', 'anonymous']), limitSchema).default({}),
      // By identity: key:<id>, sub:<subject>, idp:<provider>:<subject>, cert:<name>, apikey:manage|read, addr:<address>.
      identities: z.record(z.string().min(1), limitSchema).default({}),
      // What a call of a method costs in calls_per_second (default 1), e.g. qdrant.Points/Upsert: 5.
      method_weights: z
        .record(z.string().regex(/^[\w.]+\/\w+$/, 'must be service/Method, e.g. qdrant.Points/Upsert'), z.number().positive().max(1000))
        .default({}),
      redis_url: z
        .string()
        .regex(/^rediss?:\/\//, 'must be redis://host:port or rediss://…')
        .nullable()
        .default(null),
      redis_timeout_ms: int(1, 10_000).default(50),
      redis_key_prefix: z.string().default('qap:'),
      max_identities: int(100, 100_000_000).default(100_000),
    })
    .prefault({}),
  // Beyond Qdrant: each policy part enforced, or computed and audited only (shadow).
  policy_mode: z.strictObject({ access: mode, addresses: mode, limits: mode }).prefault({}),
  upstream: z
    .strictObject({
      url: z
        .string()
        .regex(/^https?:\/\/[^/]+\/?$/, 'must be http://host:port or https://host:port')
        .default('http://127.0.0.1:6334'),
      ca_cert: path.default(null),
      cert: path.default(null),
      key: path.default(null),
      server_name: z.string().min(1).nullable().default(null),
      api_key: secret.default(null),
      api_key_file: path.default(null),
      keepalive_time_ms: int(1000, 24 * 3600 * 1000).default(30_000),
      keepalive_timeout_ms: int(100, 3600 * 1000).default(10_000),
      health_check_interval_ms: int(100, 3600 * 1000).default(5_000),
      // How the proxy talks to Qdrant: node:http2 carrying gRPC frames, or grpc-js's client (BENCHMARKS.md).
      transport: z.enum(['http2', 'grpc-js']).default('http2'),
      // HTTP/2 connections the http2 transport spreads calls over (BENCHMARKS.md); grpc-js uses one.
      connections: int(1, 64).default(1),
      // Resets of abandoned calls per upstream connection and second (README "Security": isolation).
      max_resets_per_second: int(1, 100_000).default(10),
    })
    .prefault({}),
  api: z
    .strictObject({
      proto_dir: path.default(null),
    })
    .prefault({}),
  limits: z
    .strictObject({
      max_message_bytes: int(1024, 2 ** 31 - 1).default(256 * 1024 * 1024),
      max_metadata_bytes: int(1024, 16 * 1024 * 1024).default(32 * 1024),
      max_concurrent_streams: int(1, 2 ** 31 - 1).default(1000),
      max_connections: int(1, 10_000_000).default(10_000),
      max_call_timeout_ms: int(0, 24 * 3600 * 1000).default(600_000),
      keepalive_time_ms: int(1000, 24 * 3600 * 1000).default(7_200_000),
      keepalive_timeout_ms: int(100, 3600 * 1000).default(20_000),
      max_connection_idle_ms: int(0, 30 * 24 * 3600 * 1000).default(300_000),
      max_connection_age_ms: int(0, 30 * 24 * 3600 * 1000).default(0),
      max_connection_age_grace_ms: int(0, 24 * 3600 * 1000).default(0),
      // Hardening (README "Security"): what any client can make the proxy hold, and for how long.
      handshake_timeout_ms: int(100, 600_000).default(10_000),
      close_grace_ms: int(0, 600_000).default(5_000),
      request_body_timeout_ms: int(100, 24 * 3600 * 1000).default(30_000),
      max_decompression_ratio: int(1, 1_000_000).default(100),
      max_buffered_request_bytes: int(1024, 2 ** 40).default(512 * 1024 * 1024),
      max_buffered_reply_bytes: int(1024, 2 ** 40).default(64 * 1024 * 1024),
      max_anonymous_message_bytes: int(0, 16 * 1024 * 1024).default(4096),
      max_buffered_anonymous_bytes: int(1024, 2 ** 40).default(16 * 1024 * 1024),
      max_calls_in_flight: int(1, 10_000_000).default(1024),
      max_health_watch_streams: int(0, 1_000_000).default(100),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: bool.default(true),
      host: z.string().min(1).default('127.0.0.1'),
      port: int(0, 65535).default(9464),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      grace_seconds: int(0, 3600).default(0),
      drain_seconds: int(0, 3600).default(30),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
