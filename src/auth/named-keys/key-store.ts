// The named keys in force: a presented `qap_<id>_…` key is looked up by its id (one map access) and
// its SHA-256 compared with the stored one in constant time; an unknown id is compared with a
// dummy, so both take the same work. Validity (`not_before`, `expires_at`) is checked per call.
import { timingSafeEqual } from 'node:crypto';
import { ProxyError } from '../../errors.js';
import { type Principal, principalFromGrant } from '../principal.js';
import type { NamedKey } from './keys-file.js';

const DUMMY = Buffer.alloc(32);

export interface KeyUse {
  readonly id: string | null;
  readonly outcome: 'ok' | 'unknown' | 'wrong_secret' | 'expired' | 'not_yet_valid';
}

export class NamedKeyStore {
  private readonly byId: ReadonlyMap<string, { key: NamedKey; principal: Principal }>;

  constructor(
    keys: readonly NamedKey[],
    private readonly observe: (use: KeyUse) => void = () => undefined,
  ) {
    this.byId = new Map(
      keys.map((key) => [
        key.id,
        {
          key,
          principal: principalFromGrant(
            key.access,
            {
              authType: 'ApiKey',
              subject: key.subject,
              keyId: key.id,
              ...(key.allowedRanges ? { allowedRanges: key.allowedRanges } : {}),
              ...(key.rateLimit ? { rateLimit: key.rateLimit } : {}),
            },
            { patterns: true },
          ),
        },
      ]),
    );
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Seconds until the soonest expiry among the keys; null when none expires. */
  soonestExpirySeconds(now: number): number | null {
    let soonest: number | null = null;
    for (const { key } of this.byId.values()) if (key.expiresAt !== null && (soonest === null || key.expiresAt < soonest)) soonest = key.expiresAt;
    return soonest === null ? null : (soonest - now) / 1000;
  }

  /** Keys that expire within `windowMs` of `now` (and have not yet). */
  expiringWithin(now: number, windowMs: number): NamedKey[] {
    return [...this.byId.values()].map((e) => e.key).filter((k) => k.expiresAt !== null && k.expiresAt > now && k.expiresAt - now <= windowMs);
  }

  /** The principal of the key with this id and digest; throws the client's error otherwise. */
  authenticate(id: string, digest: Buffer, now: number): Principal {
    const entry = this.byId.get(id);
    const matches = timingSafeEqual(entry?.key.digest ?? DUMMY, digest);
    if (!entry || !matches) {
      this.observe({ id: entry ? id : null, outcome: entry ? 'wrong_secret' : 'unknown' });
      throw new ProxyError('invalid_credentials');
    }
    const { key } = entry;
    if (key.notBefore !== null && now < key.notBefore) {
      this.observe({ id, outcome: 'not_yet_valid' });
      throw new ProxyError('key_not_yet_valid');
    }
    if (key.expiresAt !== null && now >= key.expiresAt) {
      this.observe({ id, outcome: 'expired' });
      throw new ProxyError('key_expired');
    }
    this.observe({ id, outcome: 'ok' });
    return entry.principal;
  }
}
