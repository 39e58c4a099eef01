// Qdrant's access checks for one call (lib/storage/src/rbac semantics, see README "Access model"):
// which principal may call which rule, with which message when not. Pure: no I/O.
import { type CollectionMode, grantedMode, type Principal } from '../auth/principal.js';
import { ProxyError } from '../errors.js';
import type { ListFilter } from './access-table.js';
import type { CompiledRule } from './compile-rules.js';
import { stringsAt } from './request-fields.js';

export interface Decision {
  /** Collections the request names (decoded only when the decision needed them). */
  readonly collections: readonly string[];
  /** Set when the reply must be filtered to what a collection-scoped token may see. */
  readonly filter: ListFilter | null;
}

/** Allowed, nothing decoded, nothing to filter. */
export const ALLOW: Decision = Object.freeze({ collections: Object.freeze([]) as readonly string[], filter: null });

/**
 * The decision when the method's row alone settles it (health checks, lists, global methods): made
 * on the request headers, before any body byte is read. Null when it needs the request's collections.
 */
export function authorizeOnHeaders(rule: CompiledRule, principal: Principal): Decision | null {
  const need = rule.need;
  switch (need.scope) {
    case 'none':
      return ALLOW;
    case 'list':
      return principal.access === 'collections' ? { collections: [], filter: rule.replyFilter } : ALLOW;
    case 'global':
      if (principal.access === 'collections') throw new ProxyError('global_access_required');
      if (principal.access === 'read' && need.manage) throw new ProxyError('global_manage_required');
      return ALLOW;
    case 'collection':
      return null;
  }
}

/** The decision for a collection-scoped method, from the collections the request names. */
export function authorizeCollections(rule: CompiledRule, principal: Principal, request: Uint8Array): Decision {
  const need = rule.need;
  if (need.scope !== 'collection') return authorizeOnHeaders(rule, principal)!;
  if (principal.access === 'manage') return ALLOW;
  if (principal.access === 'read') {
    if (!need.write && !need.manage) return ALLOW;
    if (!principal.writes || need.manage) throw new ProxyError('global_manage_required');
  }
  const names = stringsAt(request, rule.collectionSteps!);
  if (names.length === 0) names.push(''); // proto3 default: an absent name is the empty string
  if (principal.access === 'read') {
    // Global read with write grants on some collections (an identity provider's combined access).
    const writes = principal.writes!;
    for (const name of names) {
      if (!writes.has(name)) throw new ProxyError('global_manage_required');
      checkCollection(writes.get(name), name, need);
    }
    return { collections: names, filter: null };
  }
  for (const name of names) checkCollection(grantedMode(principal, name), name, need);
  for (const steps of rule.lookupSteps) {
    for (const lookup of stringsAt(request, steps)) {
      if (grantedMode(principal, lookup) === undefined) throw new ProxyError('collection_access_required', { collection: lookup });
    }
  }
  return { collections: names, filter: rule.replyFilter };
}

function checkCollection(
  mode: CollectionMode | undefined,
  collection: string,
  need: { readonly write: boolean; readonly manage: boolean; readonly extras: boolean },
): void {
  if (mode === undefined) throw new ProxyError('collection_access_required', { collection });
  if (need.extras && mode === 'prw') throw new ProxyError('points_only', { collection });
  if (need.write && mode === 'r') throw new ProxyError('write_access_required', { collection });
  if (need.manage) throw new ProxyError('manage_access_required');
}
