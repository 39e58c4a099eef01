// The named keys' format: `qap_<id>_<secret>`, the secret 32 random bytes in base64url. The id in
// the clear makes a lookup one map access; only the SHA-256 of the whole key is stored
// (`sha256:<hex>`): the secret is 256 random bits, so a fast hash loses nothing to guessing.
import { randomBytes } from 'node:crypto';
import { digest } from '../api-keys.js';

export const KEY_PREFIX = 'qap_';
/** Letters, digits and `-` (no `_`: it ends the id), at most 64. */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;
export const HASH = /^sha256:[0-9a-f]{64}$/;

/** A new key for `id`. */
export function createKey(id: string): string {
  if (!KEY_ID.test(id)) throw new Error(`key id "${id}": use 1-64 letters, digits and -, starting with a letter or digit`);
  return `${KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
}

/** The id a presented credential names, or null when it is not in the named keys' format. */
export function keyIdOf(credential: string): string | null {
  if (!credential.startsWith(KEY_PREFIX)) return null;
  const end = credential.indexOf('_', KEY_PREFIX.length);
  if (end < 0) return null;
  const id = credential.slice(KEY_PREFIX.length, end);
  return KEY_ID.test(id) && SECRET.test(credential.slice(end + 1)) ? id : null;
}

/** What the keys file stores for a key. */
export function hashKey(key: string): string {
  return `sha256:${digest(key).toString('hex')}`;
}
