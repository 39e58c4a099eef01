import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { compileRules, servedApi } from '../../src/access/compile-rules.js';
import { compileTenantRules, confine, MAX_FIELDS_PER_REQUEST, pointIdKey } from '../../src/access/tenant-confine.js';
import { TENANT_TABLE } from '../../src/access/tenant-table.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import type { TenantConditions } from '../../src/auth/principal.js';
import { ProxyError } from '../../src/errors.js';
import { MessageWriter, readFields } from '../../src/grpc/protobuf.js';

const api = servedApi(loadQdrantApi());
const compiled = compileTenantRules(api);
const TENANT: TenantConditions = [{ key: 'tenant', value: 'acme' }];
const MIXED: TenantConditions = [
  { key: 'org.id', value: -42n },
  { key: 'active', value: true },
];
const encode = (path: string, value: object) => api.methods.get(path)!.request!.encode(value);
// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages, read field by field in assertions
const decode = (path: string, bytes: Buffer) => api.methods.get(path)!.request!.decode(bytes) as Record<string, any>;
/** What a look-up found: the tenant's ids (pointIdKey) and the shard keys they are under. */
const found = (ids: string[], shardKeys: string[] = []) => ({ ids: new Set(ids), shardKeys: new Set(shardKeys) });
const noLookup = async (_scroll: Buffer) => found([]);
const field = (n: number, v: Uint8Array) => new MessageWriter().bytes(n, v).finish();
const run = (path: string, value: object, tenant = TENANT, owned = noLookup) => confine(compiled, path, 'docs', encode(path, value), tenant, owned);
const refusal = async (path: string, value: object, tenant = TENANT) => {
  try {
    await run(path, value, tenant);
    return null;
  } catch (err) {
    return err instanceof ProxyError ? err.message : String(err);
  }
};
const tenantCondition = { field: { key: 'tenant', match: { keyword: 'acme' } } };
const tenantLike = { field: expect.objectContaining({ key: 'tenant', match: expect.objectContaining({ keyword: 'acme' }) }) };
const mustOf = (filter: { must?: unknown[] } | undefined) => filter?.must ?? [];
/** Decoded messages carry their oneof's name too: compare what matters. */
const like = (expected: unknown[]) => expected.map((e) => expect.objectContaining(e as object));
const entries = (payload: Record<string, unknown>) => Object.entries(payload).map(([key, value]) => ({ key, value }));

describe('tenant treatments', () => {
  it('every method a collection grant can call has one (collection methods and lists), and no other', () => {
    const collectionMethods = [...compileRules(api).values()].filter((r) => r.need.scope === 'collection' || r.need.scope === 'list').map((r) => r.path);
    expect(Object.keys(TENANT_TABLE).sort()).toEqual(collectionMethods.sort());
  });
});

describe('reads: the tenant in every filter', () => {
  it('Search: merged into the client filter, which keeps its should / must_not; the rest byte for byte', async () => {
    const request = {
      collection_name: 'docs',
      vector: [0.1, 0.2],
      limit: 3,
      filter: { should: [{ field: { key: 'x', match: { keyword: 'y' } } }], must_not: [tenantCondition] },
    };
    const out = await run('/qdrant.Points/Search', request);
    const filter = decode('/qdrant.Points/Search', out).filter;
    expect(mustOf(filter)).toEqual(like([tenantLike]));
    expect(filter.should).toHaveLength(1);
    expect(filter.must_not).toHaveLength(1);
    // Everything but the filter field is as sent, in order.
    const withoutFilter = encode('/qdrant.Points/Search', { ...request, filter: undefined });
    expect(out.subarray(0, withoutFilter.length)).toEqual(withoutFilter);
  });

  it('a request without a filter gets one; several keys and value kinds (integers exact, negative ones too)', async () => {
    const out = await run('/qdrant.Points/Count', { collection_name: 'docs' }, MIXED);
    expect(mustOf(decode('/qdrant.Points/Count', out).filter)).toEqual(
      like([
        { field: expect.objectContaining({ key: 'org.id', match: expect.objectContaining({ integer: '-42' }) }) },
        { field: expect.objectContaining({ key: 'active', match: expect.objectContaining({ boolean: true }) }) },
      ]),
    );
  });

  it('a filter given twice becomes one holding both and the tenant (as protobuf merges it)', async () => {
    const one = encode('/qdrant.Points/Scroll', { collection_name: 'docs', filter: { must: [{ field: { key: 'a', match: { keyword: '1' } } }] } });
    const two = encode('/qdrant.Points/Scroll', { filter: { must: [{ field: { key: 'b', match: { keyword: '2' } } }] } });
    const out = await confine(compiled, '/qdrant.Points/Scroll', 'docs', Buffer.concat([one, two]), TENANT, noLookup);
    // biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages, read field by field in assertions
    expect(mustOf(decode('/qdrant.Points/Scroll', out).filter).map((c: any) => c.field.key)).toEqual(['a', 'b', 'tenant']);
  });

  it('batches and nested prefetches: every element, every level', async () => {
    const batch = await run('/qdrant.Points/SearchBatch', {
      collection_name: 'docs',
      search_points: [
        { collection_name: 'docs', vector: [1] },
        { collection_name: 'docs', vector: [2], filter: { must: [] } },
      ],
    });
    for (const s of decode('/qdrant.Points/SearchBatch', batch).search_points) expect(mustOf(s.filter)).toEqual(like([tenantLike]));
    const query = await run('/qdrant.Points/Query', {
      collection_name: 'docs',
      prefetch: [{ prefetch: [{ prefetch: [{ limit: 5 }] }, { limit: 2 }] }],
    });
    const q = decode('/qdrant.Points/Query', query);
    expect(mustOf(q.filter)).toEqual(like([tenantLike]));
    expect(mustOf(q.prefetch[0].filter)).toEqual(like([tenantLike]));
    expect(mustOf(q.prefetch[0].prefetch[0].filter)).toEqual(like([tenantLike]));
    expect(mustOf(q.prefetch[0].prefetch[0].prefetch[0].filter)).toEqual(like([tenantLike]));
    expect(mustOf(q.prefetch[0].prefetch[1].filter)).toEqual(like([tenantLike]));
  });

  it('a point named by id outside a filter is refused (its vector would be read unfiltered); in a filter, or as a scroll offset, it is fine', async () => {
    expect(await refusal('/qdrant.Points/Recommend', { collection_name: 'docs', positive: [{ num: 7 }] })).toMatch(
      /a point named by id is read with no filter/,
    );
    expect(await refusal('/qdrant.Points/Query', { collection_name: 'docs', query: { nearest: { id: { num: 7 } } } })).toMatch(/named by id/);
    expect(
      await refusal('/qdrant.Points/Query', { collection_name: 'docs', prefetch: [{ query: { recommend: { positive: [{ id: { uuid: 'a' } }] } } }] }),
    ).toMatch(/named by id/);
    expect(await refusal('/qdrant.Points/Discover', { collection_name: 'docs', target: { single: { id: { num: 1 } } } })).toMatch(/named by id/);
    expect(await refusal('/qdrant.Points/Recommend', { collection_name: 'docs', positive_vectors: [{ data: [1, 2] }] })).toBeNull();
    expect(await refusal('/qdrant.Points/Count', { collection_name: 'docs', filter: { must: [{ has_id: { has_id: [{ num: 1 }] } }] } })).toBeNull();
    expect(await refusal('/qdrant.Points/Scroll', { collection_name: 'docs', offset: { num: 10 } })).toBeNull();
    expect(await refusal('/qdrant.Points/SearchGroups', { collection_name: 'docs', group_by: 'g', with_lookup: { collection: 'docs' } })).toMatch(
      /with_lookup/,
    );
  });
});

describe('writes', () => {
  it('a selector of ids becomes has_id AND the tenant; a filter gets the tenant merged in; none is refused', async () => {
    const byIds = decode(
      '/qdrant.Points/Delete',
      await run('/qdrant.Points/Delete', { collection_name: 'docs', points: { points: { ids: [{ num: 1 }, { uuid: 'x' }] } } }),
    );
    expect(byIds.points.points).toBeUndefined();
    expect(mustOf(byIds.points.filter)).toEqual(
      like([{ has_id: { has_id: [expect.objectContaining({ num: '1' }), expect.objectContaining({ uuid: 'x' })] } }, tenantLike]),
    );
    const byFilter = decode(
      '/qdrant.Points/Delete',
      await run('/qdrant.Points/Delete', { collection_name: 'docs', points: { filter: { should: [tenantCondition] } } }),
    );
    expect(mustOf(byFilter.points.filter)).toEqual(like([tenantLike]));
    expect(byFilter.points.filter.should).toHaveLength(1);
    expect(await refusal('/qdrant.Points/Delete', { collection_name: 'docs' })).toMatch(/no points selector/);
    // The last variant wins, as prost reads it: ids after a filter are ids.
    const both = Buffer.concat([
      encode('/qdrant.Points/Delete', { collection_name: 'docs', points: { filter: {} } }),
      encode('/qdrant.Points/Delete', { points: { points: { ids: [{ num: 3 }] } } }),
    ]);
    const last = decode('/qdrant.Points/Delete', await confine(compiled, '/qdrant.Points/Delete', 'docs', both, TENANT, noLookup));
    expect(mustOf(last.points.filter)[0]).toMatchObject({ has_id: { has_id: [{ num: '3' }] } });
  });

  it('Upsert: every point carries the tenant once, as one scalar; the tenant is the update_filter', async () => {
    const point = (payload: Record<string, unknown>) => ({ id: { num: 1 }, vectors: { vector: { data: [1] } }, payload: entries(payload) });
    const ok = await run('/qdrant.Points/Upsert', { collection_name: 'docs', points: [point({ tenant: { string_value: 'acme' }, x: { integer_value: 1 } })] });
    expect(mustOf(decode('/qdrant.Points/Upsert', ok).update_filter)).toEqual(like([tenantLike]));
    for (const bad of [
      {},
      { tenant: { string_value: 'globex' } },
      { tenant: { list_value: { values: [{ string_value: 'acme' }] } } },
      { tenant: { integer_value: 1 } },
    ])
      expect(await refusal('/qdrant.Points/Upsert', { collection_name: 'docs', points: [point(bad)] }), JSON.stringify(bad)).toMatch(
        /every point must carry tenant: acme/,
      );
    const nested = await refusal(
      '/qdrant.Points/Upsert',
      {
        collection_name: 'docs',
        points: [point({ org: { struct_value: { fields: entries({ id: { integer_value: -42 } }) } }, active: { bool_value: true } })],
      },
      MIXED,
    );
    expect(nested).toBeNull();
  });

  it('payload writes may not touch the tenant keys; an overwrite must keep them', async () => {
    const selector = { points: { ids: [{ num: 1 }] } };
    expect(
      await refusal('/qdrant.Points/SetPayload', {
        collection_name: 'docs',
        points_selector: selector,
        payload: entries({ tenant: { string_value: 'globex' } }),
      }),
    ).toMatch(/may not set the tenant/);
    expect(
      await refusal('/qdrant.Points/SetPayload', {
        collection_name: 'docs',
        points_selector: selector,
        payload: entries({ x: { string_value: 'y' } }),
        key: 'tenant.sub',
      }),
    ).toMatch(/may not set the tenant/);
    expect(
      await refusal('/qdrant.Points/SetPayload', { collection_name: 'docs', points_selector: selector, payload: entries({ x: { string_value: 'y' } }) }),
    ).toBeNull();
    expect(await refusal('/qdrant.Points/DeletePayload', { collection_name: 'docs', points_selector: selector, keys: ['x', 'tenant'] })).toMatch(
      /may not delete/,
    );
    expect(
      await refusal('/qdrant.Points/OverwritePayload', { collection_name: 'docs', points_selector: selector, payload: entries({ x: { string_value: 'y' } }) }),
    ).toMatch(/must carry tenant/);
    expect(await refusal('/qdrant.Points/ClearPayload', { collection_name: 'docs', points: selector })).toMatch(/refused/);
  });

  it('Get keeps only the ids the look-up found to be the tenant’s', async () => {
    let asked: Buffer | null = null;
    const owned = async (scroll: Buffer) => {
      asked = scroll;
      return found(['n:2', 'u:0d1a63bd2bd54e2a8f53b7c1f00d47c7']);
    };
    const out = await run(
      '/qdrant.Points/Get',
      { collection_name: 'docs', ids: [{ num: 1 }, { num: 2 }, { uuid: '0D1A63BD-2BD5-4E2A-8F53-B7C1F00D47C7' }], with_payload: { enable: true } },
      TENANT,
      owned,
    );
    const get = decode('/qdrant.Points/Get', out);
    expect(get.ids).toEqual(like([{ num: '2' }, { uuid: '0D1A63BD-2BD5-4E2A-8F53-B7C1F00D47C7' }]));
    expect(get.with_payload.enable).toBe(true);
    const scroll = decode('/qdrant.Points/Scroll', asked!);
    expect(scroll).toMatchObject({ collection_name: 'docs', limit: 3 });
    expect(mustOf(scroll.filter)[1]).toEqual(expect.objectContaining(tenantLike));
    expect(pointIdKey(compiled.schema!, encode('/qdrant.Points/Get', { ids: [{ num: 5 }] }).subarray(2))).toBe('n:5');
  });

  it('collection-level methods, snapshots and storage reads are refused with the reason', async () => {
    for (const path of ['/qdrant.Collections/Get', '/qdrant.Snapshots/Create', '/qdrant.Points/UpdateBatch', '/qdrant.Points/CreateFieldIndex'])
      expect(await refusal(path, { collection_name: 'docs' }), path).toMatch(/^Forbidden: refused: .* \(a tenant-bound grant on collection docs\)$/);
    // Forwarded as raw bytes (no descriptor): refused all the same.
    await expect(confine(compiled, '/qdrant.StorageRead/ReadWhole', 'docs', Buffer.alloc(0), TENANT, noLookup)).rejects.toThrow(
      /Forbidden: (refused|this method)/,
    );
    expect(await refusal('/qdrant.Collections/CollectionExists', { collection_name: 'docs' })).toBeNull();
  });
});

describe('fuzz: no filter a client sends widens what the tenant sees (fixed seed)', () => {
  // A point matches the rewritten filter only if it matches the tenant's condition: the condition
  // is in `must`, whatever should / must_not / min_should / nested filters the client adds.
  const condition: fc.Arbitrary<object> = fc.letrec((tie) => ({
    condition: fc.oneof(
      { depthSize: 'small' },
      fc.record({ field: fc.record({ key: fc.constantFrom('tenant', 'x', 'org.id'), match: fc.record({ keyword: fc.constantFrom('acme', 'globex', '') }) }) }),
      fc.record({ has_id: fc.record({ has_id: fc.array(fc.record({ num: fc.nat(5) }), { maxLength: 3 }) }) }),
      fc.record({ is_empty: fc.record({ key: fc.constantFrom('tenant', 'x') }) }),
      fc.record({ filter: tie('filter') }),
      fc.record({ nested: fc.record({ key: fc.constantFrom('tenant', 'x'), filter: tie('filter') }) }),
    ),
    filter: fc.record(
      {
        should: fc.array(tie('condition'), { maxLength: 3 }),
        must: fc.array(tie('condition'), { maxLength: 3 }),
        must_not: fc.array(tie('condition'), { maxLength: 3 }),
        min_should: fc.record({ conditions: fc.array(tie('condition'), { maxLength: 2 }), min_count: fc.nat(3) }),
      },
      { requiredKeys: [] },
    ),
  })).filter as fc.Arbitrary<object>;

  it('the tenant condition is in the top-level must of the one filter Qdrant reads', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(condition, { maxLength: 3 }), async (filters) => {
        // The client may send the filter field several times.
        const parts = filters.map((filter, i) => encode('/qdrant.Points/Count', i === 0 ? { collection_name: 'docs', filter } : { filter }));
        const out = await confine(
          compiled,
          '/qdrant.Points/Count',
          'docs',
          Buffer.concat(parts.length ? parts : [encode('/qdrant.Points/Count', { collection_name: 'docs' })]),
          TENANT,
          noLookup,
        );
        const decoded = decode('/qdrant.Points/Count', out);
        expect(mustOf(decoded.filter)).toContainEqual(expect.objectContaining(tenantLike));
        // Exactly one filter field remains on the wire.
        expect(readFields(out).filter((f) => f.number === 2)).toHaveLength(1);
      }),
      { seed: 1612, numRuns: 300 },
    );
  });
});

describe('after a red-team review', () => {
  /** Filter{must: [tenant = acme]}: the bytes the proxy appends (an attacker knows its own tenant). */
  const tenantMust = encode('/qdrant.Points/Count', { filter: { must: [tenantCondition] } }).subarray(2);
  /** A filter value ending in an unfinished unknown field 15 whose length is exactly the appended bytes. */
  const swallow = (prefix: Buffer = Buffer.alloc(0)) => Buffer.concat([prefix, Buffer.from([0x7a, tenantMust.length])]);
  const malformed = 'Validation error in body: request message could not be decoded';

  it('a client filter whose last field is unfinished cannot take the tenant in as its own bytes (reads, selectors, update_filter, prefetch)', async () => {
    const search = Buffer.concat([encode('/qdrant.Points/Search', { collection_name: 'docs', vector: [0.1], limit: 3 }), field(3, swallow())]);
    await expect(confine(compiled, '/qdrant.Points/Search', 'docs', search, TENANT, noLookup)).rejects.toThrow(malformed);
    const del = Buffer.concat([encode('/qdrant.Points/Delete', { collection_name: 'docs' }), field(3, field(2, swallow()))]);
    await expect(confine(compiled, '/qdrant.Points/Delete', 'docs', del, TENANT, noLookup)).rejects.toThrow(malformed);
    const upsert = Buffer.concat([
      encode('/qdrant.Points/Upsert', {
        collection_name: 'docs',
        points: [{ id: { num: 7 }, vectors: { vector: { data: [1] } }, payload: entries({ tenant: { string_value: 'acme' } }) }],
      }),
      field(6, swallow()),
    ]);
    await expect(confine(compiled, '/qdrant.Points/Upsert', 'docs', upsert, TENANT, noLookup)).rejects.toThrow(malformed);
    const prefetch = Buffer.concat([encode('/qdrant.Points/Query', { collection_name: 'docs' }), field(2, field(2, swallow()))]);
    await expect(confine(compiled, '/qdrant.Points/Query', 'docs', prefetch, TENANT, noLookup)).rejects.toThrow(malformed);
  });

  it('fuzz (fixed seed): whatever bytes a filter holds, the tenant ends as whole fields of the one filter, or the request is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 40 }), async (junk) => {
        const request = Buffer.concat([encode('/qdrant.Points/Count', { collection_name: 'docs' }), field(2, junk)]);
        let out: Buffer;
        try {
          out = await confine(compiled, '/qdrant.Points/Count', 'docs', request, TENANT, noLookup);
        } catch (err) {
          expect((err as Error).message).toBe(malformed);
          return;
        }
        const filters = readFields(out).filter((f) => f.number === 2);
        expect(filters).toHaveLength(1);
        const last = readFields(filters[0]!.bytes!).at(-1)!;
        expect(last.bytes && field(last.number, last.bytes)).toEqual(tenantMust);
      }),
      { seed: 1613, numRuns: 2000 },
    );
  });

  it('a request of millions of tiny fields is refused before it costs more than a bounded amount of memory', async () => {
    const tiny = Buffer.alloc(2 * (MAX_FIELDS_PER_REQUEST + 1));
    for (let i = 0; i < tiny.length; i += 2) tiny[i] = 0x78; // field 15, varint 0: unknown to Qdrant, skipped by prost
    const request = Buffer.concat([encode('/qdrant.Points/Count', { collection_name: 'docs' }), tiny]);
    const before = process.memoryUsage().heapUsed;
    await expect(confine(compiled, '/qdrant.Points/Count', 'docs', request, TENANT, noLookup)).rejects.toMatchObject({
      code: 'tenant_request_too_complex',
      message: `a tenant-bound request may hold at most ${MAX_FIELDS_PER_REQUEST} protobuf fields`,
    });
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('the field cap leaves room for real requests: an upsert of 5,000 points with ten payload keys', async () => {
    const payload = entries(
      Object.fromEntries([['tenant', { string_value: 'acme' }], ...Array.from({ length: 9 }, (_, i) => [`k${i}`, { integer_value: i }])]),
    );
    const points = Array.from({ length: 5000 }, (_, i) => ({ id: { num: i + 1 }, vectors: { vector: { data: [0.1, 0.2, 0.3] } }, payload }));
    const out = decode('/qdrant.Points/Upsert', await run('/qdrant.Points/Upsert', { collection_name: 'docs', points }));
    expect(out.points).toHaveLength(5000);
  });

  it("Get looks up the collection the call was authorized for, on the request's shard keys", async () => {
    // (A request naming its collection twice is refused: see the second review below.)
    const request = encode('/qdrant.Points/Get', { collection_name: 'docs', ids: [{ num: 5 }], shard_key_selector: { shard_keys: [{ keyword: 'k1' }] } });
    let asked: ReturnType<typeof decode> | null = null;
    await confine(compiled, '/qdrant.Points/Get', 'docs', request, TENANT, async (scroll) => {
      asked = decode('/qdrant.Points/Scroll', scroll);
      return found([]);
    });
    expect(asked).toMatchObject({ collection_name: 'docs', shard_key_selector: { shard_keys: [{ keyword: 'k1' }] } });
  });

  it('the IDF corpus (params.idf.corpus, a filter) is confined wherever the request sets idf; no idf is added where there is none', async () => {
    const beta = { must: [{ field: { key: 'tenant', match: { keyword: 'globex' } } }] };
    const betaLike = { field: expect.objectContaining({ key: 'tenant', match: expect.objectContaining({ keyword: 'globex' }) }) };
    const search = decode('/qdrant.Points/Search', await run('/qdrant.Points/Search', { collection_name: 'docs', params: { idf: { corpus: beta } } }));
    expect(mustOf(search.params.idf.corpus)).toEqual([expect.objectContaining(betaLike), expect.objectContaining(tenantLike)]);
    const global = decode('/qdrant.Points/Search', await run('/qdrant.Points/Search', { collection_name: 'docs', params: { idf: {} } }));
    expect(mustOf(global.params.idf.corpus)).toEqual([expect.objectContaining(tenantLike)]);
    // Qdrant refuses `idf` on a search of a vector without the idf modifier: none is added.
    const plain = decode('/qdrant.Points/Search', await run('/qdrant.Points/Search', { collection_name: 'docs', params: { hnsw_ef: 64 } }));
    expect(plain.params).toEqual(expect.objectContaining({ hnsw_ef: '64' }));
    expect(plain.params.idf).toBeUndefined();
    const query = decode(
      '/qdrant.Points/Query',
      await run('/qdrant.Points/Query', {
        collection_name: 'docs',
        params: { idf: {} },
        prefetch: [{ limit: 5, prefetch: [{ limit: 5, params: { idf: { corpus: beta } } }] }],
      }),
    );
    expect(mustOf(query.params.idf.corpus)).toEqual([expect.objectContaining(tenantLike)]);
    expect(query.prefetch[0].params).toBeUndefined();
    expect(mustOf(query.prefetch[0].prefetch[0].params.idf.corpus)).toEqual([expect.objectContaining(betaLike), expect.objectContaining(tenantLike)]);
    for (const path of ['/qdrant.Points/Recommend', '/qdrant.Points/Discover', '/qdrant.Points/SearchGroups', '/qdrant.Points/QueryGroups'])
      expect(mustOf(decode(path, await run(path, { collection_name: 'docs', params: { idf: {} } })).params.idf.corpus), path).toEqual([
        expect.objectContaining(tenantLike),
      ]);
    const batch = decode(
      '/qdrant.Points/SearchBatch',
      await run('/qdrant.Points/SearchBatch', { collection_name: 'docs', search_points: [{ collection_name: 'docs', params: { idf: {} } }] }),
    );
    expect(mustOf(batch.search_points[0].params.idf.corpus)).toEqual([expect.objectContaining(tenantLike)]);
  });

  it('Count is exact: an estimate comes from collection-wide index statistics', async () => {
    const out = await run('/qdrant.Points/Count', { collection_name: 'docs', exact: false });
    expect(decode('/qdrant.Points/Count', out).exact).toBe(true);
  });

  it("UpdateVectors answers NOT_FOUND alike for another tenant's id and a free one; the tenant's own ids go through", async () => {
    const request = {
      collection_name: 'docs',
      points: [
        { id: { num: 1 }, vectors: { vector: { data: [1] } } },
        { id: { uuid: 'A0D1A63B-2BD5-4E2A-8F53-B7C1F00D47C7' }, vectors: { vector: { data: [1] } } },
      ],
    };
    let asked: ReturnType<typeof decode> | null = null;
    const onlyOne = async (scroll: Buffer) => {
      asked = decode('/qdrant.Points/Scroll', scroll);
      return found(['n:1']);
    };
    await expect(run('/qdrant.Points/UpdateVectors', request, TENANT, onlyOne)).rejects.toMatchObject({
      code: 'tenant_point_not_found',
      message: 'Not found: No point with id a0d1a63b-2bd5-4e2a-8f53-b7c1f00d47c7 found',
    });
    expect(asked).toMatchObject({ collection_name: 'docs', limit: 2 });
    const both = async () => found(['n:1', 'u:a0d1a63b2bd54e2a8f53b7c1f00d47c7']);
    const out = decode('/qdrant.Points/UpdateVectors', await run('/qdrant.Points/UpdateVectors', request, TENANT, both));
    expect(mustOf(out.update_filter)).toEqual([expect.objectContaining(tenantLike)]);
  });
});

describe('after a second red-team review', () => {
  it('a request naming its collection more than once is refused (Qdrant reads the last, the look-up the authorized one)', async () => {
    const twice = (path: string, value: object) =>
      Buffer.concat([encode(path, { collection_name: 'docs', ...value }), encode(path, { collection_name: 'docs2' })]);
    for (const [path, value] of [
      ['/qdrant.Points/Get', { ids: [{ num: 11 }] }],
      ['/qdrant.Points/UpdateVectors', { points: [{ id: { num: 11 }, vectors: { vector: { data: [1] } } }] }],
      ['/qdrant.Points/Search', { vector: [1], limit: 1 }],
      ['/qdrant.Points/Delete', { points: { points: { ids: [{ num: 11 }] } } }],
    ] as const)
      await expect(confine(compiled, path, 'docs', twice(path, value), TENANT, noLookup), path).rejects.toThrow(
        'Forbidden: refused: a request naming its collection more than once (a tenant-bound grant on collection docs)',
      );
  });

  it('deeply nested prefetches are rewritten at every level with the request copied about once, not once per level', async () => {
    let prefetch: object = { limit: 1, filter: { must: [{ field: { key: 'x', match: { keyword: 'y' } } }] } };
    for (let i = 0; i < 60; i++) prefetch = { limit: 1, prefetch: [prefetch], params: { idf: {} } };
    const big = Buffer.concat([encode('/qdrant.Points/Query', { collection_name: 'docs', prefetch: [prefetch] }), field(99, Buffer.alloc(4 << 20))]);
    const spy = vi.spyOn(Buffer, 'concat');
    try {
      const out = await confine(compiled, '/qdrant.Points/Query', 'docs', big, TENANT, noLookup);
      const copied = spy.mock.results.reduce((n, r) => n + (r.value as Buffer).length, 0);
      expect(copied).toBeLessThan(big.length * 1.1 + (1 << 20));
      let level = decode('/qdrant.Points/Query', out).prefetch[0];
      for (let depth = 0; level; depth++, level = level.prefetch?.[0]) {
        expect(mustOf(level.filter), `depth ${depth}`).toContainEqual(expect.objectContaining(tenantLike));
        if (level.params) expect(mustOf(level.params.idf.corpus), `depth ${depth}`).toContainEqual(expect.objectContaining(tenantLike));
      }
    } finally {
      spy.mockRestore();
    }
  });
});

describe('Get on a collection with custom sharding', () => {
  const request = encode('/qdrant.Points/Get', {
    collection_name: 'docs',
    ids: [{ num: 5 }, { num: 7 }],
    shard_key_selector: { shard_keys: [{ keyword: 'sa' }, { keyword: 'sb' }] },
  });
  it("is pinned to the one shard key the tenant's points are under (a Get over several shards keeps one point per id)", async () => {
    const out = decode(
      '/qdrant.Points/Get',
      await confine(compiled, '/qdrant.Points/Get', 'docs', request, TENANT, async () => found(['n:5', 'n:7'], ['k:sa'])),
    );
    expect(out.ids).toEqual(like([{ num: '5' }, { num: '7' }]));
    expect(out.shard_key_selector.shard_keys).toEqual(like([{ keyword: 'sa' }]));
    const numbered = decode('/qdrant.Points/Get', await confine(compiled, '/qdrant.Points/Get', 'docs', request, TENANT, async () => found(['n:5'], ['n:42'])));
    expect(numbered.ids).toEqual(like([{ num: '5' }]));
    expect(numbered.shard_key_selector.shard_keys).toEqual(like([{ number: '42' }]));
  });

  it('is refused when they are under several; left as sent without shard keys', async () => {
    await expect(confine(compiled, '/qdrant.Points/Get', 'docs', request, TENANT, async () => found(['n:5', 'n:7'], ['k:sa', 'k:sb']))).rejects.toThrow(
      "Forbidden: refused: the tenant's points asked for are under several shard keys (send one request per shard_key_selector) (a tenant-bound grant on collection docs)",
    );
    const plain = encode('/qdrant.Points/Get', { collection_name: 'docs', ids: [{ num: 5 }] });
    expect(await confine(compiled, '/qdrant.Points/Get', 'docs', plain, TENANT, async () => found(['n:5']))).toEqual(plain);
  });
});

describe('after a third review', () => {
  it("UpdateVectors is pinned to the shard key the tenant's ids were found under (over several, Qdrant answers NOT_FOUND only where no point has the id)", async () => {
    const path = '/qdrant.Points/UpdateVectors';
    const request = encode(path, {
      collection_name: 'docs',
      points: [{ id: { num: 5 }, vectors: { vector: { data: [1] } } }],
      shard_key_selector: { shard_keys: [{ keyword: 'sa' }, { keyword: 'sb' }] },
    });
    const out = decode(path, await confine(compiled, path, 'docs', request, TENANT, async () => found(['n:5'], ['k:sa'])));
    expect(out.shard_key_selector.shard_keys).toEqual(like([{ keyword: 'sa' }]));
    expect(mustOf(out.update_filter)).toEqual([expect.objectContaining(tenantLike)]);
    await expect(confine(compiled, path, 'docs', request, TENANT, async () => found(['n:5'], ['k:sa', 'k:sb']))).rejects.toThrow(/several shard keys/);
  });

  it('the field cap is not shared with a call that runs while this one awaits its look-up', async () => {
    const path = '/qdrant.Points/UpdateVectors';
    const update = encode(path, { collection_name: 'docs', points: [{ id: { num: 5 }, vectors: { vector: { data: [1] } } }] });
    const tiny = Buffer.alloc(2 * (MAX_FIELDS_PER_REQUEST - 10));
    for (let i = 0; i < tiny.length; i += 2) tiny[i] = 0x78;
    const count = Buffer.concat([encode('/qdrant.Points/Count', { collection_name: 'docs' }), tiny]);
    // The other call starts after 0..11 microtask ticks: one of them lands between the look-up's
    // answer and the rest of the update's confinement.
    for (let ticks = 0; ticks < 12; ticks++) {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const updating = confine(compiled, path, 'docs', update, TENANT, async () => {
        await gate;
        return found(['n:5']);
      });
      release();
      let delay: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < ticks; i++) delay = delay.then(() => undefined);
      const counting = delay.then(() => confine(compiled, '/qdrant.Points/Count', 'docs', count, TENANT, noLookup));
      const [updated] = await Promise.allSettled([updating, counting]);
      expect(updated.status, `after ${ticks} ticks`).toBe('fulfilled');
    }
  });

  it('a pinned shard key is the one found, exactly (odd keywords, u64 numbers); the client fallback is dropped', async () => {
    const path = '/qdrant.Points/Get';
    const request = encode(path, {
      collection_name: 'docs',
      ids: [{ num: 5 }],
      shard_key_selector: { shard_keys: [{ keyword: 't' }], fallback: { keyword: 'f' } },
    });
    for (const key of ['k:a\u0000b😀\uFEFFn:1', 'n:18446744073709551615', 'k:n:7']) {
      const out = decode(path, await confine(compiled, path, 'docs', request, TENANT, async () => found(['n:5'], [key])));
      expect(out.shard_key_selector.fallback).toBeUndefined();
      const pinned = out.shard_key_selector.shard_keys[0];
      expect(pinned.keyword !== undefined ? `k:${pinned.keyword}` : `n:${pinned.number}`).toBe(key);
    }
  });
});
