// What an identity provider's token may do, from its claims (README "Identity providers"): an
// `access_claim` shaped like Qdrant's `access` claim, and `access_rules` granting access when a claim
// (a string, a list, or a space-separated `scope`) contains a value. Every grant that follows is
// combined (their union); a token from which none follows gets none: never the manage access
// Qdrant gives its own tokens without `access`. Pure: no I/O.
import type { AccessGrant, CollectionMode } from '../principal.js';

export interface AccessRule {
  readonly claim: string;
  readonly contains: string;
  readonly access: AccessGrant;
}

export interface ClaimsAccessSpec {
  readonly accessClaim: string | null;
  readonly rules: readonly AccessRule[];
}

/**
 * The union of grants: manage if any grant is `m`; else global read if any is `r`, with write modes
 * kept for the collections granted rw/prw; else the collections, each at its highest mode.
 */
export type CombinedAccess =
  | { readonly access: 'manage' }
  | { readonly access: 'read'; readonly writes: ReadonlyMap<string, CollectionMode> }
  | { readonly access: 'collections'; readonly collections: ReadonlyMap<string, CollectionMode> };

/** Thrown when the access claim is present but not shaped like Qdrant's `access` claim. */
export class AccessClaimError extends Error {}

/** The access the claims grant, or null when none follows from them. */
export function accessFromClaims(claims: Readonly<Record<string, unknown>>, spec: ClaimsAccessSpec): CombinedAccess | null {
  const grants: AccessGrant[] = [];
  if (spec.accessClaim !== null) {
    const value = claimAt(claims, spec.accessClaim);
    if (value !== undefined) {
      const grant = readGrant(value);
      if (!grant) throw new AccessClaimError(`claim ${spec.accessClaim} is not shaped like Qdrant's access claim`);
      grants.push(grant);
    }
  }
  for (const rule of spec.rules) if (claimContains(claimAt(claims, rule.claim), rule.contains)) grants.push(rule.access);
  return combine(grants);
}

/** Mode order: r < prw < rw (prw is rw limited to points). */
const RANK: Readonly<Record<CollectionMode, number>> = { r: 0, prw: 1, rw: 2 };

export function combine(grants: readonly AccessGrant[]): CombinedAccess | null {
  if (grants.includes('m')) return { access: 'manage' };
  const modes = new Map<string, CollectionMode>();
  for (const grant of grants) {
    if (typeof grant === 'string') continue;
    for (const { collection, access } of grant) {
      const held = modes.get(collection);
      if (held === undefined || RANK[access] > RANK[held]) modes.set(collection, access);
    }
  }
  if (grants.includes('r')) return { access: 'read', writes: new Map([...modes].filter(([, mode]) => mode !== 'r')) };
  return modes.size > 0 ? { access: 'collections', collections: modes } : null;
}

/**
 * The claim at a dotted path (`resource_access.qdrant.roles`). A key may itself contain dots, as
 * namespaced claims do (`https://example.com/roles`): at each level the longest key present wins.
 */
export function claimAt(claims: unknown, path: string): unknown {
  return lookUp(claims, path.split('.'));
}

function lookUp(value: unknown, segments: readonly string[]): unknown {
  if (segments.length === 0) return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  for (let end = segments.length; end > 0; end--) {
    const key = segments.slice(0, end).join('.');
    if (Object.hasOwn(value, key)) {
      const found = lookUp((value as Record<string, unknown>)[key], segments.slice(end));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** A string equal to the value or holding it as one of its space-separated words (`scope`); a list holding it. */
export function claimContains(claim: unknown, value: string): boolean {
  if (typeof claim === 'string') return claim === value || claim.split(' ').includes(value);
  if (Array.isArray(claim)) return claim.some((item) => item === value);
  return false;
}

const MODES: ReadonlySet<string> = new Set(['r', 'rw', 'prw']);

/** Qdrant's `access` shape: "m", "r", or a list of {collection, access} with distinct collections. */
function readGrant(value: unknown): AccessGrant | null {
  if (value === 'm' || value === 'r') return value;
  if (!Array.isArray(value)) return null;
  const seen = new Set<string>();
  const grants: { collection: string; access: CollectionMode }[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
    const { collection, access, ...rest } = item as Record<string, unknown>;
    if (typeof collection !== 'string' || typeof access !== 'string' || !MODES.has(access) || Object.keys(rest).length > 0) return null;
    if (seen.has(collection)) return null;
    seen.add(collection);
    grants.push({ collection, access: access as CollectionMode });
  }
  return grants;
}
