// Qdrant 1.19's outcome for every method × identity (test/fixtures; derived from Qdrant 1.19.0's
// gRPC handlers and lib/storage/src/rbac/ops_checks.rs).
import { readFileSync } from 'node:fs';
import type { Principal } from '../../src/auth/principal.js';

export type Outcome = 'allow' | 'deny' | 'filter' | 'no_auth';
export type Identity = 'manage' | 'read_only' | 'coll_rw' | 'coll_r' | 'coll_prw' | 'other_coll' | 'anonymous';

export interface MethodExpectation extends Record<Identity, Outcome> {
  deny_messages: Partial<Record<Identity, string>>;
}

export const EXPECTATIONS: { methods: Record<string, MethodExpectation> } = JSON.parse(
  readFileSync(new URL('../fixtures/qdrant-access-expectations.json', import.meta.url), 'utf8'),
);

export const COLLECTION = 'jwt_test_collection';
export const OTHER_COLLECTION = 'other_collection';

export const PRINCIPALS: Record<Exclude<Identity, 'anonymous'>, Principal> = {
  manage: { access: 'manage', authType: 'ApiKey' },
  read_only: { access: 'read', authType: 'ApiKey' },
  coll_rw: { access: 'collections', authType: 'Jwt', collections: new Map([[COLLECTION, 'rw']]) },
  coll_r: { access: 'collections', authType: 'Jwt', collections: new Map([[COLLECTION, 'r']]) },
  coll_prw: { access: 'collections', authType: 'Jwt', collections: new Map([[COLLECTION, 'prw']]) },
  other_coll: { access: 'collections', authType: 'Jwt', collections: new Map([[OTHER_COLLECTION, 'rw']]) },
};

/** A request naming `collection` in field 1 (every collection-scoped Qdrant request uses field 1). */
export function requestNaming(collection: string): Buffer {
  const name = Buffer.from(collection);
  return Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

export function expectedMessage(method: string, identity: Identity): string | undefined {
  return EXPECTATIONS.methods[method]?.deny_messages[identity]?.replace('{collection}', COLLECTION);
}
