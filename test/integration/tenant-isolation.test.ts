// Tenant isolation through the real binary against the stand-in: two tenants' points in one
// collection, some with vectors that collide; a token of tenant A can neither read nor change nor
// learn of tenant B's points on any method, and A's own operations work. The stand-in imitates
// Qdrant's filter semantics; README "Tenant isolation" keeps the reasoning from Qdrant's source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { forwardedSince, type Stack, startStack } from '../helpers/proxy-stack.js';
import { md, rawUnary } from '../helpers/raw-client.js';
import { hs256 } from '../helpers/tokens.js';

const KEY = 'tenant-isolation-test-master-key-0123';
const api = loadQdrantApi();
const enc = (path: string, value: object) => api.methods.get(path)!.request!.encode(value);
// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages, read field by field in assertions
const dec = (path: string, bytes: Buffer) => api.methods.get(path)!.response!.decode(bytes) as Record<string, any>;
// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages, read field by field in assertions
const decReq = (path: string, bytes: Buffer) => api.methods.get(path)!.request!.decode(bytes) as Record<string, any>;
const C = 'shared';
const payload = (entries: Record<string, unknown>) => Object.entries(entries).map(([key, value]) => ({ key, value }));
const point = (id: number, tenant: string, kind: string, vector: number[]) => ({
  id: { num: id },
  vectors: { vector: { data: vector } },
  payload: payload({ tenant: { string_value: tenant }, kind: { string_value: kind } }),
});
const ids = (points: { id?: { num?: string } }[] | undefined) => (points ?? []).map((p) => Number(p.id?.num)).sort((a, b) => a - b);

let stack: Stack;
let tenantA: Record<string, string>;
const master = md({ 'api-key': KEY });

async function call(path: string, value: object, metadata: Record<string, string> | ReturnType<typeof md> = tenantA) {
  const out = await rawUnary(
    stack.client,
    path,
    enc(path, value),
    'get' in metadata ? (metadata as ReturnType<typeof md>) : md(metadata as Record<string, string>),
  );
  return { ...out, body: out.reply && out.code === 0 ? dec(path, out.reply) : null };
}

async function allPoints(): Promise<Map<number, Record<string, string>>> {
  const out = await call('/qdrant.Points/Scroll', { collection_name: C, limit: 100, with_payload: { enable: true } }, master);
  type Entry = { key: string; value: { string_value?: string } };
  return new Map(
    (out.body!.result as { id: { num: string }; payload: Entry[] }[]).map((p) => [
      Number(p.id.num),
      Object.fromEntries(p.payload.map(({ key, value }) => [key, value.string_value ?? JSON.stringify(value)])),
    ]),
  );
}

beforeAll(async () => {
  stack = await startStack({ service: { api_key: KEY, jwt_rbac: true }, auth: { tenant_isolation: true } });
  tenantA = { authorization: `Bearer ${await hs256({ access: [{ collection: C, access: 'rw', payload: { tenant: 'acme' } }], sub: 'acme-app' }, KEY)}` };
  expect((await call('/qdrant.Collections/Create', { collection_name: C, vectors_config: { params: { size: 2, distance: 1 } } }, master)).code).toBe(0);
  // Tenant B's vectors sit right on top of A's: any leak shows in a search.
  const points = [
    point(1, 'acme', 'x', [1, 0]),
    point(2, 'acme', 'y', [0, 1]),
    point(3, 'acme', 'x', [0.7, 0.7]),
    point(11, 'globex', 'x', [1, 0.001]),
    point(12, 'globex', 'y', [0.001, 1]),
    point(13, 'globex', 'x', [0.7, 0.71]),
  ];
  expect((await call('/qdrant.Points/Upsert', { collection_name: C, wait: true, points }, master)).code).toBe(0);
});
afterAll(async () => stack?.stop());

describe("reads: tenant A sees only A's points, and learns nothing of B's", () => {
  it("Search, SearchBatch, Query, QueryBatch, Scroll (from an offset that is B's), Count", async () => {
    const search = await call('/qdrant.Points/Search', { collection_name: C, vector: [1, 0], limit: 10 });
    expect(ids(search.body!.result)).toEqual([1, 2, 3]);
    const batch = await call('/qdrant.Points/SearchBatch', { collection_name: C, search_points: [{ collection_name: C, vector: [0, 1], limit: 10 }] });
    expect(ids(batch.body!.result[0].result)).toEqual([1, 2, 3]);
    const query = await call('/qdrant.Points/Query', {
      collection_name: C,
      query: { nearest: { dense: { data: [1, 0] } } },
      limit: 10,
    });
    expect(ids(query.body!.result)).toEqual([1, 2, 3]);
    const queryBatch = await call('/qdrant.Points/QueryBatch', { collection_name: C, query_points: [{ collection_name: C, limit: 10 }] });
    expect(ids(queryBatch.body!.result[0].result)).toEqual([1, 2, 3]);
    const scroll = await call('/qdrant.Points/Scroll', { collection_name: C, limit: 10, offset: { num: 11 } });
    expect(ids(scroll.body!.result)).toEqual([]);
    const scrollAll = await call('/qdrant.Points/Scroll', {
      collection_name: C,
      limit: 10,
      filter: { should: [{ field: { key: 'tenant', match: { keyword: 'globex' } } }] },
    });
    expect(ids(scrollAll.body!.result)).toEqual([]); // a should naming B cannot widen the must naming A
    expect((await call('/qdrant.Points/Count', { collection_name: C, exact: true })).body!.result.count).toBe('3');
    const notB = await call('/qdrant.Points/Count', {
      collection_name: C,
      exact: true,
      filter: { must_not: [{ field: { key: 'tenant', match: { keyword: 'acme' } } }] },
    });
    expect(notB.body!.result.count).toBe('0');
  });

  it("Get returns only A's points of the ids asked, with no error naming B's", async () => {
    const get = await call('/qdrant.Points/Get', { collection_name: C, ids: [{ num: 1 }, { num: 11 }, { num: 12 }], with_payload: { enable: true } });
    expect(get.code).toBe(0);
    expect(ids(get.body!.result)).toEqual([1]);
    const onlyB = await call('/qdrant.Points/Get', { collection_name: C, ids: [{ num: 13 }] });
    expect(onlyB).toMatchObject({ code: 0 });
    expect(ids(onlyB.body!.result)).toEqual([]);
  });

  it("facet counts, group keys and recommendations come from A's points only", async () => {
    const facet = await call('/qdrant.Points/Facet', { collection_name: C, key: 'kind', exact: true });
    const counts = Object.fromEntries(facet.body!.hits.map((h: { value: { string_value: string }; count: string }) => [h.value.string_value, Number(h.count)]));
    expect(counts).toEqual({ x: 2, y: 1 });
    const groups = await call('/qdrant.Points/SearchGroups', { collection_name: C, vector: [1, 0], group_by: 'kind', limit: 5, group_size: 5 });
    const members = groups.body!.result.groups.flatMap((g: { hits: { id: { num: string } }[] }) => g.hits.map((h) => Number(h.id.num)));
    expect(members.sort((a: number, b: number) => a - b)).toEqual([1, 2, 3]);
    const recommend = await call('/qdrant.Points/Recommend', { collection_name: C, positive_vectors: [{ data: [1, 0.001] }], limit: 10 });
    expect(ids(recommend.body!.result)).toEqual([1, 2, 3]);
  });

  it('methods the stand-in does not answer still go upstream confined (Discover, matrix); ids and lookups are refused', async () => {
    const from = stack.standin.calls.length;
    const must = (path: string) => {
      const sent = forwardedSince(stack.standin, from)
        .filter((c) => c.path === path)
        .at(-1)!;
      return decReq(path, sent.request).filter?.must ?? [];
    };
    const tenant = expect.objectContaining({ field: expect.objectContaining({ key: 'tenant', match: expect.objectContaining({ keyword: 'acme' }) }) });
    await call('/qdrant.Points/Recommend', { collection_name: C, positive_vectors: [{ data: [1, 0] }], limit: 3 });
    expect(must('/qdrant.Points/Recommend')).toContainEqual(tenant);
    await call('/qdrant.Points/Facet', { collection_name: C, key: 'kind' });
    expect(must('/qdrant.Points/Facet')).toContainEqual(tenant);
    await call('/qdrant.Points/SearchGroups', { collection_name: C, vector: [1, 0], group_by: 'kind', limit: 2, group_size: 2 });
    expect(must('/qdrant.Points/SearchGroups')).toContainEqual(tenant);
    await call('/qdrant.Points/SearchMatrixPairs', { collection_name: C, sample: 4, limit: 2 });
    expect(must('/qdrant.Points/SearchMatrixPairs')).toContainEqual(tenant);
    const before = stack.standin.calls.length;
    expect(await call('/qdrant.Points/Recommend', { collection_name: C, positive: [{ num: 11 }], limit: 3 })).toMatchObject({
      code: 7,
      details: expect.stringContaining('a point named by id is read with no filter'),
    });
    expect(await call('/qdrant.Points/SearchGroups', { collection_name: C, vector: [1, 0], group_by: 'kind', with_lookup: { collection: C } })).toMatchObject({
      code: 7,
    });
    expect(forwardedSince(stack.standin, before)).toEqual([]);
  });

  it('collection-level information is refused; existence and names are not', async () => {
    expect(await call('/qdrant.Collections/Get', { collection_name: C })).toMatchObject({
      code: 7,
      details: `Forbidden: refused: collection info counts every tenant’s points (a tenant-bound grant on collection ${C})`,
    });
    expect((await call('/qdrant.Collections/CollectionExists', { collection_name: C })).code).toBe(0);
    expect((await call('/qdrant.Collections/List', {})).body!.collections.map((c: { name: string }) => c.name)).toEqual([C]);
  });
});

describe("writes: tenant A changes only A's points", () => {
  it("deletes by id or by filter touch only A's points", async () => {
    expect((await call('/qdrant.Points/Delete', { collection_name: C, wait: true, points: { points: { ids: [{ num: 2 }, { num: 12 }] } } })).code).toBe(0);
    let all = await allPoints();
    expect(all.has(2)).toBe(false);
    expect(all.has(12)).toBe(true);
    expect(
      (
        await call('/qdrant.Points/Delete', {
          collection_name: C,
          wait: true,
          points: { filter: { must: [{ field: { key: 'kind', match: { keyword: 'x' } } }] } },
        })
      ).code,
    ).toBe(0);
    all = await allPoints();
    expect([...all.keys()].sort((a, b) => a - b)).toEqual([11, 12, 13]);
    // Put A's points back for the next tests.
    const restore = [point(1, 'acme', 'x', [1, 0]), point(2, 'acme', 'y', [0, 1]), point(3, 'acme', 'x', [0.7, 0.7])];
    expect((await call('/qdrant.Points/Upsert', { collection_name: C, wait: true, points: restore })).code).toBe(0);
  });

  it("payload writes reach only A's points and never the tenant's key", async () => {
    const selector = { points: { ids: [{ num: 3 }, { num: 13 }] } };
    expect(
      (
        await call('/qdrant.Points/SetPayload', {
          collection_name: C,
          wait: true,
          points_selector: selector,
          payload: payload({ note: { string_value: 'a' } }),
        })
      ).code,
    ).toBe(0);
    expect((await call('/qdrant.Points/DeletePayload', { collection_name: C, wait: true, points_selector: selector, keys: ['kind'] })).code).toBe(0);
    expect(
      (
        await call('/qdrant.Points/OverwritePayload', {
          collection_name: C,
          wait: true,
          points_selector: selector,
          payload: payload({ tenant: { string_value: 'acme' }, only: { string_value: 'this' } }),
        })
      ).code,
    ).toBe(0);
    const all = await allPoints();
    expect(all.get(3)).toEqual({ tenant: 'acme', only: 'this' });
    expect(all.get(13)).toEqual({ tenant: 'globex', kind: 'x' });
    expect(
      await call('/qdrant.Points/SetPayload', { collection_name: C, points_selector: selector, payload: payload({ tenant: { string_value: 'globex' } }) }),
    ).toMatchObject({
      code: 7,
      details: expect.stringContaining("may not set the tenant's own keys"),
    });
    expect(await call('/qdrant.Points/ClearPayload', { collection_name: C, points: selector })).toMatchObject({ code: 7 });
  });

  it("an upsert must carry the tenant, and cannot overwrite B's point with a colliding id", async () => {
    expect(
      (await call('/qdrant.Points/Upsert', { collection_name: C, wait: true, points: [point(11, 'acme', 'stolen', [1, 1]), point(21, 'acme', 'new', [1, 1])] }))
        .code,
    ).toBe(0);
    const all = await allPoints();
    expect(all.get(11)).toEqual({ tenant: 'globex', kind: 'x' });
    expect(all.get(21)).toEqual({ tenant: 'acme', kind: 'new' });
    expect(await call('/qdrant.Points/Upsert', { collection_name: C, points: [point(22, 'globex', 'planted', [1, 1])] })).toMatchObject({
      code: 7,
      details: expect.stringContaining('every point must carry tenant: acme'),
    });
    expect((await allPoints()).has(22)).toBe(false);
  });

  it("UpdateVectors: another tenant's id is answered as an id no point has, and never reaches Qdrant; a filter ending unfinished is refused", async () => {
    const from = stack.standin.calls.length;
    const vectors = (id: number) => ({ collection_name: C, wait: true, points: [{ id: { num: id }, vectors: { vector: { data: [0.5, 0.5] } } }] });
    expect(await call('/qdrant.Points/UpdateVectors', vectors(11))).toMatchObject({ code: 5, details: 'Not found: No point with id 11 found' });
    expect(await call('/qdrant.Points/UpdateVectors', vectors(999))).toMatchObject({ code: 5, details: 'Not found: No point with id 999 found' });
    expect(forwardedSince(stack.standin, from).map((c) => c.path)).toEqual(['/qdrant.Points/Scroll', '/qdrant.Points/Scroll']); // the look-ups only
    expect((await call('/qdrant.Points/UpdateVectors', vectors(1))).code).toBe(0);
    // A filter whose last field claims the bytes after it (here: the conditions the proxy appends).
    const swallowing = Buffer.concat([enc('/qdrant.Points/Count', { collection_name: C }), Buffer.from([0x12, 0x02, 0x7a, 0x14])]);
    expect(await rawUnary(stack.client, '/qdrant.Points/Count', swallowing, md(tenantA))).toMatchObject({
      code: 3,
      details: 'Validation error in body: request message could not be decoded',
    });
    expect((await call('/qdrant.Points/Count', { collection_name: C, exact: false })).body!.result.count).toBe('4'); // 1, 2, 3, 21
  });

  it("a look-up Qdrant refuses answers with Qdrant's answer, not a retry-later", async () => {
    const missing = { authorization: `Bearer ${await hs256({ access: [{ collection: 'nope', access: 'rw', payload: { tenant: 'acme' } }] }, KEY)}` };
    const get = await call('/qdrant.Points/Get', { collection_name: 'nope', ids: [{ num: 1 }] }, missing);
    expect(get).toMatchObject({ code: 5, details: expect.stringContaining('nope') });
  });

  it('a token carrying a payload is refused as Qdrant 1.19 refuses it when tenant isolation is off', async () => {
    const plain = await startStack({ service: { api_key: KEY, jwt_rbac: true } });
    try {
      const token = await hs256({ access: [{ collection: C, access: 'r', payload: { tenant: 'acme' } }] }, KEY);
      expect(
        await rawUnary(plain.client, '/qdrant.Points/Count', enc('/qdrant.Points/Count', { collection_name: C }), md({ authorization: `Bearer ${token}` })),
      ).toMatchObject({
        code: 16,
        details: "access[0].payload: The 'payload' constraint is deprecated and should not be used",
      });
    } finally {
      await plain.stop();
    }
  });
});
