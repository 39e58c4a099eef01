// Who is calling: Qdrant's order (full key or alt key → read-only key → JWT), compiled once from
// config. Verified tokens are cached by their SHA-256, bounded, and never served past `exp`.
import type { PeerCertificate } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { ProxyError } from '../errors.js';
import type { RequestMetadata } from '../grpc/metadata.js';
import { digest, KeyMatcher } from './api-keys.js';
import type { CertificateIdentities } from './client-certificate.js';
import { extractCredential } from './credentials.js';
import { JwtVerifier, type VerifiedToken } from './jwt.js';
import { isExpired, JWT_LEEWAY_SECONDS } from './jwt-claims.js';
import { NO_AUTH_PRINCIPAL, type Principal } from './principal.js';

export interface AuthSettings {
  readonly apiKey: string | null;
  readonly altApiKey: string | null;
  readonly readOnlyApiKey: string | null;
  readonly jwtRbac: boolean;
  readonly maxCredentialBytes: number;
  readonly tokenCacheSize: number;
  readonly certificateIdentities: CertificateIdentities;
  readonly now: () => number;
}

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
  private readonly tokens: LRUCache<string, VerifiedToken> | null;

  constructor(private readonly settings: AuthSettings) {
    this.manageKeys = new KeyMatcher([settings.apiKey, settings.altApiKey]);
    this.readKeys = new KeyMatcher([settings.readOnlyApiKey]);
    this.enabled = !this.manageKeys.empty || !this.readKeys.empty || !settings.certificateIdentities.empty;
    const secrets = [settings.apiKey, settings.altApiKey].filter((k): k is string => k !== null);
    this.jwt = settings.jwtRbac && secrets.length > 0 ? new JwtVerifier(secrets) : null;
    this.tokens =
      this.jwt && settings.tokenCacheSize > 0
        ? new LRUCache<string, VerifiedToken>({ max: settings.tokenCacheSize, ttl: MAX_TOKEN_CACHE_MS, ttlResolution: 0, perf: { now: settings.now } })
        : null;
  }

  /** `peerCertificate` is asked for only when the call has no credential and identities are configured. */
  authenticate(metadata: RequestMetadata, peerCertificate?: () => PeerCertificate | undefined): Principal {
    if (!this.enabled) return NO_AUTH_PRINCIPAL;
    const credential = extractCredential(metadata, this.settings.maxCredentialBytes);
    if (credential.kind === 'none') {
      const identities = this.settings.certificateIdentities;
      const fromCertificate = identities.empty || !peerCertificate ? null : identities.principalFor(peerCertificate());
      if (fromCertificate) return fromCertificate;
      throw new ProxyError('missing_credentials');
    }
    // One SHA-256 of the credential serves the key comparisons and the token cache.
    const hashed = digest(credential.value);
    if (this.manageKeys.matchesDigest(hashed)) return MANAGE_KEY;
    if (this.readKeys.matchesDigest(hashed)) return READ_KEY;
    if (!this.jwt) throw new ProxyError('invalid_credentials');
    return this.verifyToken(credential.value, hashed).principal;
  }

  private verifyToken(token: string, hashed: Buffer): VerifiedToken {
    const now = this.settings.now();
    const key = this.tokens ? hashed.toString('base64') : '';
    const cached = this.tokens?.get(key);
    if (cached) {
      if (!isExpired(cached.exp, now)) return cached;
      this.tokens!.delete(key);
    }
    const verified = this.jwt!.verify(token, now);
    if (this.tokens) {
      const untilExpiry = verified.exp === null ? MAX_TOKEN_CACHE_MS : (verified.exp + JWT_LEEWAY_SECONDS + 1) * 1000 - now;
      this.tokens.set(key, verified, { ttl: Math.max(1, Math.min(MAX_TOKEN_CACHE_MS, untilExpiry)) });
    }
    return verified;
  }
}
