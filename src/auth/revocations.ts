// `auth.revocations_file`: credentials refused even though they verify (README "Revoking"):
//
//   jti: [a1b2…]                       tokens with this `jti` (Qdrant's own and identity providers')
//   subjects: [alice]                  tokens and named keys whose subject (`sub` or `subject`) is this
//   key_ids: [billing-svc]             named keys
//   token_sha256: [9f86…]              a whole credential, by the hex SHA-256 of what the client sends
//   issued_before: [{subject: bob, before: 2026-12-01T00:00:00Z}]   that subject's tokens issued
//                                      (`iat`) before the time; a token of it without `iat` too
//
// Checked on every call after authentication, cache hits included.
import { AuthFileError, parseAuthYaml, shown } from './auth-yaml.js';
import { readTime } from './named-keys/keys-file.js';
import type { Principal } from './principal.js';

const FIELDS = ['jti', 'subjects', 'key_ids', 'token_sha256', 'issued_before'] as const;

export class Revocations {
  static readonly NONE = new Revocations(new Set(), new Set(), new Set(), new Set(), new Map());

  constructor(
    private readonly jti: ReadonlySet<string>,
    private readonly subjects: ReadonlySet<string>,
    private readonly keyIds: ReadonlySet<string>,
    private readonly digests: ReadonlySet<string>,
    /** Subject → epoch ms: tokens issued before it are revoked. */
    private readonly issuedBefore: ReadonlyMap<string, number>,
  ) {}

  /** The revoked key ids that name no key of `keys` (all of them when there is no keys file). */
  keyIdsOutside(keys: { has(id: string): boolean } | null): string[] {
    return [...this.keyIds].filter((id) => !keys?.has(id));
  }

  get size(): number {
    return this.jti.size + this.subjects.size + this.keyIds.size + this.digests.size + this.issuedBefore.size;
  }

  /** Why the principal (with the SHA-256 of its credential) is revoked, or null when it is not. */
  reason(principal: Principal, credentialDigest: Buffer | null): string | null {
    if (this.size === 0) return null;
    if (credentialDigest && this.digests.has(credentialDigest.toString('hex'))) return 'token_sha256';
    if (principal.keyId !== undefined && this.keyIds.has(principal.keyId)) return 'key_id';
    if (principal.jti?.some((j) => this.jti.has(j))) return 'jti';
    const names = principal.subjects ?? (principal.subject !== undefined ? [principal.subject] : []);
    for (const name of names) {
      if (this.subjects.has(name)) return 'subject';
      const before = this.issuedBefore.get(name);
      // A token of the subject that does not say when it was issued cannot show it is newer.
      if (before !== undefined && principal.authType === 'Jwt' && (principal.issuedAt === undefined || principal.issuedAt * 1000 < before))
        return 'issued_before';
    }
    return null;
  }
}

export function parseRevocationsFile(text: string, source: string): Revocations {
  const doc = parseAuthYaml(text, source);
  if (doc === null || doc === undefined) return Revocations.NONE;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AuthFileError(`${source}: expected a mapping (${FIELDS.join(', ')})`);
  const d = doc as Record<string, unknown>;
  const unknown = Object.keys(d).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown) throw new AuthFileError(`${source}: unknown field ${shown(unknown)} (expected ${FIELDS.join(', ')})`);
  const strings = (name: string, check?: (v: string) => boolean, form = 'a non-empty string'): Set<string> => {
    const list = d[name] ?? [];
    if (!Array.isArray(list)) throw new AuthFileError(`${source}: ${name} must be a list`);
    return new Set(
      list.map((v, i) => {
        if (typeof v === 'string' && v.startsWith('qap_') && name !== 'token_sha256')
          throw new AuthFileError(`${source}: ${name}[${i}]: a key, not an id: name the key by its id (and treat this one as leaked)`);
        if (typeof v !== 'string' || v === '' || (check && !check(v))) throw new AuthFileError(`${source}: ${name}[${i}]: expected ${form}, got ${shown(v)}`);
        return v;
      }),
    );
  };
  const issuedBefore = new Map<string, number>();
  const list = d.issued_before ?? [];
  if (!Array.isArray(list)) throw new AuthFileError(`${source}: issued_before must be a list`);
  list.forEach((entry, i) => {
    const at = `${source}: issued_before[${i}]`;
    const { subject, before, ...rest } = (entry ?? {}) as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new AuthFileError(`${at}: unknown field ${shown(Object.keys(rest)[0])} (expected subject, before)`);
    if (typeof subject !== 'string' || subject === '') throw new AuthFileError(`${at}: subject must be a non-empty string`);
    const ms = readTime(before, `${at}.before`);
    if (ms === null) throw new AuthFileError(`${at}: before is required`);
    issuedBefore.set(subject, Math.max(ms, issuedBefore.get(subject) ?? ms));
  });
  return new Revocations(
    strings('jti'),
    strings('subjects'),
    strings('key_ids'),
    strings('token_sha256', (v) => /^[0-9a-f]{64}$/.test(v), '64 lowercase hex digits (sha256sum of the credential)'),
    issuedBefore,
  );
}
