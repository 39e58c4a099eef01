import type { AddressRanges } from '../traffic/address-ranges.js';
import type { Limit } from '../traffic/local-limits.js';

// Who a call is, once authenticated: made from an access grant, whatever the credential (a JWT's
// `access` claim, a client certificate identity). Read-only; later stages require it.

export type CollectionMode = 'r' | 'rw' | 'prw';

/** Qdrant's `access` claim shape: global manage, global read, or a list of collection grants. */
export type AccessGrant = 'm' | 'r' | readonly CollectionGrant[];

export interface CollectionGrant {
  readonly collection: string;
  readonly access: CollectionMode;
}

export interface ValueExistsClaim {
  readonly collection: string;
  /** Integers are exact (bigint): a look-up asks for the value as written. */
  readonly matches: readonly { readonly key: string; readonly value: string | bigint | boolean }[];
}

/** Qdrant's audit auth types, plus `Certificate` for `auth.client_cert_identities`. */
export type AuthType = 'ApiKey' | 'Jwt' | 'None' | 'Certificate';

export interface Identity {
  readonly authType: AuthType;
  readonly subject?: string;
  readonly valueExists?: ValueExistsClaim;
  /** The identity provider that issued the token (auth.jwt_providers), for the audit. */
  readonly provider?: string;
  /** The named key used (auth.keys_file), for the audit and revocation. */
  readonly keyId?: string;
  /** A token's `jti` values and `iat`, and every name it gives its subject (`sub`, `subject`): what a revocation can name. */
  readonly jti?: readonly string[];
  readonly issuedAt?: number;
  readonly subjects?: readonly string[];
  /** A short digest of a token that names no subject: its own identity for rate limits. */
  readonly tokenId?: string;
  /** Where this identity may be used from, and its own rate limit (src/traffic); absent: the defaults. */
  readonly allowedRanges?: AddressRanges;
  readonly rateLimit?: Limit;
}

export type Principal =
  | (Identity & { readonly access: 'manage' })
  /** Global read; `writes`: collections an identity provider's token may also write (rw/prw). */
  | (Identity & { readonly access: 'read'; readonly writes?: ReadonlyMap<string, CollectionMode> })
  | (Identity & { readonly access: 'collections'; readonly collections: ReadonlyMap<string, CollectionMode> });

/** The identity of every call when no key is configured: Qdrant then has no auth layer at all. */
export const NO_AUTH_PRINCIPAL: Principal = Object.freeze({ access: 'manage', authType: 'None' });

/** The principal a grant gives. Collections must be distinct (claims and config check that first). */
export function principalFromGrant(grant: AccessGrant, identity: Identity): Principal {
  // Only the fields that are set: principals are compared and logged as they are.
  const extra = Object.fromEntries(Object.entries(identity).filter(([, v]) => v !== undefined)) as unknown as Identity;
  if (grant === 'm') return Object.freeze({ access: 'manage', ...extra });
  if (grant === 'r') return Object.freeze({ access: 'read', ...extra });
  return Object.freeze({ access: 'collections', collections: new Map(grant.map((g) => [g.collection, g.access])), ...extra });
}
