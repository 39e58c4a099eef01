// One identity provider's tokens (auth.jwt_providers): verified with jose against the provider's own
// key set (key-source.ts), only with the asymmetric algorithms configured for it, for its issuer and
// audiences, within its clock leeway; then its claims give the access (claims-access.ts). The
// header may not name a key to use (`jwk`, `jku`, `x5u`): keys come from the provider's set only.
import { decodeProtectedHeader, errors, type JWTPayload, type JWTVerifyOptions, jwtVerify } from 'jose';
import { ProxyError } from '../../errors.js';
import type { AddressRanges } from '../../traffic/address-ranges.js';
import { strictBase64url } from '../jwt.js';
import { readValueExistsClaim } from '../jwt-claims.js';
import { type Principal, principalFromGrant } from '../principal.js';
import { AccessClaimError, accessFromClaims, type ClaimsAccessSpec, claimAt } from './claims-access.js';
import type { KeyResolver, KeySource } from './key-source.js';

export interface ProviderSpec {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly leewaySeconds: number;
  readonly requireExp: boolean;
  readonly requireIat: boolean;
  readonly maxTokenAgeSeconds: number | null;
  readonly subjectClaim: string;
  readonly access: ClaimsAccessSpec;
  /** Where this provider's tokens may be used from (null: wherever the global rules allow). */
  readonly allowedRanges: AddressRanges | null;
}

/** How a verification ended, for the metrics (a bounded set). */
export type VerifyOutcome = 'ok' | 'expired' | 'invalid_signature' | 'unknown_key' | 'rejected' | 'no_access' | 'keys_unavailable';

export interface ProviderToken {
  readonly principal: Principal;
  /** Epoch ms after which the token is no longer valid; null: it never expires. */
  readonly validUntilMs: number | null;
  /** The key set it was verified with: once the provider's set changes, the token is verified again. */
  readonly verifiedWith: KeyResolver;
}

/** Longer key ids are refused before any key look-up (real ones are tens of characters). */
export const MAX_KID_LENGTH = 256;
/** Keys a token without `kid` is tried with: each costs a signature check, and the caller may be anyone. */
export const MAX_CANDIDATE_KEYS = 4;
const KEY_NAMING_HEADERS = ['jwk', 'jku', 'x5u'] as const;

export class JwtProvider {
  private readonly options: JWTVerifyOptions;

  constructor(
    readonly spec: ProviderSpec,
    private readonly keys: KeySource,
  ) {
    const required = [...(spec.requireExp ? ['exp'] : []), ...(spec.requireIat ? ['iat'] : [])];
    this.options = {
      algorithms: [...spec.algorithms],
      issuer: spec.issuer,
      audience: [...spec.audiences],
      clockTolerance: spec.leewaySeconds,
      requiredClaims: required,
      ...(spec.maxTokenAgeSeconds !== null ? { maxTokenAge: spec.maxTokenAgeSeconds } : {}),
    };
  }

  /** The key set in force; null once it is older than its maximum staleness (or there never was one): tokens are refused. */
  currentKeys(): KeyResolver | null {
    return this.keys.resolver();
  }

  /** The token's principal; throws the client's error, tagged with the outcome for the metrics. */
  async verify(token: string, nowMs: number): Promise<ProviderToken> {
    this.checkHeader(token);
    const options = { ...this.options, currentDate: new Date(nowMs) };
    let payload: JWTPayload;
    let keys = await this.resolver();
    try {
      payload = (await this.verifyWithKeys(token, options, keys)).payload;
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw providerError(err);
      // A key the set lacks: the provider may have rotated; fetch again (rate-limited) and retry once.
      if (!(await this.keys.refetchForUnknownKid())) throw rejected('unknown_key', 'the signing key is unknown');
      keys = await this.resolver();
      try {
        payload = (await this.verifyWithKeys(token, options, keys)).payload;
      } catch (again) {
        throw again instanceof errors.JWKSNoMatchingKey ? rejected('unknown_key', 'the signing key is unknown') : providerError(again);
      }
    }
    return { principal: this.principalOf(token, payload), validUntilMs: this.validUntil(payload), verifiedWith: keys };
  }

  /** A token without `kid` matching several keys is tried with each, up to MAX_CANDIDATE_KEYS. */
  private async verifyWithKeys(token: string, options: JWTVerifyOptions, resolver: KeyResolver) {
    try {
      return await jwtVerify(token, resolver, options);
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      let tried = 0;
      for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
        if (++tried > MAX_CANDIDATE_KEYS) break;
        try {
          return await jwtVerify(token, key, options);
        } catch (failed) {
          if (!(failed instanceof errors.JWSSignatureVerificationFailed)) throw failed;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  /** The key set, waiting for a fetch under way (start-up); refused when there is none to use. */
  private async resolver(): Promise<KeyResolver> {
    const now = this.keys.resolver();
    if (now) return now;
    await this.keys.refetchForUnknownKid();
    const after = this.keys.resolver();
    if (!after) throw tagged(new ProxyError('provider_keys_unavailable'), 'keys_unavailable');
    return after;
  }

  /** Cheap refusals before any key look-up. */
  private checkHeader(token: string): void {
    // One spelling per token: jose decodes base64url loosely, so other trailing bits in a segment
    // would give a second text for the same token, and a revocation or a limit keyed on the text
    // could be stepped around.
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((part) => strictBase64url(part) === null)) throw rejected('rejected', 'malformed token');
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
    } catch {
      throw rejected('rejected', 'malformed token');
    }
    for (const name of KEY_NAMING_HEADERS) if (name in header) throw rejected('rejected', `the header names a key (${name}), which is never used`);
    if (typeof header.alg !== 'string' || !this.spec.algorithms.includes(header.alg)) throw rejected('rejected', 'the algorithm is not accepted');
    if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length > MAX_KID_LENGTH)) throw rejected('rejected', 'malformed key id');
  }

  private principalOf(token: string, payload: JWTPayload): Principal {
    let access: ReturnType<typeof accessFromClaims>;
    try {
      access = accessFromClaims(payload, this.spec.access);
    } catch (err) {
      if (err instanceof AccessClaimError) throw rejected('rejected', err.message);
      throw err;
    }
    if (!access) throw tagged(new ProxyError('provider_no_access'), 'no_access');
    const valueExists = readValueExistsClaim(Buffer.from(token.split('.')[1]!, 'base64url'));
    if (valueExists === false) throw rejected('rejected', 'the value_exists claim is malformed');
    const named = claimAt(payload, this.spec.subjectClaim);
    const subject = typeof named === 'string' || typeof named === 'number' ? String(named) : undefined;
    // What a revocation can name: the audit subject, `sub` and `subject`; `jti`; `iat`.
    const subjects = [...new Set([subject, payload.sub, payload.subject].filter((v): v is string => typeof v === 'string'))];
    const identity = {
      authType: 'Jwt' as const,
      provider: this.spec.name,
      ...(subject !== undefined ? { subject } : {}),
      ...(valueExists ? { valueExists } : {}),
      ...(typeof payload.jti === 'string' ? { jti: [payload.jti] } : {}),
      ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat } : {}),
      ...(subjects.length > 0 ? { subjects } : {}),
      ...(this.spec.allowedRanges ? { allowedRanges: this.spec.allowedRanges } : {}),
    };
    if (access.access === 'manage') return Object.freeze({ access: 'manage', ...identity });
    if (access.access === 'read') return Object.freeze({ access: 'read', ...(access.writes.size > 0 ? { writes: access.writes } : {}), ...identity });
    // A provider's grants may name patterns (`prefix*`): the proxy's own credentials always may.
    const grants = [...access.collections].map(([collection, mode]) => ({
      collection,
      access: mode,
      ...(access.tenants.has(collection) ? { payload: access.tenants.get(collection)! } : {}),
    }));
    return principalFromGrant(grants, identity, { patterns: true });
  }

  private validUntil(payload: JWTPayload): number | null {
    const leewayMs = this.spec.leewaySeconds * 1000;
    const limits: number[] = [];
    if (typeof payload.exp === 'number') limits.push(payload.exp * 1000 + leewayMs);
    if (this.spec.maxTokenAgeSeconds !== null && typeof payload.iat === 'number') limits.push((payload.iat + this.spec.maxTokenAgeSeconds) * 1000 + leewayMs);
    return limits.length > 0 ? Math.min(...limits) : null;
  }
}

/** A ProxyError carrying the verification outcome for the metrics. */
export type TaggedError = ProxyError & { readonly outcome: VerifyOutcome };

function tagged(err: ProxyError, outcome: VerifyOutcome): TaggedError {
  return Object.assign(err, { outcome });
}

function rejected(outcome: VerifyOutcome, detail: string): TaggedError {
  return tagged(new ProxyError('provider_token_rejected', { detail }), outcome);
}

/** jose's verdicts as the client's status: Qdrant's wording where Qdrant has one, a fixed phrase otherwise. */
function providerError(err: unknown): TaggedError {
  if (err instanceof ProxyError) return 'outcome' in err ? (err as TaggedError) : tagged(err, 'rejected');
  if (err instanceof errors.JWTExpired) return tagged(new ProxyError('jwt_expired'), 'expired');
  if (err instanceof errors.JWSSignatureVerificationFailed) return tagged(new ProxyError('jwt_invalid_signature'), 'invalid_signature');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const what = err.reason === 'missing' ? 'is missing' : err.claim === 'nbf' ? 'is in the future (not yet valid)' : 'is not accepted';
    return rejected('rejected', `claim ${err.claim} ${what}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return rejected('rejected', 'the algorithm is not accepted');
  // Malformed tokens and keys that do not suit the algorithm (e.g. an RSA key under 2048 bits).
  return rejected('rejected', 'malformed token or unusable key');
}
