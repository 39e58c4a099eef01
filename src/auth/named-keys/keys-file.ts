// `auth.keys_file`: the named keys, as YAML (README "Named keys"):
//
//   keys:
//     - id: billing-svc
//       hash: sha256:…          # `qdrant-auth-proxy keys create` / `keys hash` print it
//       access: [{collection: invoices, access: rw}]
//       expires_at: 2027-03-01T00:00:00Z
//       not_before: null
//       subject: billing        # for the audit record; default: the id
//       description: …
//
// Every problem is refused with the entry named; the caller keeps the set in force.

import { AddressRanges } from '../../traffic/address-ranges.js';
import type { Limit } from '../../traffic/local-limits.js';
import { AuthFileError, parseAuthYaml, shown } from '../auth-yaml.js';
import { readGrant } from '../grant-shape.js';
import type { AccessGrant } from '../principal.js';
import { HASH, KEY_ID, KEY_PREFIX } from './key-format.js';

export interface NamedKey {
  readonly id: string;
  /** SHA-256 of the whole key (32 bytes). */
  readonly digest: Buffer;
  readonly access: AccessGrant;
  /** Epoch ms; null: no limit. */
  readonly expiresAt: number | null;
  readonly notBefore: number | null;
  readonly subject: string;
  readonly description: string | null;
  /** Where the key may be used from, and its own rate limit (README "Traffic policy"). */
  readonly allowedRanges: AddressRanges | null;
  readonly rateLimit: Limit | null;
}

const FIELDS = new Set(['id', 'hash', 'access', 'expires_at', 'not_before', 'subject', 'description', 'allowed_source_ranges', 'rate_limit']);
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** The keys of a keys file's text; `now` refuses entries that have already expired. */
/** `tenantIsolation`: a key's grants may carry a tenant's `payload` (auth.tenant_isolation). */
export function parseKeysFile(text: string, source: string, now: number, options: { tenantIsolation?: boolean } = {}): NamedKey[] {
  const doc = parseAuthYaml(text, source) ?? { keys: [] };
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || Object.keys(doc).some((k) => k !== 'keys'))
    throw new AuthFileError(`${source}: expected a mapping with one key, "keys" (a list)`);
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new AuthFileError(`${source}: "keys" must be a list`);
  const ids = new Set<string>();
  const hashes = new Map<string, string>();
  return list.map((raw, i) => {
    const id = (raw as { id?: unknown } | null)?.id;
    // An id that is not one (a key pasted by mistake, say) is not repeated in the message.
    const at = `${source}: keys[${i}]${typeof id === 'string' && KEY_ID.test(id) ? ` (id ${id})` : ''}`;
    const key = readEntry(raw, at, now, options.tenantIsolation ?? false);
    if (ids.has(key.id)) throw new AuthFileError(`${at}: id ${key.id} is listed twice`);
    const hex = key.digest.toString('hex');
    if (hashes.has(hex)) throw new AuthFileError(`${at}: the same hash as id ${hashes.get(hex)} (one key, two entries)`);
    ids.add(key.id);
    hashes.set(hex, key.id);
    return key;
  });
}

function readEntry(raw: unknown, at: string, now: number, tenantIsolation: boolean): NamedKey {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AuthFileError(`${at}: expected a mapping (id, hash, access, …)`);
  const entry = raw as Record<string, unknown>;
  const unknown = Object.keys(entry).find((k) => !FIELDS.has(k));
  if (unknown) throw new AuthFileError(`${at}: unknown field ${shown(unknown)}`);
  const { id, hash, access, subject, description } = entry;
  if (typeof id !== 'string' || !KEY_ID.test(id)) throw new AuthFileError(`${at}: id must be 1-64 letters, digits and -`);
  if (typeof hash === 'string' && hash.startsWith(KEY_PREFIX))
    throw new AuthFileError(`${at}: hash holds a key, not its hash: store what \`qdrant-auth-proxy keys hash\` prints, and treat this key as leaked`);
  if (typeof hash !== 'string' || !HASH.test(hash)) throw new AuthFileError(`${at}: hash must be sha256: and 64 lowercase hex digits`);
  const grant = readGrant(access, 'access', { payload: tenantIsolation });
  if ('problem' in grant) throw new AuthFileError(`${at}: ${grant.problem}`);
  const expiresAt = readTime(entry.expires_at, `${at}: expires_at`);
  const notBefore = readTime(entry.not_before, `${at}: not_before`);
  if (expiresAt !== null && expiresAt <= now) throw new AuthFileError(`${at}: expires_at ${String(entry.expires_at)} has passed: remove the entry`);
  if (expiresAt !== null && notBefore !== null && notBefore >= expiresAt) throw new AuthFileError(`${at}: not_before is not before expires_at`);
  if (subject !== undefined && subject !== null && (typeof subject !== 'string' || subject === ''))
    throw new AuthFileError(`${at}: subject must be a non-empty string`);
  if (description !== undefined && description !== null && typeof description !== 'string') throw new AuthFileError(`${at}: description must be a string`);
  const allowedRanges = readRanges(entry.allowed_source_ranges, `${at}: allowed_source_ranges`);
  const rateLimit = readLimit(entry.rate_limit, `${at}: rate_limit`);
  return Object.freeze({
    id,
    digest: Buffer.from(hash.slice('sha256:'.length), 'hex'),
    access: grant.grant,
    expiresAt,
    notBefore,
    subject: typeof subject === 'string' ? subject : id,
    description: typeof description === 'string' ? description : null,
    allowedRanges,
    rateLimit,
  });
}

function readRanges(value: unknown, at: string): AddressRanges | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new AuthFileError(`${at}: expected a list of CIDR ranges`);
  try {
    return value.length === 0 ? null : new AddressRanges(value as string[]);
  } catch (err) {
    throw new AuthFileError(`${at}: ${(err as Error).message}`);
  }
}

const LIMIT_FIELDS = ['calls_per_second', 'burst', 'max_in_flight'];

function readLimit(value: unknown, at: string): Limit | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new AuthFileError(`${at}: expected {calls_per_second, burst, max_in_flight}`);
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).find((k) => !LIMIT_FIELDS.includes(k));
  if (unknown) throw new AuthFileError(`${at}: unknown field ${shown(unknown)}`);
  const number = (name: string, integer: boolean): number | null => {
    const n = v[name];
    if (n === undefined || n === null) return null;
    if (typeof n !== 'number' || !(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
      throw new AuthFileError(`${at}.${name}: expected a ${integer ? 'whole ' : ''}number above 0, got ${shown(n)}`);
    return n;
  };
  const limit = { callsPerSecond: number('calls_per_second', false), burst: number('burst', true), maxInFlight: number('max_in_flight', true) };
  if (limit.burst !== null && limit.callsPerSecond === null) throw new AuthFileError(`${at}.burst: only with calls_per_second`);
  return limit;
}

/** An RFC 3339 time with its offset (null when absent); a day the month lacks is refused, not rolled over. */
export function readTime(value: unknown, at: string): number | null {
  if (value === undefined || value === null) return null;
  const m = typeof value === 'string' ? RFC3339.exec(value) : null;
  const ms = m ? Date.parse((value as string).toUpperCase()) : Number.NaN;
  const [, y, mo, d, h, mi, sec] = m ?? [];
  const civil = m ? new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec))) : null;
  const exact = civil !== null && civil.getUTCDate() === Number(d) && civil.getUTCHours() === Number(h) && civil.getUTCSeconds() === Number(sec);
  if (!Number.isFinite(ms) || !exact) throw new AuthFileError(`${at}: expected an RFC 3339 time such as 2027-03-01T00:00:00Z, got ${shown(value)}`);
  return ms;
}
