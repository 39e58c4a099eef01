// Qdrant's JWT claims, parsed with Qdrant's rules: wrong JSON types make the token "not a JWT"
// (UNAUTHENTICATED), expiry is checked next (PERMISSION_DENIED), then Qdrant's own validation.
import { ProxyError } from '../errors.js';
import type { CollectionMode, Principal, ValueExistsClaim } from './principal.js';

export const JWT_LEEWAY_SECONDS = 30;

const MODES: ReadonlySet<string> = new Set(['r', 'rw', 'prw']);
const I64_MIN = -(2 ** 63);
const I64_MAX = 2 ** 63;

/** Parses the payload; returns null where Qdrant would treat the token as not a JWT at all. */
export function parseClaims(payload: unknown): { exp: number | null; access: unknown; raw: Record<string, unknown> } | null {
  if (!isObject(payload)) return null;
  const { exp = null, access, value_exists: ve = null, sub = null, subject = null } = payload;
  if (exp !== null && !(Number.isInteger(exp) && (exp as number) >= 0)) return null;
  if (sub !== null && typeof sub !== 'string') return null;
  if (subject !== null && typeof subject !== 'string') return null;
  if (access !== undefined && !isAccessShape(access)) return null;
  if (ve !== null && !isValueExistsShape(ve)) return null;
  return { exp: exp as number | null, access, raw: payload };
}

/** Qdrant's expiry rule: expired iff exp < now − 30 s, with `now` in whole seconds. */
export function isExpired(exp: number | null, nowMs: number): boolean {
  return exp !== null && exp < Math.floor(nowMs / 1000) - JWT_LEEWAY_SECONDS;
}

/** Qdrant's claims validation (deprecated `payload`, duplicate collections), then the principal. */
export function principalFromClaims(parsed: NonNullable<ReturnType<typeof parseClaims>>): Principal {
  const { access, raw } = parsed;
  const subject = (raw.subject as string | null | undefined) ?? (raw.sub as string | null | undefined) ?? undefined;
  const ve = raw.value_exists as ValueExistsClaim | null | undefined;
  const extra = { ...(subject !== undefined ? { subject } : {}), ...(ve ? { valueExists: freezeValueExists(ve) } : {}) };
  if (access === undefined || access === 'm') return Object.freeze({ access: 'manage', authType: 'Jwt', ...extra });
  if (access === 'r') return Object.freeze({ access: 'read', authType: 'Jwt', ...extra });
  const list = access as { collection: string; access: CollectionMode; payload?: unknown }[];
  const problems: string[] = [];
  const collections = new Map<string, CollectionMode>();
  list.forEach((entry, i) => {
    if (entry.payload !== undefined && entry.payload !== null) {
      problems.push(`access[${i}].payload: The 'payload' constraint is deprecated and should not be used`);
    }
    if (collections.has(entry.collection)) problems.push(`access[${i}].collection: Collection name should be unique`);
    else collections.set(entry.collection, entry.access);
  });
  if (problems.length > 0) throw new ProxyError('jwt_claims_invalid', { detail: problems.join('') });
  return Object.freeze({ access: 'collections', authType: 'Jwt', collections, ...extra });
}

function isAccessShape(access: unknown): boolean {
  if (access === 'r' || access === 'm') return true;
  if (!Array.isArray(access)) return false;
  return access.every(
    (e) => isObject(e) && typeof e.collection === 'string' && typeof e.access === 'string' && MODES.has(e.access),
  );
}

function isValueExistsShape(ve: unknown): boolean {
  if (!isObject(ve) || typeof ve.collection !== 'string' || !Array.isArray(ve.matches)) return false;
  return ve.matches.every(
    (m) =>
      isObject(m) &&
      typeof m.key === 'string' &&
      (typeof m.value === 'string' ||
        typeof m.value === 'boolean' ||
        (Number.isInteger(m.value) && (m.value as number) >= I64_MIN && (m.value as number) < I64_MAX)),
  );
}

function freezeValueExists(ve: ValueExistsClaim): ValueExistsClaim {
  return Object.freeze({
    collection: ve.collection,
    matches: Object.freeze(ve.matches.map((m) => Object.freeze({ key: m.key, value: m.value }))),
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
