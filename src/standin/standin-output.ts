// Stand-in upstream (NOT Qdrant): points as Qdrant's reply messages (`RetrievedPoint`, `ScoredPoint`).
// Vectors go out as `VectorsOutput`: `vector` (the unnamed default vector) or `vectors` (named), each a
// `VectorOutput` whose dense data is in the `dense` oneof member, not the deprecated flat `data`.
import {
  type MapEntry,
  mapToEntries,
  type PointIdMsg,
  type ValueMsg,
  type VectorOutputMsg,
  type VectorsOutputMsg,
  type WithPayloadMsg,
  type WithVectorsMsg,
} from './standin-messages.js';
import type { PointId } from './standin-point-id.js';
import type { ScoredHit, StoredPoint } from './standin-store.js';
import { DEFAULT_VECTOR } from './standin-vectors.js';

export interface OutputOptions {
  readonly withPayload: WithPayloadMsg | undefined;
  readonly withVectors: WithVectorsMsg | undefined;
  /** Whether payload is returned when `with_payload` is absent (Get/Scroll: yes; Search/Query: no). */
  readonly payloadByDefault: boolean;
}

export interface RetrievedPointMsg {
  id: PointIdMsg;
  payload: MapEntry<ValueMsg>[];
  vectors?: VectorsOutputMsg;
}

export interface ScoredPointMsg extends RetrievedPointMsg {
  score: number;
  version: string;
}

export const pointIdMsg = (id: PointId): PointIdMsg => ('num' in id ? { num: id.num } : { uuid: id.uuid });

export function retrievedPoint(p: StoredPoint, opts: OutputOptions): RetrievedPointMsg {
  const vectors = vectorsOutput(p, opts.withVectors);
  return {
    id: pointIdMsg(p.id),
    payload: mapToEntries(selectPayload(p, opts)),
    ...(vectors ? { vectors } : {}),
  };
}

export function scoredPoint(hit: ScoredHit, opts: OutputOptions): ScoredPointMsg {
  return { ...retrievedPoint(hit.point, opts), score: hit.score, version: String(hit.point.version) };
}

function selectPayload(p: StoredPoint, opts: OutputOptions): Map<string, ValueMsg> {
  const sel = opts.withPayload;
  if (sel?.include) return pick(p.payload, (k) => (sel.include!.fields ?? []).includes(k));
  if (sel?.exclude) return pick(p.payload, (k) => !(sel.exclude!.fields ?? []).includes(k));
  const enabled = sel?.enable ?? opts.payloadByDefault;
  return enabled ? p.payload : new Map();
}

function pick(payload: ReadonlyMap<string, ValueMsg>, keep: (key: string) => boolean): Map<string, ValueMsg> {
  return new Map([...payload].filter(([k]) => keep(k)));
}

function vectorsOutput(p: StoredPoint, sel: WithVectorsMsg | undefined): VectorsOutputMsg | undefined {
  if (sel?.include) {
    const names = sel.include.names ?? [];
    return namedOutput([...p.vectors].filter(([name]) => names.includes(name)));
  }
  if (!sel?.enable) return undefined;
  const unnamed = p.vectors.get(DEFAULT_VECTOR);
  if (unnamed && p.vectors.size === 1) return { vector: denseOutput(unnamed) };
  return namedOutput([...p.vectors]);
}

function namedOutput(vectors: [string, number[]][]): VectorsOutputMsg {
  return { vectors: { vectors: vectors.map(([key, data]) => ({ key, value: denseOutput(data) })) } };
}

const denseOutput = (data: number[]): VectorOutputMsg => ({ dense: { data } });
