import { describe, expect, it } from 'vitest';
import { authorizeCollections, authorizeOnHeaders } from '../../src/access/authorize.js';
import { type CompiledRule, compileRules } from '../../src/access/compile-rules.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import type { Principal } from '../../src/auth/principal.js';
import { ProxyError } from '../../src/errors.js';
import { COLLECTION, EXPECTATIONS, expectedMessage, type Identity, PRINCIPALS, requestNaming } from '../helpers/access-expectations.js';

const rules = compileRules(loadQdrantApi());
/** Both steps, as the call runner takes them (the headers first, then the request's collections). */
const authorize = (rule: CompiledRule, principal: Principal, request: Uint8Array) =>
  authorizeOnHeaders(rule, principal) ?? authorizeCollections(rule, principal, request);

function encodeWithLookup(path: string, lookup: string): Buffer {
  const api = loadQdrantApi();
  const codec = api.methods.get(path)!.request!;
  const base = { collection_name: COLLECTION };
  switch (path) {
    case '/qdrant.Points/Recommend':
      return codec.encode({ ...base, lookup_from: { collection_name: lookup } });
    case '/qdrant.Points/SearchGroups':
      return codec.encode({ ...base, with_lookup: { collection: lookup } });
    case '/qdrant.Points/Query':
      return codec.encode({ ...base, prefetch: [{ prefetch: [{ prefetch: [{ lookup_from: { collection_name: lookup } }] }] }] });
    case '/qdrant.Points/QueryBatch':
      return codec.encode({
        ...base,
        query_points: [{ collection_name: COLLECTION }, { collection_name: COLLECTION, lookup_from: { collection_name: lookup } }],
      });
    case '/qdrant.Points/DiscoverBatch':
      return codec.encode({ ...base, discover_points: [{ collection_name: COLLECTION, lookup_from: { collection_name: lookup } }] });
    default:
      throw new Error(path);
  }
}

describe('authorize: Qdrant 1.19 access table', () => {
  it('covers every method Qdrant serves on 6334, and nothing else', () => {
    expect([...rules.keys()].sort()).toEqual(Object.keys(EXPECTATIONS.methods).sort());
  });

  for (const [method, expected] of Object.entries(EXPECTATIONS.methods)) {
    for (const identity of Object.keys(PRINCIPALS) as Exclude<Identity, 'anonymous'>[]) {
      const outcome = expected[identity];
      it(`${method} × ${identity} → ${outcome}`, () => {
        const run = () => authorize(rules.get(method)!, PRINCIPALS[identity], requestNaming(COLLECTION));
        if (outcome === 'deny') {
          expect(run).toThrow(ProxyError);
          expect(run).toThrow(expectedMessage(method, identity));
        } else {
          const decision = run();
          expect(decision.filter !== null).toBe(outcome === 'filter' || (method.endsWith('/ListCollectionAliases') && identity.startsWith('coll_')));
        }
      });
    }
  }
});

describe('authorize: lookup collections', () => {
  const token: Principal = { access: 'collections', authType: 'Jwt', collections: new Map([[COLLECTION, 'r']]) };
  const both: Principal = {
    access: 'collections',
    authType: 'Jwt',
    collections: new Map([
      [COLLECTION, 'r'],
      ['lookup_coll', 'r'],
    ]),
  };
  for (const path of [
    '/qdrant.Points/Recommend',
    '/qdrant.Points/SearchGroups',
    '/qdrant.Points/Query',
    '/qdrant.Points/QueryBatch',
    '/qdrant.Points/DiscoverBatch',
  ]) {
    it(`${path}: a lookup collection must be in the token too`, () => {
      const request = encodeWithLookup(path, 'lookup_coll');
      expect(() => authorize(rules.get(path)!, token, request)).toThrow('Forbidden: Access to collection lookup_coll is required');
      expect(() => authorize(rules.get(path)!, both, request)).not.toThrow();
    });
  }

  it('a global read token is not limited by lookups', () => {
    expect(() => authorize(rules.get('/qdrant.Points/Recommend')!, PRINCIPALS.read_only, encodeWithLookup('/qdrant.Points/Recommend', 'x'))).not.toThrow();
  });
});

describe('authorize: hostile request bodies', () => {
  const rule = rules.get('/qdrant.Points/Search')!;
  const token = PRINCIPALS.coll_r;

  it('a repeated collection field is checked in every occurrence', () => {
    const twice = Buffer.concat([requestNaming(COLLECTION), requestNaming('secret')]);
    expect(() => authorize(rule, token, twice)).toThrow('Forbidden: Access to collection secret is required');
  });

  it('an absent collection name is the empty string, which no token lists', () => {
    expect(() => authorize(rule, token, Buffer.alloc(0))).toThrow('Forbidden: Access to collection  is required');
  });

  for (const [name, bytes] of [
    ['truncated length', Buffer.from([0x0a, 0x10, 0x61])],
    ['truncated varint', Buffer.from([0x08, 0xff])],
    ['group wire type', Buffer.from([0x0b])],
    ['field number zero', Buffer.from([0x02, 0x00])],
    ['invalid UTF-8 name', Buffer.from([0x0a, 0x02, 0xc3, 0x28])],
  ] as const) {
    it(`${name} → INVALID_ARGUMENT`, () => {
      expect(() => authorize(rule, token, bytes)).toThrow('Validation error in body');
    });
  }

  it('deeply nested prefetches are refused past the depth limit, not recursed without bound', () => {
    let inner = Buffer.alloc(0);
    for (let i = 0; i < 200; i++) inner = Buffer.concat([Buffer.from([0x0a]), varint(inner.length), inner]);
    // The first step of the nested-prefetch lookup path is QueryPoints.prefetch.
    const queryRule = rules.get('/qdrant.Points/Query')!;
    const prefetchField = queryRule.lookupSteps[1]![0]!.number;
    const body = Buffer.concat([requestNaming(COLLECTION), Buffer.from([(prefetchField << 3) | 2]), varint(inner.length), inner]);
    expect(() => authorize(queryRule, token, body)).toThrow('Validation error in body');
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

describe('authorize: global read with write grants (an identity provider token combining r with rw/prw collections)', () => {
  for (const [mode, column] of [
    ['rw', 'coll_rw'],
    ['prw', 'coll_prw'],
  ] as const) {
    const principal: Principal = { access: 'read', authType: 'Jwt', provider: 'idp', writes: new Map([[COLLECTION, mode]]) };
    for (const [method, expected] of Object.entries(EXPECTATIONS.methods)) {
      if (expected.manage === 'no_auth') continue;
      const rule = rules.get(method)!;
      // What global read allows, plus what the collection grant allows on that collection.
      const allowed = expected.read_only === 'allow' || (rule.need.scope === 'collection' && expected[column] !== 'deny');
      it(`${method} × read + ${mode} on the collection → ${allowed ? 'allow' : 'deny'}, never filtered; other collections as read`, () => {
        const run = () => authorize(rule, principal, requestNaming(COLLECTION));
        if (allowed) expect(run().filter).toBeNull();
        else expect(run).toThrow(ProxyError);
        const elsewhere = () => authorize(rule, principal, requestNaming('another'));
        if (expected.read_only === 'allow') expect(elsewhere().filter).toBeNull();
        else expect(elsewhere).toThrow(expectedMessage(method, 'read_only'));
      });
    }
  }
});
