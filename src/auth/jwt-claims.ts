// Qdrant's JWT claims, read as Qdrant reads them. jsonwebtoken deserializes the payload twice: into
// Qdrant's `Claims` (sub, exp: u64, access, value_exists, subject) and into its own
// `ClaimsForValidation` (exp, nbf, sub, iss, aud), and either failing makes the token "not a JWT"
// (UNAUTHENTICATED). Both are serde structs: a field given twice fails; unknown fields are skipped.
// Expiry is checked next (PERMISSION_DENIED), then Qdrant's claims validation.
import { ProxyError } from '../errors.js';
import { isTenantKey } from './grant-shape.js';
import { allStringsValid, type JsonValue, parseStrictJson, structFields } from './json-strict.js';
import type { AccessGrant, CollectionGrant, CollectionMode, TenantCondition, ValueExistsClaim } from './principal.js';

export const JWT_LEEWAY_SECONDS = 30;

export interface Claims {
  /** Seconds since the epoch; null when absent (never expires). Beyond 2^53 it is approximate, which only ever compares as "far future". */
  readonly exp: number | null;
  readonly access: AccessGrant;
  /** The `payload` of the grants that carry one, by index: refused by validation (Qdrant 1.19), or, with tenant isolation, the tenant's conditions. */
  readonly payloads: ReadonlyMap<number, JsonValue>;
  readonly valueExists: ValueExistsClaim | null;
  /** `subject`, else `sub`: what audit records name. */
  readonly subject: string | undefined;
  /** What a revocation can name (Qdrant ignores these claims): every `jti` string, the earliest numeric `iat`, `sub` and `subject`. */
  readonly jti: readonly string[];
  readonly iat: number | undefined;
  readonly subjects: readonly string[];
}

const CLAIMS_FIELDS = ['sub', 'exp', 'access', 'value_exists', 'subject', 'nbf', 'iss', 'aud'];
const GRANT_FIELDS = ['collection', 'access', 'payload'];
const MODES: ReadonlySet<string> = new Set(['r', 'rw', 'prw']);
const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** The claims; null where Qdrant treats the token as not a JWT at all. */
export function readClaims(payload: JsonValue): Claims | null {
  const fields = structFields(payload, CLAIMS_FIELDS);
  if (!fields) return null;
  const sub = optionalString(fields.get('sub'));
  const subject = optionalString(fields.get('subject'));
  if (sub === false || subject === false) return null;
  const exp = readExp(fields.get('exp'));
  if (exp === false) return null;
  const access = readAccess(fields.get('access'));
  if (!access) return null;
  const valueExists = readValueExists(fields.get('value_exists'));
  if (valueExists === false) return null;
  if (!ignoredByValidation(fields.get('nbf'), 'nbf') || !ignoredByValidation(fields.get('iss'), 'any') || !ignoredByValidation(fields.get('aud'), 'any'))
    return null;
  const revocable = revocationClaims(payload);
  return {
    exp,
    access: access.grant,
    payloads: access.payloads,
    valueExists,
    subject: subject ?? sub ?? undefined,
    ...revocable,
    subjects: [sub, subject].filter((v): v is string => typeof v === 'string'),
  };
}

/** `jti` and `iat` as a deny-list needs them: every value given (a repeated claim is not a way around it). */
function revocationClaims(payload: JsonValue): { jti: string[]; iat: number | undefined } {
  const jti: string[] = [];
  let iat: number | undefined;
  if (payload.kind !== 'object') return { jti, iat };
  for (const { key, value } of payload.entries) {
    if (key === 'jti' && value.kind === 'string') jti.push(value.value);
    if (key === 'iat' && value.kind === 'number') iat = Math.min(iat ?? Number.POSITIVE_INFINITY, Number(value.text));
  }
  return { jti, iat };
}

/** An identity provider token's `value_exists` claim, read as Qdrant reads its own: null when absent, false when malformed. */
export function readValueExistsClaim(payload: Uint8Array): ValueExistsClaim | null | false {
  const json = parseStrictJson(payload);
  const fields = json ? structFields(json, ['value_exists']) : null;
  return fields ? readValueExists(fields.get('value_exists')) : false;
}

/** Qdrant's expiry rule: expired iff exp < now − 30 s, with `now` in whole seconds. */
export function isExpired(exp: number | null, nowMs: number): boolean {
  return exp !== null && exp < Math.floor(nowMs / 1000) - JWT_LEEWAY_SECONDS;
}

/**
 * Qdrant's claims validation (after expiry): deprecated `payload`, a collection listed twice. With
 * tenant isolation (beyond Qdrant) a `payload` is read as the tenant's conditions instead. Returns
 * the grant the token gives.
 */
export function validateClaims(claims: Claims, options: { tenantIsolation?: boolean } = {}): AccessGrant {
  if (claims.access === 'm' || claims.access === 'r') return claims.access;
  const problems: string[] = [];
  const seen = new Set<string>();
  const grants = claims.access.map((grant, i) => {
    const payload = claims.payloads.get(i);
    if (seen.has(grant.collection)) problems.push(`access[${i}].collection: Collection name should be unique`);
    seen.add(grant.collection);
    if (!payload) return grant;
    if (!options.tenantIsolation) {
      problems.push(`access[${i}].payload: The 'payload' constraint is deprecated and should not be used`);
      return grant;
    }
    const tenant = readTenantConditions(payload);
    if (!tenant) {
      problems.push(`access[${i}].payload: expected {"payload key": keyword, integer or boolean, ...}`);
      return grant;
    }
    return { ...grant, payload: tenant };
  });
  if (problems.length > 0) throw new ProxyError('jwt_claims_invalid', { detail: problems.join('') });
  return grants;
}

/** A tenant's conditions as a token writes them: an object of payload paths to keywords, i64 integers (exact) or booleans; a key given twice is refused. */
function readTenantConditions(value: JsonValue): TenantCondition[] | null {
  if (value.kind !== 'object' || value.entries.length === 0) return null;
  const keys = new Set<string>();
  const out: TenantCondition[] = [];
  for (const { key, keyValid, value: v } of value.entries) {
    if (!keyValid || keys.has(key) || !isTenantKey(key)) return null;
    keys.add(key);
    const scalar = matchValue(v);
    if (scalar === null) return null;
    out.push({ key, value: scalar });
  }
  return out;
}

/** `Option<String>`: undefined when absent or null, false when not a valid string. */
function optionalString(value: JsonValue | undefined): string | undefined | false {
  if (value === undefined || value.kind === 'null') return undefined;
  return value.kind === 'string' && value.valid ? value.value : false;
}

/**
 * `exp`: absent, or an unsigned integer as written (Qdrant's `Option<u64>`). A null, a negative
 * (even -0) or a float fails jsonwebtoken's own reading of it (InvalidClaimFormat).
 */
function readExp(value: JsonValue | undefined): number | null | false {
  if (value === undefined) return null;
  if (value.kind !== 'number' || !value.integer || value.text.startsWith('-') || BigInt(value.text) > U64_MAX) return false;
  return Number(value.text);
}

/** `access` (untagged: "r", "m" or a list of grants; absent means manage). serde buffers it whole, so every string in it must be valid. */
function readAccess(value: JsonValue | undefined): { grant: AccessGrant; payloads: Map<number, JsonValue> } | null {
  if (value === undefined) return { grant: 'm', payloads: new Map() };
  if (!allStringsValid(value)) return null;
  if (value.kind === 'string') return value.value === 'r' || value.value === 'm' ? { grant: value.value, payloads: new Map() } : null;
  if (value.kind !== 'array') return null;
  const grants: CollectionGrant[] = [];
  const payloads = new Map<number, JsonValue>();
  for (const [i, item] of value.items.entries()) {
    const fields = structFields(item, GRANT_FIELDS);
    const collection = fields?.get('collection');
    const mode = fields?.get('access');
    if (!fields || collection?.kind !== 'string' || mode?.kind !== 'string' || !MODES.has(mode.value)) return null;
    const payload = fields.get('payload');
    if (payload !== undefined && payload.kind !== 'null') payloads.set(i, payload);
    grants.push({ collection: collection.value, access: mode.value as CollectionMode });
  }
  return { grant: grants, payloads };
}

/** `value_exists`: null, or `{collection, matches: [{key: JSON path, value: string | i64 | bool}]}`. */
function readValueExists(value: JsonValue | undefined): ValueExistsClaim | null | false {
  if (value === undefined || value.kind === 'null') return null;
  const fields = structFields(value, ['collection', 'matches']);
  const collection = fields?.get('collection');
  const matches = fields?.get('matches');
  if (!fields || collection?.kind !== 'string' || !collection.valid || matches?.kind !== 'array') return false;
  const out: { key: string; value: string | bigint | boolean }[] = [];
  for (const item of matches.items) {
    const pair = structFields(item, ['key', 'value']);
    const key = pair?.get('key');
    const v = pair?.get('value');
    if (!pair || key?.kind !== 'string' || !key.valid || !isJsonPath(key.value) || v === undefined) return false;
    const scalar = matchValue(v);
    if (scalar === null) return false;
    out.push({ key: key.value, value: scalar });
  }
  return Object.freeze({ collection: collection.value, matches: Object.freeze(out.map((m) => Object.freeze(m))) });
}

/** Qdrant's `ValueVariants` (untagged): a string, an i64 written as an integer, or a boolean. */
function matchValue(v: JsonValue): string | bigint | boolean | null {
  if (v.kind === 'string') return v.valid ? v.value : null;
  if (v.kind === 'bool') return v.value;
  if (v.kind === 'number' && v.integer) {
    const n = BigInt(v.text);
    return n >= I64_MIN && n <= I64_MAX ? n : null;
  }
  return null;
}

/**
 * What jsonwebtoken's validation-only reading accepts for a field it then ignores (Qdrant checks no
 * `nbf`, `iss` or `aud`): `any` (iss, aud) is buffered whole, so its strings must be valid; `nbf` is
 * read as a number, where a string must be valid and a non-empty array or object breaks the parse.
 */
function ignoredByValidation(value: JsonValue | undefined, kind: 'nbf' | 'any'): boolean {
  if (value === undefined) return true;
  if (kind === 'any') return allStringsValid(value);
  if (value.kind === 'string') return value.valid;
  if (value.kind === 'array') return value.items.length === 0;
  if (value.kind === 'object') return value.entries.length === 0;
  return true;
}

// Qdrant's JSON path grammar (lib/segment/src/json_path/parse.rs): a key (letters, digits, `_`, `-`,
// or a double-quoted string without `"` and `\`), then any of `.key`, `[index]` (fits in usize) or `[]`.
const RAW_KEY = String.raw`[\p{Alphabetic}\p{N}_-]+`;
const QUOTED_KEY = String.raw`"[^"\\]*"`;
const JSON_PATH = new RegExp(String.raw`^(?:${RAW_KEY}|${QUOTED_KEY})(?:\.(?:${RAW_KEY}|${QUOTED_KEY})|\[(\d+)\]|\[\])*$`, 'u');
const INDEX = /\[(\d+)\]/g;

export function isJsonPath(path: string): boolean {
  if (!JSON_PATH.test(path)) return false;
  for (const m of path.replace(new RegExp(QUOTED_KEY, 'g'), '""').matchAll(INDEX)) if (BigInt(m[1]!) > U64_MAX) return false;
  return true;
}
