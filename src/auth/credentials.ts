// Reads the call's credential the way Qdrant does: `api-key` metadata, else `authorization: Bearer <x>`
// (exact, case-sensitive prefix). Values that are not visible ASCII count as absent. Unlike Qdrant,
// differing values (two api-key values, or an api-key and a different Bearer token) are refused
// instead of silently picking one.
import type { Metadata } from '@grpc/grpc-js';
import { ProxyError } from '../errors.js';

const VISIBLE_ASCII = /^[\x20-\x7e\t]*$/;
const BEARER = 'Bearer ';

export type Credential = { readonly kind: 'none' } | { readonly kind: 'value'; readonly value: string };

export function extractCredential(metadata: Metadata, maxBytes: number): Credential {
  const apiKeys = textValues(metadata, 'api-key');
  const bearers = textValues(metadata, 'authorization')
    .filter((v) => v.startsWith(BEARER))
    .map((v) => v.slice(BEARER.length));
  const distinct = new Set([...apiKeys, ...bearers]);
  if (distinct.size === 0) return { kind: 'none' };
  if (distinct.size > 1) throw new ProxyError('conflicting_credentials');
  const value = distinct.values().next().value as string;
  if (Buffer.byteLength(value) > maxBytes) throw new ProxyError('invalid_credentials');
  return { kind: 'value', value };
}

function textValues(metadata: Metadata, key: string): string[] {
  const out: string[] = [];
  for (const v of metadata.get(key)) {
    if (typeof v === 'string' && VISIBLE_ASCII.test(v)) out.push(v);
  }
  return out;
}
