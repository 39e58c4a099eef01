// Stand-in upstream (NOT Qdrant): handlers for `qdrant.Points` methods, on decoded messages.

import { type Handler, handler } from './standin-handler-types.js';
import {
  entriesToMap,
  type FilterMsg,
  invalid,
  type MapEntry,
  notFound,
  type PointIdMsg,
  type PointStructMsg,
  type PointsSelectorMsg,
  unsupported,
  type ValueMsg,
  type VectorMsg,
  type WithPayloadMsg,
  type WithVectorsMsg,
} from './standin-messages.js';
import { type OutputOptions, pointIdMsg, retrievedPoint, scoredPoint } from './standin-output.js';
import { type PointId, parsePointId } from './standin-point-id.js';
import { numberOr, parseNewPoint, parseSelector } from './standin-requests.js';
import type { ScoredHit, StandinCollection, StandinStore } from './standin-store.js';
import { DEFAULT_VECTOR } from './standin-vectors.js';

interface CollectionRequest {
  collection_name?: string;
  wait?: boolean;
}

interface Output {
  with_payload?: WithPayloadMsg;
  with_vectors?: WithVectorsMsg;
}

const output = (req: Output, payloadByDefault: boolean): OutputOptions => ({
  withPayload: req.with_payload,
  withVectors: req.with_vectors,
  payloadByDefault,
});

const collectionOf = (store: StandinStore, req: CollectionRequest): StandinCollection => store.collection(req.collection_name ?? '');

/** `PointsOperationResponse`: in memory every write is complete at once; `wait: false` says Acknowledged as Qdrant does. */
export const operationResult = (op: number, wait: boolean | undefined): object => ({
  result: { operation_id: String(op), status: wait ? 'Completed' : 'Acknowledged' },
});

const upsert = handler<CollectionRequest & { points?: PointStructMsg[]; update_filter?: FilterMsg }>((req, store) => {
  const c = collectionOf(store, req);
  return operationResult(c.upsert((req.points ?? []).map(parseNewPoint), req.update_filter), req.wait);
});

const deletePoints = handler<CollectionRequest & { points?: PointsSelectorMsg }>((req, store) => {
  const c = collectionOf(store, req);
  return operationResult(c.delete(parseSelector(req.points)), req.wait);
});

type PayloadRequest = CollectionRequest & { payload?: MapEntry<ValueMsg>[]; points_selector?: PointsSelectorMsg; key?: string };

function payloadWrite(merge: boolean): Handler {
  return handler<PayloadRequest>((req, store) => {
    if (req.key !== undefined) throw unsupported('set_payload with `key`');
    const c = collectionOf(store, req);
    const values = entriesToMap(req.payload);
    const change = (old: Map<string, ValueMsg>) => new Map([...(merge ? old : []), ...values]);
    return operationResult(c.updatePayload(parseSelector(req.points_selector), change), req.wait);
  });
}

const deletePayload = handler<CollectionRequest & { keys?: string[]; points_selector?: PointsSelectorMsg }>((req, store) => {
  const c = collectionOf(store, req);
  const keys = req.keys ?? [];
  const change = (old: Map<string, ValueMsg>) => new Map([...old].filter(([k]) => !keys.includes(k)));
  return operationResult(c.updatePayload(parseSelector(req.points_selector), change), req.wait);
});

const clearPayload = handler<CollectionRequest & { points?: PointsSelectorMsg }>((req, store) => {
  const c = collectionOf(store, req);
  return operationResult(
    c.updatePayload(parseSelector(req.points), () => new Map()),
    req.wait,
  );
});

/** Write methods the stand-in accepts without doing anything (field indexes, vector updates, ...). */
const acknowledge = handler<CollectionRequest>((req, store) => operationResult(collectionOf(store, req).nextOperation(), req.wait));

const getPoints = handler<CollectionRequest & Output & { ids?: PointIdMsg[] }>((req, store) => {
  const points = collectionOf(store, req).retrieve((req.ids ?? []).map(parsePointId));
  return { result: points.map((p) => retrievedPoint(p, output(req, true))) };
});

type ScrollRequest = CollectionRequest & Output & { filter?: FilterMsg; offset?: PointIdMsg; limit?: number; order_by?: unknown };

const scroll = handler<ScrollRequest>((req, store) => {
  if (req.order_by) throw unsupported('scroll order_by');
  const c = collectionOf(store, req);
  const offset = req.offset ? parsePointId(req.offset) : undefined;
  const page = c.scroll({ filter: req.filter, limit: numberOr(req.limit, 10), ...(offset ? { offset } : {}) });
  return {
    result: page.points.map((p) => retrievedPoint(p, output(req, true))),
    ...(page.next ? { next_page_offset: pointIdMsg(page.next) } : {}),
  };
});

const count = handler<CollectionRequest & { filter?: FilterMsg }>((req, store) => ({
  result: { count: String(collectionOf(store, req).count(req.filter)) },
}));

interface SearchRequest extends CollectionRequest, Output {
  vector?: number[];
  vector_name?: string;
  filter?: FilterMsg;
  limit?: string;
  offset?: string;
  score_threshold?: number;
  sparse_indices?: unknown;
}

function runSearch(c: StandinCollection, req: SearchRequest): object[] {
  if (req.sparse_indices) throw unsupported('sparse vectors');
  const limit = numberOr(req.limit, 0);
  if (limit < 1) throw invalid('Validation error in body: [limit: value 0 invalid, must be 1 or larger]');
  const hits = c.search({
    vector: req.vector ?? [],
    using: req.vector_name ?? DEFAULT_VECTOR,
    filter: req.filter,
    limit,
    offset: numberOr(req.offset, 0),
    ...(req.score_threshold !== undefined ? { scoreThreshold: req.score_threshold } : {}),
  });
  return hits.map((h) => scoredPoint(h, output(req, false)));
}

const search = handler<SearchRequest>((req, store) => ({ result: runSearch(collectionOf(store, req), req) }));

const searchBatch = handler<CollectionRequest & { search_points?: SearchRequest[] }>((req, store) => {
  const c = collectionOf(store, req);
  return { result: (req.search_points ?? []).map((s) => ({ result: runSearch(c, s) })) };
});

interface QueryRequest extends CollectionRequest, Output {
  prefetch?: unknown[];
  query?: { nearest?: VectorInputMsg; variant?: string };
  using?: string;
  filter?: FilterMsg;
  score_threshold?: number;
  limit?: string;
  offset?: string;
}

interface VectorInputMsg {
  id?: PointIdMsg;
  dense?: VectorMsg;
  variant?: string;
}

/** Query: `nearest` with a dense vector or a point id (that point is left out), or no query (scroll order, score 0). */
function runQuery(c: StandinCollection, req: QueryRequest): object[] {
  if (req.prefetch?.length) throw unsupported('query prefetch');
  const limit = numberOr(req.limit, 10);
  const offset = numberOr(req.offset, 0);
  let hits: ScoredHit[];
  if (!req.query) {
    hits = c
      .scroll({ filter: req.filter, limit: offset + limit })
      .points.slice(offset)
      .map((point) => ({ point, score: 0 }));
  } else if (req.query.nearest) {
    const using = req.using ?? DEFAULT_VECTOR;
    const { vector, exclude } = nearestVector(c, req.query.nearest, using);
    const filter = exclude ? excludeId(req.filter, exclude) : req.filter;
    const threshold = req.score_threshold !== undefined ? { scoreThreshold: req.score_threshold } : {};
    hits = c.search({ vector, using, filter, limit, offset, ...threshold });
  } else {
    throw unsupported(`query variant \`${req.query.variant ?? 'unknown'}\``);
  }
  return hits.map((h) => scoredPoint(h, output(req, false)));
}

function nearestVector(c: StandinCollection, input: VectorInputMsg, using: string): { vector: number[]; exclude?: PointId } {
  if (input.dense) return { vector: input.dense.data ?? [] };
  if (input.id) {
    const id = parsePointId(input.id);
    const vector = c.retrieve([id])[0]?.vectors.get(using);
    if (!vector) throw notFound(`Not found: No point with id ${'num' in id ? id.num : id.uuid} found`);
    return { vector, exclude: id };
  }
  throw unsupported(`nearest input \`${input.variant ?? 'unknown'}\``);
}

const excludeId = (filter: FilterMsg | undefined, id: PointId): FilterMsg => ({
  must: filter ? [{ filter }] : [],
  must_not: [{ has_id: { has_id: [pointIdMsg(id)] } }],
});

const query = handler<QueryRequest>((req, store) => ({ result: runQuery(collectionOf(store, req), req) }));

const queryBatch = handler<CollectionRequest & { query_points?: QueryRequest[] }>((req, store) => {
  const c = collectionOf(store, req);
  return { result: (req.query_points ?? []).map((q) => ({ result: runQuery(c, q) })) };
});

export const POINTS_HANDLERS: Readonly<Record<string, Handler>> = {
  '/qdrant.Points/Upsert': upsert,
  '/qdrant.Points/Delete': deletePoints,
  '/qdrant.Points/Get': getPoints,
  '/qdrant.Points/SetPayload': payloadWrite(true),
  '/qdrant.Points/OverwritePayload': payloadWrite(false),
  '/qdrant.Points/DeletePayload': deletePayload,
  '/qdrant.Points/ClearPayload': clearPayload,
  '/qdrant.Points/UpdateVectors': acknowledge,
  '/qdrant.Points/DeleteVectors': acknowledge,
  '/qdrant.Points/CreateFieldIndex': acknowledge,
  '/qdrant.Points/DeleteFieldIndex': acknowledge,
  '/qdrant.Points/CreateVectorName': acknowledge,
  '/qdrant.Points/DeleteVectorName': acknowledge,
  '/qdrant.Points/Scroll': scroll,
  '/qdrant.Points/Count': count,
  '/qdrant.Points/Search': search,
  '/qdrant.Points/SearchBatch': searchBatch,
  '/qdrant.Points/Query': query,
  '/qdrant.Points/QueryBatch': queryBatch,
};
