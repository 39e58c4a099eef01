// Stand-in upstream (NOT Qdrant): Facet, SearchGroups and Recommend (by vectors), enough to show
// what a filter lets through: facet counts over the filtered points, groups of the filtered
// search's hits, recommendations from the average of the examples. Examples given by point id,
// lookups and sparse vectors are refused with UNIMPLEMENTED rather than answered wrongly.
import { type Handler, handler } from './standin-handler-types.js';
import { type FilterMsg, unsupported, type ValueMsg, type VectorMsg } from './standin-messages.js';
import { type OutputOptions, scoredPoint } from './standin-output.js';
import { valuesAt } from './standin-payload.js';
import { numberOr } from './standin-requests.js';
import type { ScoredHit, StandinCollection, StandinStore } from './standin-store.js';
import { DEFAULT_VECTOR } from './standin-vectors.js';

interface Base {
  collection_name?: string;
  filter?: FilterMsg;
  with_payload?: OutputOptions['withPayload'];
  with_vectors?: OutputOptions['withVectors'];
}

const collectionOf = (store: StandinStore, req: Base): StandinCollection => store.collection(req.collection_name ?? '');
const output = (req: Base): OutputOptions => ({ withPayload: req.with_payload, withVectors: req.with_vectors, payloadByDefault: false });

/** Facet: how many filtered points hold each value of `key` (strings, integers, booleans), most first. */
const facet = handler<Base & { key?: string; limit?: string }>((req, store) => {
  const c = collectionOf(store, req);
  const counts = new Map<string, { value: object; count: number }>();
  for (const point of c.scroll({ filter: req.filter, limit: Number.MAX_SAFE_INTEGER }).points) {
    const seen = new Set<string>();
    for (const v of valuesAt(point.payload, req.key ?? '')) {
      const value = facetValue(v);
      if (!value) continue;
      const id = JSON.stringify(value);
      if (seen.has(id)) continue;
      seen.add(id);
      const entry = counts.get(id) ?? { value, count: 0 };
      entry.count++;
      counts.set(id, entry);
    }
  }
  const hits = [...counts.values()].sort((a, b) => b.count - a.count).slice(0, numberOr(req.limit, 10));
  return { hits: hits.map((h) => ({ value: h.value, count: String(h.count) })), time: 0 };
});

function facetValue(v: ValueMsg): object | null {
  if (v.string_value !== undefined) return { string_value: v.string_value };
  if (v.integer_value !== undefined) return { integer_value: String(v.integer_value) };
  if (v.bool_value !== undefined) return { bool_value: v.bool_value };
  return null;
}

/** SearchGroups: the filtered search's hits grouped by a payload value, `limit` groups of `group_size`. */
const searchGroups = handler<Base & { vector?: number[]; vector_name?: string; group_by?: string; limit?: number; group_size?: number; with_lookup?: unknown }>(
  (req, store) => {
    if (req.with_lookup) throw unsupported('with_lookup');
    const c = collectionOf(store, req);
    const hits = c.search({ vector: req.vector ?? [], using: req.vector_name ?? DEFAULT_VECTOR, filter: req.filter, limit: Number.MAX_SAFE_INTEGER });
    const groups = new Map<string, { id: object; hits: ScoredHit[] }>();
    for (const hit of hits) {
      for (const v of valuesAt(hit.point.payload, req.group_by ?? '')) {
        const id =
          v.string_value !== undefined ? { string_value: v.string_value } : v.integer_value !== undefined ? { integer_value: String(v.integer_value) } : null;
        if (!id) continue;
        const key = JSON.stringify(id);
        if (!groups.has(key) && groups.size === (req.limit ?? 0)) continue;
        const group = groups.get(key) ?? { id, hits: [] };
        if (group.hits.length < (req.group_size ?? 1)) group.hits.push(hit);
        groups.set(key, group);
      }
    }
    return { result: { groups: [...groups.values()].map((g) => ({ id: g.id, hits: g.hits.map((h) => scoredPoint(h, output(req))) })) }, time: 0 };
  },
);

/** Recommend by example vectors (average_vector: mean of the positives, pushed away from the negatives' mean). */
const recommend = handler<
  Base & { positive?: unknown[]; negative?: unknown[]; positive_vectors?: VectorMsg[]; negative_vectors?: VectorMsg[]; using?: string; limit?: string }
>((req, store) => {
  if (req.positive?.length || req.negative?.length) throw unsupported('recommend examples given by point id');
  const data = (v: VectorMsg) => v.dense?.data ?? v.data ?? [];
  const positives = (req.positive_vectors ?? []).map(data);
  if (positives.length === 0) throw unsupported('recommend without positive vectors');
  const mean = (vs: number[][]) => vs[0]!.map((_, i) => vs.reduce((sum, v) => sum + (v[i] ?? 0), 0) / vs.length);
  const pos = mean(positives);
  const negatives = (req.negative_vectors ?? []).map(data);
  const vector = negatives.length ? pos.map((x, i) => x + x - mean(negatives)[i]!) : pos;
  const c = collectionOf(store, req);
  const hits = c.search({ vector, using: req.using ?? DEFAULT_VECTOR, filter: req.filter, limit: numberOr(req.limit, 10) });
  return { result: hits.map((h) => scoredPoint(h, output(req))), time: 0 };
});

export const GROUPING_HANDLERS: Readonly<Record<string, Handler>> = {
  '/qdrant.Points/Facet': facet,
  '/qdrant.Points/SearchGroups': searchGroups,
  '/qdrant.Points/Recommend': recommend,
};
