// Who is calling: Qdrant's order (full key or alt key → read-only key → JWT), compiled once from
// config. A JWT whose `iss` names a configured identity provider is that provider's to verify
// (src/auth/providers); any other goes Qdrant's HS256 way. Verified tokens are cached by their
// SHA-256, bounded, and never served past their expiry, nor past their provider's key staleness.
// Named keys (`qap_<id>_…`, auth.keys_file) are looked up by id; every principal, cached or not,
// then passes the revocation list (auth.revocations_file).
import type { PeerCertificate } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { ProxyError } from '../errors.js';
import type { RequestMetadata } from '../grpc/metadata.js';
import { digest, KeyMatcher } from './api-keys.js';
import type { CertificateIdentities } from './client-certificate.js';
import { extractCredential } from './credentials.js';
import { JwtVerifier, type QdrantTokenOptions, type VerifiedToken } from './jwt.js';
import { isExpired, JWT_LEEWAY_SECONDS } from './jwt-claims.js';
import { keyIdOf } from './named-keys/key-format.js';
import type { NamedKeyStore } from './named-keys/key-store.js';
import { NO_AUTH_PRINCIPAL, type Principal } from './principal.js';
import type { JwtProvider, ProviderToken, TaggedError, VerifyOutcome } from './providers/provider.js';
import type { Revocations } from './revocations.js';

export interface AuthSettings {
  readonly apiKey: string | null;
  readonly altApiKey: string | null;
  readonly readOnlyApiKey: string | null;
  readonly jwtRbac: boolean;
  /** Qdrant's own tokens: tenant payloads and collection patterns (both off, as in Qdrant, unless configured). */
  readonly tokenOptions?: QdrantTokenOptions;
  readonly maxCredentialBytes: number;
  readonly tokenCacheSize: number;
  readonly certificateIdentities: CertificateIdentities;
  /** Identity providers (auth.jwt_providers), by issuer. */
  readonly providers: ReadonlyMap<string, JwtProvider>;
  /** Reports each provider token checked: verified now, answered from the cache, or refused. */
  readonly onProviderToken?: (provider: string, outcome: VerifyOutcome | 'cached') => void;
  /** Named keys (auth.keys_file); none when absent. */
  readonly namedKeys?: NamedKeyStore | null;
  /** The revocation list (auth.revocations_file); empty when absent. */
  readonly revocations?: Revocations;
  /** Reports each call refused by the revocation list, with what matched (jti, subject, …). */
  readonly onRevoked?: (reason: string) => void;
  readonly now: () => number;
}

/** A cached verification: Qdrant's own token, or a provider's with the instant it stops being valid. */
type CachedToken = { readonly qdrant: VerifiedToken } | { readonly provider: JwtProvider; readonly token: ProviderToken };

/** Cached tokens without `exp` are re-verified after this long anyway. */
const MAX_TOKEN_CACHE_MS = 5 * 60 * 1000;

const MANAGE_KEY: Principal = Object.freeze({ access: 'manage', authType: 'ApiKey' });
const READ_KEY: Principal = Object.freeze({ access: 'read', authType: 'ApiKey' });

export class Authenticator {
  /** False when no key is configured: like Qdrant, there is then no auth at all. */
  readonly enabled: boolean;
  private readonly manageKeys: KeyMatcher;
  private readonly readKeys: KeyMatcher;
  private readonly jwt: JwtVerifier | null;
  private readonly tokens: LRUCache<string, CachedToken> | null;
  /** Provider verifications under way, by token digest: concurrent calls with one new token verify it once. */
  private readonly pending = new Map<string, Promise<ProviderToken>>();

  constructor(private readonly settings: AuthSettings) {
    this.manageKeys = new KeyMatcher([settings.apiKey, settings.altApiKey]);
    this.readKeys = new KeyMatcher([settings.readOnlyApiKey]);
    this.enabled =
      !this.manageKeys.empty || !this.readKeys.empty || !settings.certificateIdentities.empty || settings.providers.size > 0 || !!settings.namedKeys;
    const secrets = [settings.apiKey, settings.altApiKey].filter((k): k is string => k !== null);
    this.jwt = settings.jwtRbac && secrets.length > 0 ? new JwtVerifier(secrets, settings.tokenOptions) : null;
    this.tokens =
      (this.jwt || settings.providers.size > 0) && settings.tokenCacheSize > 0
        ? new LRUCache<string, CachedToken>({ max: settings.tokenCacheSize, ttl: MAX_TOKEN_CACHE_MS, ttlResolution: 0, perf: { now: settings.now } })
        : null;
  }

  /** `peerCertificate` is asked for only when the call has no credential and identities are configured. */
  authenticate(metadata: RequestMetadata, peerCertificate?: () => PeerCertificate | undefined): Principal | Promise<Principal> {
    if (!this.enabled) return NO_AUTH_PRINCIPAL;
    const credential = extractCredential(metadata, this.settings.maxCredentialBytes);
    if (credential.kind === 'none') {
      const identities = this.settings.certificateIdentities;
      const fromCertificate = identities.empty || !peerCertificate ? null : identities.principalFor(peerCertificate());
      if (fromCertificate) return this.unlessRevoked(fromCertificate, null);
      throw new ProxyError('missing_credentials');
    }
    // One SHA-256 of the credential serves the key comparisons, the token cache and revocation.
    const hashed = digest(credential.value);
    const principal = this.identify(credential.value, hashed);
    return principal instanceof Promise ? principal.then((p) => this.unlessRevoked(p, hashed)) : this.unlessRevoked(principal, hashed);
  }

  private identify(credential: string, hashed: Buffer): Principal | Promise<Principal> {
    if (this.manageKeys.matchesDigest(hashed)) return MANAGE_KEY;
    if (this.readKeys.matchesDigest(hashed)) return READ_KEY;
    const now = this.settings.now();
    const keyId = this.settings.namedKeys ? keyIdOf(credential) : null;
    if (keyId !== null) return this.settings.namedKeys!.authenticate(keyId, hashed, now);
    const key = hashed.toString('base64');
    const cached = this.cachedPrincipal(key, now);
    if (cached) return cached;
    const provider = this.settings.providers.size > 0 ? this.providerOf(credential) : undefined;
    if (provider) return this.verifyProviderToken(provider, credential, key, now);
    if (!this.jwt) throw new ProxyError('invalid_credentials');
    return this.verifyQdrantToken(credential, key, now);
  }

  /** Every principal passes the revocation list, cached tokens included. */
  private unlessRevoked(principal: Principal, hashed: Buffer | null): Principal {
    const reason = this.settings.revocations?.reason(principal, hashed) ?? null;
    if (reason === null) return principal;
    this.settings.onRevoked?.(reason);
    throw new ProxyError('credential_revoked');
  }

  /**
   * A cached token still valid; a provider's only while its keys are usable (else refused: fail
   * closed) and unchanged since it was verified (else null: verified again).
   */
  private cachedPrincipal(key: string, now: number): Principal | null {
    const cached = this.tokens?.get(key);
    if (!cached) return null;
    if ('qdrant' in cached) {
      if (!isExpired(cached.qdrant.exp, now)) return cached.qdrant.principal;
    } else if (cached.token.validUntilMs === null || now <= cached.token.validUntilMs) {
      const keys = cached.provider.currentKeys();
      if (!keys) {
        this.report(cached.provider, 'keys_unavailable');
        throw new ProxyError('provider_keys_unavailable');
      }
      // Verified with the set in force; after a change (a key withdrawn, say) it is verified again.
      if (keys === cached.token.verifiedWith) {
        this.report(cached.provider, 'cached');
        return cached.token.principal;
      }
    }
    this.tokens!.delete(key);
    return null;
  }

  /** The provider whose issuer the token names (read before verification, only to route it). */
  private providerOf(token: string): JwtProvider | undefined {
    const issuer = unverifiedIssuer(token);
    return issuer === null ? undefined : this.settings.providers.get(issuer);
  }

  private async verifyProviderToken(provider: JwtProvider, token: string, key: string, now: number): Promise<Principal> {
    let pending = this.pending.get(key);
    if (!pending) {
      pending = provider.verify(token, now).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    try {
      const verified = withTokenId(await pending, key);
      this.report(provider, 'ok');
      if (this.tokens) {
        const until = verified.validUntilMs === null ? MAX_TOKEN_CACHE_MS : verified.validUntilMs - now;
        this.tokens.set(key, { provider, token: verified }, { ttl: Math.max(1, Math.min(MAX_TOKEN_CACHE_MS, until)) });
      }
      return verified.principal;
    } catch (err) {
      this.report(provider, (err as Partial<TaggedError>).outcome ?? 'rejected');
      throw err;
    }
  }

  private report(provider: JwtProvider, outcome: VerifyOutcome | 'cached'): void {
    this.settings.onProviderToken?.(provider.spec.name, outcome);
  }

  private verifyQdrantToken(token: string, key: string, now: number): Principal {
    const verified = withTokenId(this.jwt!.verify(token, now), key);
    if (this.tokens) {
      const untilExpiry = verified.exp === null ? MAX_TOKEN_CACHE_MS : (verified.exp + JWT_LEEWAY_SECONDS + 1) * 1000 - now;
      this.tokens.set(key, { qdrant: verified }, { ttl: Math.max(1, Math.min(MAX_TOKEN_CACHE_MS, untilExpiry)) });
    }
    return verified.principal;
  }
}

/** A token that names no subject gets a short digest of itself as its identity (rate limits). */
function withTokenId<T extends { readonly principal: Principal }>(verified: T, digest: string): T {
  if (verified.principal.subject !== undefined) return verified;
  return { ...verified, principal: Object.freeze({ ...verified.principal, tokenId: digest.slice(0, 16) }) };
}

/** The `iss` of a compact JWT's payload, unverified; null when there is none to read. */
export function unverifiedIssuer(token: string): string | null {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    const iss = (claims as { iss?: unknown } | null)?.iss;
    return typeof iss === 'string' ? iss : null;
  } catch {
    return null;
  }
}
