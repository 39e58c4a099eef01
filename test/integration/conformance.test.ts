// Issue 4: every method × every identity through the real proxy binary, against Qdrant 1.19's
// outcomes (test/fixtures/qdrant-access-expectations.json). Denied calls must never reach the upstream.
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedApi } from '../../src/access/compile-rules.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { COLLECTION, EXPECTATIONS, expectedMessage, type Identity, OTHER_COLLECTION, requestNaming } from '../helpers/access-expectations.js';
import { overrideForTest, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, type RawOutcome, rawServerStream, rawUnary } from '../helpers/raw-client.js';

const KEY = 'my_top_secret_key';
const ALT = 'my_alternative_secret_key';
const RO = 'boo-hoo, this can only read!';
const api = servedApi(loadQdrantApi());
const LOCAL_HEALTH = '/grpc.health.v1.Health/Check';
const issuedTokens: string[] = [];
const sign = async (claims: object, secret = KEY) => {
  const token = await new SignJWT(claims as Record<string, unknown>).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
  issuedTokens.push(token);
  return token;
};

let stack: Stack;
/** Callers by identity: each a (name, metadata) pair; several callers share one expected identity. */
let callers: { name: string; identity: Identity; metadata: () => grpc.Metadata }[];

beforeAll(async () => {
  stack = await startStack({ service: { api_key: KEY, alt_api_key: ALT, read_only_api_key: RO, jwt_rbac: true } });
  const bearer = (t: string) => () => md({ authorization: `Bearer ${t}` });
  const coll = (access: string, collection = COLLECTION) => sign({ access: [{ collection, access }] });
  callers = [
    { name: 'api key', identity: 'manage', metadata: () => md({ 'api-key': KEY }) },
    { name: 'alt api key', identity: 'manage', metadata: () => md({ 'api-key': ALT }) },
    { name: 'JWT m', identity: 'manage', metadata: bearer(await sign({ access: 'm' })) },
    { name: 'JWT without access (alt key)', identity: 'manage', metadata: bearer(await sign({}, ALT)) },
    { name: 'read-only key', identity: 'read_only', metadata: () => md({ 'api-key': RO }) },
    { name: 'JWT r', identity: 'read_only', metadata: bearer(await sign({ access: 'r' })) },
    { name: 'collection rw', identity: 'coll_rw', metadata: bearer(await coll('rw')) },
    { name: 'collection r', identity: 'coll_r', metadata: bearer(await coll('r')) },
    { name: 'collection prw', identity: 'coll_prw', metadata: bearer(await coll('prw')) },
    { name: 'token for another collection', identity: 'other_coll', metadata: bearer(await coll('rw', OTHER_COLLECTION)) },
    { name: 'no credentials', identity: 'anonymous', metadata: () => new grpc.Metadata() },
  ];
  // Every method answers with an empty message, so only the proxy's decision is under test.
  for (const method of api.methods.values()) {
    stack.standin.override(
      method.path,
      (method.kind === 'server_stream'
        ? (call: grpc.ServerWritableStream<Buffer, Buffer>) => call.end()
        : (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0))) as grpc.UntypedHandleCall,
    );
  }
});
afterAll(async () => {
  await stack?.stop();
  // No configured secret and no token ever appears in the proxy's output.
  const output = stack.proxy.output.join('\n');
  for (const secret of [KEY, ALT, RO, ...issuedTokens]) expect(output).not.toContain(secret);
});

async function call(path: string, metadata: grpc.Metadata, body = requestNaming(COLLECTION)): Promise<RawOutcome & { reached: boolean }> {
  const before = stack.standin.calls.filter((c) => c.path === path).length;
  const kind = api.methods.get(path)!.kind;
  const out = kind === 'server_stream' ? await rawServerStream(stack.client, path, body, metadata) : await rawUnary(stack.client, path, body, metadata);
  const reached = stack.standin.calls.filter((c) => c.path === path).length > before;
  return { ...out, reached };
}

describe('every method × every identity', () => {
  for (const [path, expected] of Object.entries(EXPECTATIONS.methods)) {
    it(path, async () => {
      for (const caller of callers) {
        const outcome = expected[caller.identity];
        const out = await call(path, caller.metadata());
        const label = `${path} as ${caller.name} (${caller.identity}: ${outcome})`;
        if (outcome === 'deny') {
          const message = caller.identity === 'anonymous' ? 'Must provide an API key or an Authorization bearer token' : expectedMessage(path, caller.identity);
          expect({ label, code: out.code, details: out.details, reached: out.reached }).toEqual({
            label,
            code: caller.identity === 'anonymous' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED,
            details: message,
            reached: false,
          });
        } else if (path === LOCAL_HEALTH) {
          expect({ label, code: out.code }).toEqual({ label, code: grpc.status.OK }); // answered by the proxy itself
        } else {
          expect({ label, code: out.code, reached: out.reached }).toEqual({ label, code: grpc.status.OK, reached: true });
        }
      }
    });
  }

  it('a wrong key is UNAUTHENTICATED "Invalid API key or JWT" and never reaches the upstream', async () => {
    const out = await call('/qdrant.Points/Search', md({ 'api-key': 'wrong' }));
    expect([out.code, out.details, out.reached]).toEqual([16, 'Invalid API key or JWT', false]);
  });
});

describe('filtered lists', () => {
  const listAs = async (path: string, metadata: grpc.Metadata, body: Buffer = Buffer.alloc(0)) => {
    const out = await call(path, metadata, body);
    expect(out.code).toBe(0);
    return api.methods.get(path)!.response!.decode(out.reply!);
  };
  const encode = (path: string, value: object) => api.methods.get(path)!.response!.encode(value);

  it('Collections/List keeps only collections the token names', async () => {
    overrideForTest(stack.standin, '/qdrant.Collections/List', ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) =>
      cb(
        null,
        encode('/qdrant.Collections/List', { collections: [{ name: 'alpha' }, { name: COLLECTION }, { name: 'zeta' }], time: 0.5 }),
      )) as grpc.UntypedHandleCall);
    const token = await sign({
      access: [
        { collection: COLLECTION, access: 'r' },
        { collection: 'alias_of_alpha', access: 'r' },
      ],
    });
    expect((await listAs('/qdrant.Collections/List', md({ authorization: `Bearer ${token}` }))).collections).toEqual([{ name: COLLECTION }]);
    expect(((await listAs('/qdrant.Collections/List', md({ 'api-key': RO }))).collections as unknown[]).length).toBe(3);
  });

  it('Collections/ListAliases keeps an alias only when both it and its collection are named', async () => {
    const aliases = [
      { alias_name: 'a1', collection_name: COLLECTION },
      { alias_name: 'a2', collection_name: COLLECTION },
      { alias_name: 'a3', collection_name: 'alpha' },
    ];
    overrideForTest(stack.standin, '/qdrant.Collections/ListAliases', ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, encode('/qdrant.Collections/ListAliases', { aliases, time: 0.1 }))) as grpc.UntypedHandleCall);
    const token = await sign({
      access: [
        { collection: COLLECTION, access: 'r' },
        { collection: 'a1', access: 'r' },
        { collection: 'a3', access: 'r' },
      ],
    });
    expect((await listAs('/qdrant.Collections/ListAliases', md({ authorization: `Bearer ${token}` }))).aliases).toEqual([aliases[0]]);
  });

  it('Collections/ListCollectionAliases checks the collection, then keeps aliases the token names', async () => {
    const aliases = [
      { alias_name: 'a1', collection_name: COLLECTION },
      { alias_name: 'a2', collection_name: COLLECTION },
    ];
    overrideForTest(stack.standin, '/qdrant.Collections/ListCollectionAliases', ((_c: unknown, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, encode('/qdrant.Collections/ListCollectionAliases', { aliases, time: 0.1 }))) as grpc.UntypedHandleCall);
    const token = await sign({
      access: [
        { collection: COLLECTION, access: 'prw' },
        { collection: 'a2', access: 'r' },
      ],
    });
    const got = await listAs('/qdrant.Collections/ListCollectionAliases', md({ authorization: `Bearer ${token}` }), requestNaming(COLLECTION));
    expect(got.aliases).toEqual([aliases[1]]);
  });
});

describe('lookup collections and JWT edge cases over the wire', () => {
  it('a collection token must also name the lookup_from collection', async () => {
    const body = api.methods.get('/qdrant.Points/Recommend')!.request!.encode({ collection_name: COLLECTION, lookup_from: { collection_name: 'private' } });
    const token = await sign({ access: [{ collection: COLLECTION, access: 'r' }] });
    const out = await call('/qdrant.Points/Recommend', md({ authorization: `Bearer ${token}` }), body);
    expect([out.code, out.details, out.reached]).toEqual([7, 'Forbidden: Access to collection private is required', false]);
  });

  it.each([
    ['expired', async () => sign({ exp: Math.floor(Date.now() / 1000) - 120 }), 7, 'ExpiredSignature'],
    ['within the leeway', async () => sign({ exp: Math.floor(Date.now() / 1000) - 10 }), 0, 'OK'],
    ['signed with another key', async () => sign({ access: 'm' }, 'another key'), 7, 'InvalidSignature'],
    ['not a JWT', async () => 'a.b.c', 16, 'Invalid API key or JWT'],
  ])('%s', async (_name, token, code, details) => {
    const out = await call('/qdrant.Points/Count', md({ authorization: `Bearer ${await token()}` }));
    expect([out.code, out.details, out.reached]).toEqual([code, details, code === 0]);
  });

  it('an api-key and a different Bearer token are refused', async () => {
    const out = await call('/qdrant.Points/Count', md({ 'api-key': KEY, authorization: `Bearer ${await sign({ access: 'r' })}` }));
    expect([out.code, out.reached]).toEqual([16, false]);
  });

  it('health checks need no credentials, even a broken one', async () => {
    for (const path of ['/qdrant.Qdrant/HealthCheck', '/grpc.health.v1.Health/Check']) {
      expect((await call(path, md({ authorization: 'Bearer garbage' }), Buffer.alloc(0))).code).toBe(0);
    }
  });
});
