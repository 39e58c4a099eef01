// Config compiled once into an immutable engine: authenticator, access rules, value_exists checker.
// Per-call code only looks things up; a reload builds a new engine and swaps it whole.
import type { CompiledRule } from './access/compile-rules.js';
import type { OwnedIds, TenantCompiled } from './access/tenant-confine.js';
import type { QdrantApi } from './api/qdrant-api.js';
import type { AuthFilesState } from './auth/auth-files.js';
import { Authenticator } from './auth/authenticate.js';
import { CertificateIdentities } from './auth/client-certificate.js';
import { configGrant } from './auth/grant-shape.js';
import type { KeySources } from './auth/providers/key-sources.js';
import { JwtProvider, type VerifyOutcome } from './auth/providers/provider.js';
import { Revocations } from './auth/revocations.js';
import { type ScrollFn, ValueExistsChecker } from './auth/value-exists.js';
import type { Config, JwtProviderConfig } from './config/schema.js';
import type { Logger } from './log/logger.js';
import { AddressRanges } from './traffic/address-ranges.js';
import type { Limiter } from './traffic/limiter.js';
import { type TrafficHooks, TrafficPolicy } from './traffic/traffic-policy.js';

export interface Engine {
  readonly config: Readonly<Config>;
  readonly api: QdrantApi;
  readonly auth: Authenticator;
  readonly rules: ReadonlyMap<string, CompiledRule>;
  readonly valueExists: ValueExistsChecker;
  /** Tenant isolation: how each method is confined, and the look-up a Get needs. */
  readonly tenant: TenantCompiled;
  readonly ownedIds: OwnedIds;
  readonly traffic: TrafficPolicy;
  /** The identity providers by issuer (an auth file change reuses them: nothing to re-read or refetch). */
  readonly providers: ReadonlyMap<string, JwtProvider>;
}

export interface EngineDeps {
  readonly api: QdrantApi;
  /** Compiled once per process: rules depend only on the loaded API, which a reload cannot change. */
  readonly rules: ReadonlyMap<string, CompiledRule>;
  readonly scroll: ScrollFn;
  /** Compiled once per process, like the rules. */
  readonly tenant: TenantCompiled;
  readonly ownedIds: OwnedIds;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Reports each value_exists check: answered from the cache (true) or by a look-up (false). */
  readonly onValueExists?: (hit: boolean) => void;
  /** The identity providers' key sets, kept across reloads (needed when auth.jwt_providers is set). */
  readonly keySources?: KeySources;
  readonly onProviderToken?: (provider: string, outcome: VerifyOutcome | 'cached') => void;
  /** Named keys and revocations in force (src/auth/auth-files.ts); none when absent. */
  readonly authFiles?: AuthFilesState;
  readonly onRevoked?: (reason: string) => void;
  /** The process's rate-limit buckets (kept across reloads); none: no limits apply. */
  readonly limiter?: Limiter | null;
  readonly traffic?: TrafficHooks;
  /** Providers to use as they are, instead of building them from the config. */
  readonly providers?: ReadonlyMap<string, JwtProvider>;
}

export function buildEngine(config: Readonly<Config>, deps: EngineDeps): Engine {
  const now = deps.now ?? Date.now;
  const { service, auth } = config;
  // A keys or revocations file the engine was not given is a wiring error, never a silent no-auth.
  if ((auth.keys_file !== null && !deps.authFiles?.keys) || (auth.revocations_file !== null && !deps.authFiles))
    throw new Error('auth.keys_file / auth.revocations_file need the files read (src/auth/auth-files.ts)');
  const providers = deps.providers ?? buildProviders(auth.jwt_providers, deps.keySources, { tenantIsolation: auth.tenant_isolation });
  return Object.freeze({
    config,
    providers,
    api: deps.api,
    auth: new Authenticator({
      apiKey: service.api_key,
      altApiKey: service.alt_api_key,
      readOnlyApiKey: service.read_only_api_key,
      jwtRbac: service.jwt_rbac,
      tokenOptions: { tenantIsolation: auth.tenant_isolation, collectionPatterns: auth.collection_patterns },
      maxCredentialBytes: auth.max_credential_bytes,
      tokenCacheSize: auth.token_cache_size,
      certificateIdentities: new CertificateIdentities(auth.client_cert_identities),
      providers,
      ...(deps.onProviderToken ? { onProviderToken: deps.onProviderToken } : {}),
      namedKeys: deps.authFiles?.keys ?? null,
      revocations: deps.authFiles?.revocations ?? Revocations.NONE,
      ...(deps.onRevoked ? { onRevoked: deps.onRevoked } : {}),
      now,
    }),
    rules: deps.rules,
    valueExists: new ValueExistsChecker(
      deps.scroll,
      { ttlMs: auth.value_exists_cache_ttl_seconds * 1000, max: auth.value_exists_cache_size, now },
      (claim, error) => deps.logger.warn({ collection: claim.collection, error }, 'value_exists look-up failed'),
      deps.onValueExists,
    ),
    tenant: deps.tenant,
    ownedIds: deps.ownedIds,
    traffic: new TrafficPolicy(config, deps.limiter ?? null, deps.traffic),
  });
}

/** The providers by issuer, each verifying against its key source. */
export function buildProviders(
  configs: readonly JwtProviderConfig[],
  keySources: KeySources | undefined,
  options: { readonly tenantIsolation?: boolean } = {},
): ReadonlyMap<string, JwtProvider> {
  if (!keySources) {
    if (configs.length > 0) throw new Error('auth.jwt_providers needs the key sources');
    return new Map();
  }
  const sources = keySources.sync(configs); // also stops the sources of providers no longer configured
  return new Map(
    configs.map((c) => [
      c.issuer,
      new JwtProvider(
        {
          name: c.name,
          issuer: c.issuer,
          audiences: c.audiences,
          algorithms: c.algorithms,
          leewaySeconds: c.leeway_seconds,
          requireExp: c.require_exp,
          requireIat: c.require_iat,
          maxTokenAgeSeconds: c.max_token_age_seconds,
          subjectClaim: c.subject_claim,
          access: {
            accessClaim: c.access_claim,
            rules: c.access_rules.map((r) => ({ ...r, access: configGrant(r.access) })),
            tenantIsolation: options.tenantIsolation ?? false,
          },
          allowedRanges: c.allowed_source_ranges.length > 0 ? new AddressRanges(c.allowed_source_ranges) : null,
        },
        sources.get(c.name)!,
      ),
    ]),
  );
}
