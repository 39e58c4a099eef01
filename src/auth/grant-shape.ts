// Qdrant's `access` shape, checked where a person writes one (the `token` and `keys` CLIs, a keys
// file, an identity provider's access claim): `m`, `r`, or a list of {collection, access} with
// distinct collections. The problem is named by its path, e.g. `access[1].collection`.
import { shown } from './auth-yaml.js';
import type { AccessGrant } from './principal.js';

export const GRANT_FORM = 'm, r, or a JSON list like \'[{"collection":"c1","access":"rw"}]\'';
const MODES = ['r', 'rw', 'prw'];

/** What is wrong with a grant, naming the field; null when nothing. */
export function grantProblem(grant: unknown, name = 'access'): string | null {
  if (grant === 'm' || grant === 'r') return null;
  if (!Array.isArray(grant)) return `${name}: expected ${GRANT_FORM}, got ${shown(grant)}`;
  const seen = new Set<string>();
  for (const [i, entry] of grant.entries()) {
    const at = `${name}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return `${at}: expected {"collection": NAME, "access": MODE}, got ${shown(entry)}`;
    const { collection, access, ...rest } = entry as Record<string, unknown>;
    if (typeof collection !== 'string') return `${at}.collection: expected a collection name, got ${shown(collection)}`;
    if (typeof access !== 'string' || !MODES.includes(access)) return `${at}.access: expected "r", "rw" or "prw", got ${shown(access)}`;
    if ('payload' in rest) return `${at}.payload: The 'payload' constraint is deprecated and should not be used`;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) return `${at}: unknown field ${shown(extra)} (a grant has collection and access)`;
    if (seen.has(collection)) return `${at}.collection: "${collection}" is listed twice`;
    seen.add(collection);
  }
  return null;
}

/** The grant, when it has Qdrant's shape; null otherwise. */
export function asGrant(value: unknown): AccessGrant | null {
  return grantProblem(value) === null ? (value as AccessGrant) : null;
}
