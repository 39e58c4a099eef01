// value_exists against the stand-in's real data: grant, no match, missing collection, upstream down,
// and the cache's hit path (which is also the revocation delay the README documents).
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedApi } from '../../src/access/compile-rules.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { overrideForTest, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';

const KEY = 'value-exists-signing-key';
const UPSTREAM_KEY = 'proxy-own-upstream-key';
const api = servedApi(loadQdrantApi());
const enc = (path: string, v: object) => api.methods.get(path)!.request!.encode(v);
const sign = (claims: object) => new SignJWT(claims as Record<string, unknown>).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(KEY));
const valueExists = (collection: string, user: string) => ({ access: 'r', value_exists: { collection, matches: [{ key: 'user', value: user }] } });

let stack: Stack;
const admin = () => md({ 'api-key': KEY });
const scrolls = () => stack.standin.calls.filter((c) => c.path === '/qdrant.Points/Scroll');

beforeAll(async () => {
  stack = await startStack({ service: { api_key: KEY, jwt_rbac: true }, auth: { value_exists_cache_ttl_seconds: 30 }, upstream: { api_key: UPSTREAM_KEY } });
  const create = await rawUnary(
    stack.client,
    '/qdrant.Collections/Create',
    enc('/qdrant.Collections/Create', { collection_name: 'users', vectors_config: { params: { size: 2, distance: 'Cosine' } } }),
    admin(),
  );
  expect(create.code).toBe(0);
  const upsert = await rawUnary(
    stack.client,
    '/qdrant.Points/Upsert',
    enc('/qdrant.Points/Upsert', {
      collection_name: 'users',
      wait: true,
      points: [{ id: { num: 1 }, vectors: { vector: { data: [1, 0] } }, payload: [{ key: 'user', value: { string_value: 'alice' } }] }],
    }),
    admin(),
  );
  expect(upsert.code).toBe(0);
});
afterAll(async () => stack?.stop());

const count = (token: string) => rawUnary(stack.client, '/qdrant.Collections/List', Buffer.alloc(0), md({ authorization: `Bearer ${token}` }));

describe('value_exists', () => {
  it("a matching point grants the token, and the look-up uses the proxy's own credential", async () => {
    const before = scrolls().length;
    const out = await count(await sign(valueExists('users', 'alice')));
    expect(out.code).toBe(0);
    const lookup = scrolls().slice(before);
    expect(lookup).toHaveLength(1);
    expect(lookup[0]!.metadata.get('api-key')).toEqual([UPSTREAM_KEY]);
    expect(lookup[0]!.metadata.get('authorization')).toEqual([]);
  });

  it('no matching point is UNAUTHENTICATED, as in Qdrant', async () => {
    const out = await count(await sign(valueExists('users', 'bob')));
    expect([out.code, out.details]).toEqual([16, 'Invalid JWT, stateful validation failed']);
  });

  it('a missing collection is PERMISSION_DENIED, as in Qdrant', async () => {
    const out = await count(await sign(valueExists('nope', 'alice')));
    expect([out.code, out.details]).toEqual([7, 'Invalid JWT, stateful validation failed']);
  });

  it('a grant is served from the cache until its TTL ends, even after the point is deleted', async () => {
    const token = await sign(valueExists('users', 'alice'));
    await count(token);
    const before = scrolls().length;
    await rawUnary(
      stack.client,
      '/qdrant.Points/Delete',
      enc('/qdrant.Points/Delete', { collection_name: 'users', wait: true, points: { points: { ids: [{ num: 1 }] } } }),
      admin(),
    );
    expect((await count(token)).code).toBe(0); // cached: the documented revocation delay
    expect(scrolls().length).toBe(before);
    expect((await count(await sign({ ...valueExists('users', 'alice'), sub: 'other' }))).code).toBe(0); // same claim, same cache entry
  });

  it('an upstream failure during the check denies with UNAVAILABLE and a clear message', async () => {
    overrideForTest(stack.standin, '/qdrant.Points/Scroll', ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) =>
      cb({ code: grpc.status.INTERNAL, details: 'Service internal error: disk on fire' })) as grpc.UntypedHandleCall);
    const out = await count(await sign(valueExists('users', 'carol')));
    expect([out.code, out.details]).toEqual([14, 'Invalid JWT, stateful validation could not be completed']);
    await stack.proxy.waitForLine(/disk on fire.*value_exists look-up failed/); // the reason is logged, not returned
  });
});
