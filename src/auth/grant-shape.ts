// Qdrant's `access` shape, checked where a person writes one (the `token` and `keys` CLIs, a keys
// file, an identity provider's access claim): `m`, `r`, or a list of {collection, access} with
// distinct collections; with tenant isolation (auth.tenant_isolation) a grant may also carry
// `payload`, the tenant's conditions: {payload key: keyword, integer or boolean}. The problem is
// named by its path, e.g. `access[1].collection`.
import { shown } from './auth-yaml.js';
import type { AccessGrant, CollectionGrant, CollectionMode, TenantCondition } from './principal.js';

export const GRANT_FORM = 'm, r, or a JSON list like \'[{"collection":"c1","access":"rw"}]\'';
const MODES = ['r', 'rw', 'prw'];
const PAYLOAD_FORM = '{"payload key": keyword, integer or boolean, ...}';

export interface GrantShapeOptions {
  /** A grant may carry `payload` (tenant isolation on); else `payload` is refused as Qdrant 1.19 refuses it. */
  readonly payload?: boolean;
}

/** The grant, or what is wrong with it (naming the field). */
export function readGrant(value: unknown, name = 'access', options: GrantShapeOptions = {}): { grant: AccessGrant } | { problem: string } {
  if (value === 'm' || value === 'r') return { grant: value };
  if (!Array.isArray(value)) return { problem: `${name}: expected ${GRANT_FORM}, got ${shown(value)}` };
  const seen = new Set<string>();
  const grants: CollectionGrant[] = [];
  for (const [i, entry] of value.entries()) {
    const at = `${name}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return { problem: `${at}: expected {"collection": NAME, "access": MODE}, got ${shown(entry)}` };
    const { collection, access, payload, ...rest } = entry as Record<string, unknown>;
    if (typeof collection !== 'string') return { problem: `${at}.collection: expected a collection name, got ${shown(collection)}` };
    if (typeof access !== 'string' || !MODES.includes(access)) return { problem: `${at}.access: expected "r", "rw" or "prw", got ${shown(access)}` };
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) return { problem: `${at}: unknown field ${shown(extra)} (a grant has collection, access and, for a tenant, payload)` };
    if (seen.has(collection)) return { problem: `${at}.collection: "${collection}" is listed twice` };
    seen.add(collection);
    let conditions: TenantCondition[] | undefined;
    if ('payload' in (entry as object) && payload !== null && payload !== undefined) {
      if (!options.payload) return { problem: `${at}.payload: The 'payload' constraint is deprecated and should not be used` };
      const read = readTenant(payload, `${at}.payload`);
      if (typeof read === 'string') return { problem: read };
      conditions = read;
    }
    grants.push({ collection, access: access as CollectionMode, ...(conditions ? { payload: conditions } : {}) });
  }
  return { grant: grants };
}

/** What is wrong with a grant, naming the field; null when nothing. */
export function grantProblem(grant: unknown, name = 'access', options: GrantShapeOptions = {}): string | null {
  const read = readGrant(grant, name, options);
  return 'problem' in read ? read.problem : null;
}

/** The grant, when it has Qdrant's shape; null otherwise. */
export function asGrant(value: unknown, options: GrantShapeOptions = {}): AccessGrant | null {
  const read = readGrant(value, 'access', options);
  return 'grant' in read ? read.grant : null;
}

/**
 * A tenant key: plain segments, dotted (Qdrant's JSON path without quotes or indexes). Writes are
 * checked against the key's first segment, which a quoted key ("a.b") or an index would blur.
 */
const PLAIN_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const isTenantKey = (key: string): boolean => PLAIN_KEY.test(key);

/** `{key: value}`: at least one key, each a payload path, each value a keyword, an integer (exact) or a boolean. */
function readTenant(payload: unknown, at: string): TenantCondition[] | string {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return `${at}: expected ${PAYLOAD_FORM}, got ${shown(payload)}`;
  const conditions: TenantCondition[] = [];
  for (const [key, value] of Object.entries(payload)) {
    if (!PLAIN_KEY.test(key)) return `${at}: ${shown(key)} is not a plain payload key (e.g. "tenant" or "org.id"; quoted or indexed paths are not taken)`;
    if (typeof value === 'string' || typeof value === 'boolean') conditions.push({ key, value });
    else if (typeof value === 'bigint') conditions.push({ key, value });
    else if (typeof value === 'number' && Number.isSafeInteger(value)) conditions.push({ key, value: BigInt(value) });
    else return `${at}.${key}: expected a keyword, an integer or a boolean, got ${shown(value)}`;
  }
  if (conditions.length === 0) return `${at}: expected at least one condition, ${PAYLOAD_FORM}`;
  return conditions;
}

/** A grant from the config (validated there): its payload's integers become exact values. */
export function configGrant(value: unknown): AccessGrant {
  const read = readGrant(value, 'access', { payload: true });
  if ('problem' in read) throw new Error(read.problem);
  return read.grant;
}
