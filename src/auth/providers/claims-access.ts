// What an identity provider's token may do, from its claims (README "Identity providers"): an
// `access_claim` shaped like Qdrant's `access` claim, and `access_rules` granting access when a claim
// (a string, a list, or a space-separated `scope`) contains a value. Every grant that follows is
// combined (their union); a token from which none follows gets none: never the manage access
// Qdrant gives its own tokens without `access`. Pure: no I/O.
import { asGrant } from '../grant-shape.js';
import type { AccessGrant, CollectionMode, TenantConditions } from '../principal.js';

export interface AccessRule {
  readonly claim: string;
  readonly contains: string;
  readonly access: AccessGrant;
}

export interface ClaimsAccessSpec {
  readonly accessClaim: string | null;
  readonly rules: readonly AccessRule[];
  /** The access claim's grants may carry a tenant's `payload` (auth.tenant_isolation). */
  readonly tenantIsolation?: boolean;
}

/**
 * The union of grants: manage if any grant is `m`; else global read if any is `r`, with write modes
 * kept for the collections granted rw/prw; else the collections, each at its highest mode.
 */
export type CombinedAccess =
  | { readonly access: 'manage' }
  | { readonly access: 'read'; readonly writes: ReadonlyMap<string, CollectionMode> }
  | {
      readonly access: 'collections';
      readonly collections: ReadonlyMap<string, CollectionMode>;
      /** The tenant conditions of the collections every grant of which carries the same ones. */
      readonly tenants: ReadonlyMap<string, TenantConditions>;
    };

/** Thrown when the access claim is present but not shaped like Qdrant's `access` claim. */
export class AccessClaimError extends Error {}

/** The access the claims grant, or null when none follows from them. */
export function accessFromClaims(claims: Readonly<Record<string, unknown>>, spec: ClaimsAccessSpec): CombinedAccess | null {
  const grants: AccessGrant[] = [];
  if (spec.accessClaim !== null) {
    const value = claimAt(claims, spec.accessClaim);
    if (value !== undefined) {
      const grant = asGrant(value, { payload: spec.tenantIsolation ?? false });
      if (!grant) throw new AccessClaimError(`claim ${spec.accessClaim} is not shaped like Qdrant's access claim`);
      grants.push(grant);
    }
  }
  for (const rule of spec.rules) if (claimContains(claimAt(claims, rule.claim), rule.contains, rule.claim)) grants.push(rule.access);
  return combine(grants);
}

/** Claims whose string value is a space-separated list of scopes (the last segment of the path). */
const SCOPE_CLAIM = /(^|\.)(scope|scp)$/;

/** Mode order: r < prw < rw (prw is rw limited to points). */
const RANK: Readonly<Record<CollectionMode, number>> = { r: 0, prw: 1, rw: 2 };

export function combine(grants: readonly AccessGrant[]): CombinedAccess | null {
  if (grants.includes('m')) return { access: 'manage' };
  const modes = new Map<string, CollectionMode>();
  // A collection's tenant: the conditions every grant of it carries; null once one grant carries none.
  const tenants = new Map<string, TenantConditions | null>();
  for (const grant of grants) {
    if (typeof grant === 'string') continue;
    for (const { collection, access, payload } of grant) {
      const held = modes.get(collection);
      if (held === undefined || RANK[access] > RANK[held]) modes.set(collection, access);
      const tenant = tenants.has(collection) ? tenants.get(collection)! : (payload ?? null);
      if (payload && tenant && !sameConditions(payload, tenant))
        throw new AccessClaimError(`grants of collection ${collection} name different tenants: the union of two tenants is not a tenant`);
      tenants.set(collection, payload ? tenant : null);
    }
  }
  const bound = new Map([...tenants].filter((entry): entry is [string, TenantConditions] => entry[1] !== null));
  if (grants.includes('r')) {
    if (bound.size > 0) throw new AccessClaimError('a global read grant cannot be combined with tenant-bound grants');
    return { access: 'read', writes: new Map([...modes].filter(([, mode]) => mode !== 'r')) };
  }
  return modes.size > 0 ? { access: 'collections', collections: modes, tenants: bound } : null;
}

function sameConditions(a: TenantConditions, b: TenantConditions): boolean {
  const key = (c: TenantConditions) => JSON.stringify(c.map((x) => [x.key, typeof x.value, String(x.value)]).sort());
  return key(a) === key(b);
}

/**
 * The claim at a dotted path (`resource_access.qdrant.roles`). A key may itself contain dots, as
 * namespaced claims do (`https://example.com/roles`): at each level the longest key present wins,
 * and the path continues from it alone (no second reading of the same path).
 */
export function claimAt(claims: unknown, path: string): unknown {
  let value = claims;
  let segments = path.split('.');
  while (segments.length > 0) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const object = value as Record<string, unknown>;
    let end = segments.length;
    while (end > 0 && !Object.hasOwn(object, segments.slice(0, end).join('.'))) end--;
    if (end === 0) return undefined;
    value = object[segments.slice(0, end).join('.')];
    segments = segments.slice(end);
  }
  return value;
}

/**
 * The claim equals the value, or is a list holding it; a `scope` or `scp` claim (OAuth's
 * space-separated scopes) may also hold it as one of its words. Other strings are never split: a
 * free-text claim such as a name must not grant by containing a word.
 */
export function claimContains(claim: unknown, value: string, path = ''): boolean {
  if (typeof claim === 'string') return claim === value || (SCOPE_CLAIM.test(path) && claim.split(' ').includes(value));
  if (Array.isArray(claim)) return claim.some((item) => item === value);
  return false;
}
