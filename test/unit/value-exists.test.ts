import { describe, expect, it } from 'vitest';
import type { ValueExistsClaim } from '../../src/auth/principal.js';
import { type ScrollOutcome, scrollRequest, ValueExistsChecker } from '../../src/auth/value-exists.js';

const claim: ValueExistsClaim = {
  collection: 'users',
  matches: [
    { key: 'user', value: 'alice' },
    { key: 'level', value: 3n },
    { key: 'on', value: true },
  ],
};

function checker(outcomes: ScrollOutcome[], ttlMs = 10_000) {
  let now = 1_000_000; // lru-cache treats a start time of 0 as "no TTL"
  const requests: object[] = [];
  const c = new ValueExistsChecker(
    async (req) => {
      requests.push(req);
      const next = outcomes.shift();
      if (!next) throw new Error('no more outcomes');
      return next;
    },
    { ttlMs, max: 10, now: () => now },
  );
  return { c, requests, advance: (ms: number) => (now += ms) };
}
const found: ScrollOutcome = { ok: true, notFound: false, pointCount: 1 };
const none: ScrollOutcome = { ok: true, notFound: false, pointCount: 0 };

describe('value_exists', () => {
  it('runs the same query as Qdrant: scroll, limit 1, AND of exact matches, nothing returned', () => {
    expect(scrollRequest(claim)).toEqual({
      collection_name: 'users',
      limit: 1,
      filter: {
        must: [
          { field: { key: 'user', match: { keyword: 'alice' } } },
          { field: { key: 'level', match: { integer: '3' } } },
          { field: { key: 'on', match: { boolean: true } } },
        ],
      },
      with_payload: { enable: false },
      with_vectors: { enable: false },
    });
  });

  it('caches a grant until the TTL ends', async () => {
    const { c, requests, advance } = checker([found, found]);
    await c.check(claim);
    await c.check(claim);
    expect(requests).toHaveLength(1);
    expect(c.stats).toEqual({ hits: 1, misses: 1 });
    advance(10_001);
    await c.check(claim);
    expect(requests).toHaveLength(2);
  });

  it('never caches a miss or a failure', async () => {
    const { c, requests } = checker([none, { ok: false, notFound: false, pointCount: 0, error: 'boom' }, found]);
    await expect(c.check(claim)).rejects.toMatchObject({ status: 16, message: 'Invalid JWT, stateful validation failed' });
    await expect(c.check(claim)).rejects.toMatchObject({ status: 14, code: 'value_exists_unavailable' });
    await c.check(claim);
    expect(requests).toHaveLength(3);
  });

  it('a missing collection is PERMISSION_DENIED, as in Qdrant', async () => {
    const { c } = checker([{ ok: false, notFound: true, pointCount: 0 }]);
    await expect(c.check(claim)).rejects.toMatchObject({ status: 7, message: 'Invalid JWT, stateful validation failed' });
  });

  it('a thrown look-up denies', async () => {
    const { c } = checker([]);
    await expect(c.check(claim)).rejects.toMatchObject({ code: 'value_exists_unavailable' });
  });

  it('merges concurrent look-ups of one claim', async () => {
    const { c, requests } = checker([found]);
    await Promise.all([c.check(claim), c.check(claim), c.check(claim)]);
    expect(requests).toHaveLength(1);
  });

  it('the cache key covers collection and every condition', async () => {
    const { c, requests } = checker([found, found, found]);
    await c.check(claim);
    await c.check({ ...claim, collection: 'other' });
    await c.check({ ...claim, matches: [{ key: 'user', value: 'bob' }] });
    expect(requests).toHaveLength(3);
  });

  it('TTL 0 disables caching', async () => {
    const { c, requests } = checker([found, found], 0);
    await c.check(claim);
    await c.check(claim);
    expect(requests).toHaveLength(2);
  });
});
