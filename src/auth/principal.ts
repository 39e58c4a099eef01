import type { AddressRanges } from '../traffic/address-ranges.js';
import type { Limit } from '../traffic/local-limits.js';

// Who a call is, once authenticated: made from an access grant, whatever the credential (a JWT's
// `access` claim, a client certificate identity). Read-only; later stages require it.

export type CollectionMode = 'r' | 'rw' | 'prw';

/** Qdrant's `access` claim shape: global manage, global read, or a list of collection grants. */
export type AccessGrant = 'm' | 'r' | readonly CollectionGrant[];

export interface CollectionGrant {
  /** A collection name; with patterns allowed, `prefix*` names every collection starting with `prefix`. */
  readonly collection: string;
  readonly access: CollectionMode;
  /** Tenant isolation (auth.tenant_isolation): the points of the collection this grant confines to. */
  readonly payload?: TenantConditions;
}

/** An AND of exact matches on payload keys: what a tenant-bound grant confines a caller to. */
export type TenantConditions = readonly TenantCondition[];

export interface TenantCondition {
  /** A payload key (Qdrant JSON path). */
  readonly key: string;
  /** Integers are exact (bigint), as value_exists reads them. */
  readonly value: string | bigint | boolean;
}

/** Collections granted by a `prefix*` pattern. */
export interface CollectionPattern {
  readonly prefix: string;
  readonly mode: CollectionMode;
  readonly tenant: TenantConditions | null;
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
  | (Identity & {
      readonly access: 'collections';
      /** Collections granted by name. */
      readonly collections: ReadonlyMap<string, CollectionMode>;
      /** Collections granted by pattern (after the names: a name's grant wins). */
      readonly patterns?: readonly CollectionPattern[];
      /** The tenant conditions of the collections whose grants carry them (by name). */
      readonly tenants?: ReadonlyMap<string, TenantConditions>;
    });

/** The identity of every call when no key is configured: Qdrant then has no auth layer at all. */
export const NO_AUTH_PRINCIPAL: Principal = Object.freeze({ access: 'manage', authType: 'None' });

export interface GrantOptions {
  /** `prefix*` grants name patterns (else `*` is a literal character, as in Qdrant). */
  readonly patterns?: boolean;
}

/** The principal a grant gives. Collections must be distinct (claims and config check that first). */
export function principalFromGrant(grant: AccessGrant, identity: Identity, options: GrantOptions = {}): Principal {
  // Only the fields that are set: principals are compared and logged as they are.
  const extra = Object.fromEntries(Object.entries(identity).filter(([, v]) => v !== undefined)) as unknown as Identity;
  if (grant === 'm') return Object.freeze({ access: 'manage', ...extra });
  if (grant === 'r') return Object.freeze({ access: 'read', ...extra });
  const collections = new Map<string, CollectionMode>();
  const tenants = new Map<string, TenantConditions>();
  const patterns: CollectionPattern[] = [];
  for (const g of grant) {
    if (options.patterns && g.collection.endsWith('*')) {
      patterns.push({ prefix: g.collection.slice(0, -1), mode: g.access, tenant: g.payload ?? null });
      continue;
    }
    collections.set(g.collection, g.access);
    if (g.payload) tenants.set(g.collection, g.payload);
  }
  // Longest prefix first: the most specific pattern decides.
  patterns.sort((a, b) => b.prefix.length - a.prefix.length);
  return Object.freeze({
    access: 'collections',
    collections,
    ...(patterns.length > 0 ? { patterns } : {}),
    ...(tenants.size > 0 ? { tenants } : {}),
    ...extra,
  });
}

type CollectionsPrincipal = Extract<Principal, { access: 'collections' }>;

/** The mode a collections principal has on a collection (as the request names it), by name, else by pattern. */
export function grantedMode(principal: CollectionsPrincipal, collection: string): CollectionMode | undefined {
  return principal.collections.get(collection) ?? principal.patterns?.find((p) => collection.startsWith(p.prefix))?.mode;
}

/** The tenant conditions that confine a principal on a collection; null when it is not tenant-bound there. */
export function tenantOf(principal: Principal, collection: string): TenantConditions | null {
  if (principal.access !== 'collections') return null;
  if (principal.collections.has(collection)) return principal.tenants?.get(collection) ?? null;
  return principal.patterns?.find((p) => collection.startsWith(p.prefix))?.tenant ?? null;
}
