// Stand-in upstream (NOT Qdrant): turns decoded Qdrant request pieces into store inputs.
import {
  entriesToMap,
  invalid,
  type PointStructMsg,
  type PointsSelectorMsg,
  unsupported,
  type VectorMsg,
  type VectorParamsMsg,
  type VectorsConfigMsg,
  type VectorsMsg,
} from './standin-messages.js';
import { parsePointId } from './standin-point-id.js';
import type { NewPoint, Selector } from './standin-store.js';
import { DEFAULT_VECTOR, parseDistance, type VectorSpec } from './standin-vectors.js';

export function parseNewPoint(msg: PointStructMsg): NewPoint {
  return { id: parsePointId(msg.id), vectors: parseVectors(msg.vectors), payload: entriesToMap(msg.payload) };
}

/** `qdrant.Vectors`: one unnamed vector, or named ones. Only dense vectors are supported. */
export function parseVectors(msg: VectorsMsg | undefined): Map<string, number[]> {
  if (msg?.vector) return new Map([[DEFAULT_VECTOR, denseData(msg.vector)]]);
  const named = entriesToMap(msg?.vectors?.vectors);
  return new Map([...named].map(([name, v]) => [name, denseData(v)]));
}

/** Dense data of a `qdrant.Vector`: the `dense` member, or the deprecated flat `data`. */
export function denseData(v: VectorMsg): number[] {
  if (v.dense) return v.dense.data ?? [];
  if (v.sparse || v.indices) throw unsupported('sparse vectors');
  if (v.multi_dense || v.vectors_count !== undefined) throw unsupported('multi-vectors');
  if (v.document || v.image || v.object) throw unsupported('inference objects');
  return v.data ?? [];
}

export function parseSelector(msg: PointsSelectorMsg | undefined): Selector {
  if (msg?.points) return { ids: (msg.points.ids ?? []).map(parsePointId) };
  if (msg?.filter) return { filter: msg.filter };
  throw invalid('Wrong input: points selector is empty');
}

/** `qdrant.VectorsConfig` → vector specs by name ('' for the single unnamed vector). */
export function parseVectorsConfig(msg: VectorsConfigMsg | undefined): Map<string, VectorSpec> {
  if (msg?.params) return new Map([[DEFAULT_VECTOR, parseParams(msg.params)]]);
  const named = entriesToMap(msg?.params_map?.map);
  return new Map([...named].map(([name, p]) => [name, parseParams(p)]));
}

function parseParams(p: VectorParamsMsg): VectorSpec {
  const size = Number(p.size ?? 0);
  if (!Number.isSafeInteger(size) || size < 1) throw invalid('Wrong input: vector size must be at least 1');
  return { size, distance: parseDistance(p.distance) };
}

/** A uint64/uint32 request field as a number, or `fallback` when absent. */
export function numberOr(value: string | number | undefined, fallback: number): number {
  return value === undefined ? fallback : Number(value);
}
