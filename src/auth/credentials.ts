// Reads the call's credential the way Qdrant does: `api-key` metadata, else `authorization: Bearer <x>`
// (exact, case-sensitive prefix). Values that are not visible ASCII count as absent. Unlike Qdrant,
// differing values (two api-key values, or an api-key and a different Bearer token) are refused
// instead of silently picking one; every value of a repeated header is seen separately.
import { ProxyError } from '../errors.js';
import type { RequestMetadata } from '../grpc/metadata.js';

const VISIBLE_ASCII = /^[\x20-\x7e\t]*$/;
const BEARER = 'Bearer ';

export type Credential = { readonly kind: 'none' } | { readonly kind: 'value'; readonly value: string };

export function extractCredential(metadata: RequestMetadata, maxBytes: number): Credential {
  let found: string | null = null;
  const consider = (value: string) => {
    if (found !== null && found !== value) throw new ProxyError('conflicting_credentials');
    found = value;
  };
  for (const v of metadata.get('api-key')) if (VISIBLE_ASCII.test(v)) consider(v);
  for (const v of metadata.get('authorization')) if (v.startsWith(BEARER) && VISIBLE_ASCII.test(v)) consider(v.slice(BEARER.length));
  if (found === null) return { kind: 'none' };
  if (Buffer.byteLength(found) > maxBytes) throw new ProxyError('invalid_credentials');
  return { kind: 'value', value: found };
}
