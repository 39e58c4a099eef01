// The stand-in upstream's in-memory store: filters, scrolling, search, aliases (NOT Qdrant itself).
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { type FilterSubject, matchesFilter } from '../../src/standin/standin-filter.js';
import type { ConditionMsg, FilterMsg, ValueMsg } from '../../src/standin/standin-messages.js';
import { StandinError } from '../../src/standin/standin-messages.js';
import { comparePointIds, parsePointId } from '../../src/standin/standin-point-id.js';
import { type NewPoint, StandinStore } from '../../src/standin/standin-store.js';
import type { VectorSpec } from '../../src/standin/standin-vectors.js';

// ---- helpers ------------------------------------------------------------------------------------

function value(v: unknown): ValueMsg {
  if (v === null) return { null_value: 'NULL_VALUE' };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { integer_value: String(v) } : { double_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(value) } };
  return { struct_value: { fields: Object.entries(v as object).map(([key, x]) => ({ key, value: value(x) })) } };
}

const payload = (obj: Record<string, unknown>): Map<string, ValueMsg> => new Map(Object.entries(obj).map(([k, v]) => [k, value(v)]));

const subject = (obj: Record<string, unknown>, key = 'n:1'): FilterSubject => ({ key, payload: payload(obj), vectorNames: new Set(['']) });

const keyword = (key: string, keyword: string): ConditionMsg => ({ field: { key, match: { keyword } } });
const integer = (key: string, integer: number): ConditionMsg => ({ field: { key, match: { integer: String(integer) } } });
const boolean = (key: string, boolean: boolean): ConditionMsg => ({ field: { key, match: { boolean } } });

const point = (id: number | string, vector: number[], obj: Record<string, unknown> = {}): NewPoint => ({
  id: parsePointId(typeof id === 'number' ? { num: String(id) } : { uuid: id }),
  vectors: new Map([['', vector]]),
  payload: payload(obj),
});

function storeWith(spec: VectorSpec, points: NewPoint[]): StandinStore {
  const store = new StandinStore();
  store.createCollection('c', new Map([['', spec]]));
  store.collection('c').upsert(points);
  return store;
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof StandinError) return err.code;
    throw err;
  }
  return undefined;
}

// ---- filters ------------------------------------------------------------------------------------

describe('stand-in filters', () => {
  const doc = subject({ team: 'red', level: 3, admin: false, tags: ['a', 'b'], owner: { name: 'ann', id: 7 } });

  it('matches keyword, integer and boolean values', () => {
    expect(matchesFilter(doc, { must: [keyword('team', 'red')] })).toBe(true);
    expect(matchesFilter(doc, { must: [keyword('team', 'blue')] })).toBe(false);
    expect(matchesFilter(doc, { must: [integer('level', 3)] })).toBe(true);
    expect(matchesFilter(doc, { must: [integer('level', 4)] })).toBe(false);
    expect(matchesFilter(doc, { must: [boolean('admin', false)] })).toBe(true);
    expect(matchesFilter(doc, { must: [boolean('admin', true)] })).toBe(false);
  });

  it('does not confuse types: keyword "3" is not integer 3', () => {
    expect(matchesFilter(doc, { must: [keyword('level', '3')] })).toBe(false);
    expect(matchesFilter(subject({ level: '3' }), { must: [integer('level', 3)] })).toBe(false);
  });

  it('a missing key matches nothing', () => {
    expect(matchesFilter(doc, { must: [keyword('nope', 'red')] })).toBe(false);
    expect(matchesFilter(doc, { must_not: [keyword('nope', 'red')] })).toBe(true);
  });

  it('matches any element of an array and nested object paths', () => {
    expect(matchesFilter(doc, { must: [keyword('tags', 'b')] })).toBe(true);
    expect(matchesFilter(doc, { must: [keyword('owner.name', 'ann')] })).toBe(true);
    expect(matchesFilter(doc, { must: [integer('owner.id', 7)] })).toBe(true);
  });

  it('combines must, must_not and should', () => {
    const f: FilterMsg = { must: [keyword('team', 'red')], must_not: [integer('level', 9)], should: [keyword('tags', 'x'), keyword('tags', 'a')] };
    expect(matchesFilter(doc, f)).toBe(true);
    expect(matchesFilter(doc, { ...f, should: [keyword('tags', 'x')] })).toBe(false);
    expect(matchesFilter(doc, { ...f, must_not: [integer('level', 3)] })).toBe(false);
    expect(matchesFilter(doc, {})).toBe(true);
    expect(matchesFilter(doc, undefined)).toBe(true);
  });

  it('supports min_should, nested filters, has_id and ranges', () => {
    const conditions = [keyword('team', 'red'), integer('level', 3), boolean('admin', true)];
    expect(matchesFilter(doc, { min_should: { conditions, min_count: '2' } })).toBe(true);
    expect(matchesFilter(doc, { min_should: { conditions, min_count: '3' } })).toBe(false);
    expect(matchesFilter(doc, { must: [{ filter: { should: [keyword('team', 'blue'), keyword('team', 'red')] } }] })).toBe(true);
    expect(matchesFilter(doc, { must: [{ has_id: { has_id: [{ num: '1' }] } }] })).toBe(true);
    expect(matchesFilter(doc, { must: [{ has_id: { has_id: [{ num: '2' }] } }] })).toBe(false);
    expect(matchesFilter(doc, { must: [{ field: { key: 'level', range: { gte: 3, lt: 4 } } }] })).toBe(true);
    expect(matchesFilter(doc, { must: [{ field: { key: 'level', range: { gt: 3 } } }] })).toBe(false);
  });

  it('supports is_empty, is_null and keywords / except_keywords', () => {
    const d = subject({ a: null, b: [], c: 'x' });
    expect(matchesFilter(d, { must: [{ is_empty: { key: 'b' } }, { is_empty: { key: 'missing' } }, { is_null: { key: 'a' } }] })).toBe(true);
    expect(matchesFilter(d, { must: [{ is_null: { key: 'missing' } }] })).toBe(false);
    expect(matchesFilter(d, { must: [{ field: { key: 'c', match: { keywords: { strings: ['y', 'x'] } } } }] })).toBe(true);
    expect(matchesFilter(d, { must: [{ field: { key: 'c', match: { except_keywords: { strings: ['x'] } } } }] })).toBe(false);
  });

  it('refuses conditions it cannot evaluate instead of answering wrongly', () => {
    expect(codeOf(() => matchesFilter(doc, { must: [{ field: { key: 'loc', geo_radius: {} } }] }))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => matchesFilter(doc, { must: [{}] }))).toBe(status.INVALID_ARGUMENT);
  });
});

// ---- store --------------------------------------------------------------------------------------

describe('stand-in store', () => {
  it('orders numeric ids before UUIDs, numerically', () => {
    const ids = [{ num: '10' }, { uuid: '00000000-0000-0000-0000-000000000001' }, { num: '9' }].map((m) => parsePointId(m));
    expect(ids.sort(comparePointIds).map((i) => ('num' in i ? i.num : i.uuid))).toEqual(['9', '10', '00000000-0000-0000-0000-000000000001']);
    expect(parsePointId({ uuid: '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}' })).toEqual({ uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' });
  });

  it("scrolls with filter, limit and next_page_offset (the proxy's value check: limit 1 + must match)", () => {
    const store = storeWith({ size: 2, distance: 'Dot' }, [
      point(3, [1, 0], { tenant: 'a' }),
      point(1, [1, 0], { tenant: 'b' }),
      point(2, [1, 0], { tenant: 'a' }),
    ]);
    const c = store.collection('c');
    const first = c.scroll({ filter: { must: [keyword('tenant', 'a')] }, limit: 1 });
    expect(first.points.map((p) => p.id)).toEqual([{ num: '2' }]);
    expect(first.next).toEqual({ num: '3' });
    expect(c.scroll({ filter: { must: [keyword('tenant', 'zzz')] }, limit: 1 }).points).toEqual([]);
    const rest = c.scroll({ limit: 10, offset: { num: '2' } });
    expect(rest.points.map((p) => p.id)).toEqual([{ num: '2' }, { num: '3' }]);
    expect(rest.next).toBeUndefined();
    expect(c.count({ must: [keyword('tenant', 'a')] })).toBe(2);
    expect(c.count(undefined)).toBe(3);
  });

  it('searches by cosine (normalizing like Qdrant), honouring filter, limit and threshold', () => {
    const store = storeWith({ size: 2, distance: 'Cosine' }, [point(1, [1, 0], { k: 'x' }), point(2, [1, 1], { k: 'y' }), point(3, [0, 5], { k: 'x' })]);
    const c = store.collection('c');
    const hits = c.search({ vector: [2, 0], limit: 3 });
    expect(hits.map((h) => h.point.id)).toEqual([{ num: '1' }, { num: '2' }, { num: '3' }]);
    expect(hits[0]!.score).toBeCloseTo(1, 5);
    expect(hits[1]!.score).toBeCloseTo(Math.SQRT1_2, 5);
    expect(hits[2]!.score).toBeCloseTo(0, 5);
    expect(c.search({ vector: [2, 0], limit: 3, filter: { must: [keyword('k', 'x')] } }).map((h) => h.point.id)).toEqual([{ num: '1' }, { num: '3' }]);
    expect(c.search({ vector: [2, 0], limit: 3, scoreThreshold: 0.5 })).toHaveLength(2);
    expect(c.search({ vector: [2, 0], limit: 1, offset: 1 }).map((h) => h.point.id)).toEqual([{ num: '2' }]);
    expect(c.points.get('n:3')!.vectors.get('')).toEqual([0, 1]);
  });

  it('searches by euclid and dot', () => {
    const pts = [point(1, [0, 0]), point(2, [3, 4]), point(3, [1, 1])];
    const euclid = storeWith({ size: 2, distance: 'Euclid' }, pts)
      .collection('c')
      .search({ vector: [3, 3], limit: 3 });
    expect(euclid.map((h) => h.point.id)).toEqual([{ num: '2' }, { num: '3' }, { num: '1' }]);
    expect(euclid[0]!.score).toBeCloseTo(1, 5);
    const dot = storeWith({ size: 2, distance: 'Dot' }, pts)
      .collection('c')
      .search({ vector: [1, 0], limit: 1 });
    expect(dot.map((h) => [h.point.id, h.score])).toEqual([[{ num: '2' }, 3]]);
  });

  it('rejects vectors of the wrong size or name', () => {
    const store = storeWith({ size: 2, distance: 'Dot' }, []);
    const c = store.collection('c');
    expect(codeOf(() => c.upsert([point(1, [1, 2, 3])]))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => c.search({ vector: [1], limit: 1 }))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => c.search({ vector: [1, 2], using: 'other', limit: 1 }))).toBe(status.INVALID_ARGUMENT);
  });

  it('deletes by filter and updates payload', () => {
    const store = storeWith({ size: 1, distance: 'Dot' }, [point(1, [1], { a: 'x' }), point(2, [1], { a: 'y' })]);
    const c = store.collection('c');
    c.updatePayload({ ids: [{ num: '2' }] }, (old) => new Map([...old, ['b', value(true)]]));
    expect(c.count({ must: [boolean('b', true)] })).toBe(1);
    c.delete({ filter: { must: [keyword('a', 'x')] } });
    expect([...c.points.keys()]).toEqual(['n:2']);
  });

  it('manages collections and aliases with Qdrant-like errors', () => {
    const store = new StandinStore();
    store.createCollection('b', new Map());
    store.createCollection('a', new Map());
    expect(store.names()).toEqual(['a', 'b']);
    let err: unknown;
    try {
      store.createCollection('a', new Map());
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: status.ALREADY_EXISTS, message: 'Wrong input: Collection `a` already exists!' });
    expect(() => store.collection('zz')).toThrow("Not found: Collection `zz` doesn't exist!");

    store.changeAliases([{ create: { collection: 'a', alias: 'x' } }, { create: { collection: 'b', alias: 'y' } }]);
    store.changeAliases([{ rename: { from: 'x', to: 'z' } }]);
    expect(store.aliasList()).toEqual([
      { alias_name: 'y', collection_name: 'b' },
      { alias_name: 'z', collection_name: 'a' },
    ]);
    expect(store.collection('z').name).toBe('a');
    // atomic: a failing action leaves every alias as it was
    expect(codeOf(() => store.changeAliases([{ delete: 'y' }, { delete: 'missing' }]))).toBe(status.NOT_FOUND);
    expect(store.aliasList('b')).toEqual([{ alias_name: 'y', collection_name: 'b' }]);
    expect(store.deleteCollection('a')).toBe(true);
    expect(store.deleteCollection('a')).toBe(false);
    expect(store.aliasList()).toEqual([{ alias_name: 'y', collection_name: 'b' }]);
  });
});
