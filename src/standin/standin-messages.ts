// Stand-in upstream (NOT Qdrant): the shapes of the Qdrant gRPC messages the stand-in reads and
// writes, as @grpc/proto-loader decodes them with this project's options (keepCase, longs and enums
// as strings, oneofs: true, defaults: false). Only the fields the stand-in uses are listed.
//
// Map fields (`map<string, Value> payload`, `map<string, VectorParams>`, ...) arrive and must be sent
// as arrays of `{ key, value }` entries: the descriptor set is loaded through protobufjs's
// `fromDescriptor`, which keeps map entries as repeated nested messages. The wire format is the same.
import { status } from '@grpc/grpc-js';

/** An error the stand-in answers with: a gRPC status code and a Qdrant-like message. */
export class StandinError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'StandinError';
  }
}

export const invalid = (message: string): StandinError => new StandinError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string): StandinError => new StandinError(status.NOT_FOUND, message);
export const unsupported = (what: string): StandinError => new StandinError(status.INVALID_ARGUMENT, `stand-in upstream does not support ${what}`);

export interface MapEntry<T> {
  key: string;
  value?: T;
}

export type Long = string | number;

export interface PointIdMsg {
  num?: Long;
  uuid?: string;
}

export interface ValueMsg {
  null_value?: string;
  double_value?: number;
  integer_value?: Long;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: { fields?: MapEntry<ValueMsg>[] };
  list_value?: { values?: ValueMsg[] };
}

export interface DenseVectorMsg {
  data?: number[];
}

/** `qdrant.Vector` (input). `data` is the deprecated flat form; `dense` the current one. */
export interface VectorMsg {
  data?: number[];
  indices?: unknown;
  vectors_count?: number;
  dense?: DenseVectorMsg;
  sparse?: unknown;
  multi_dense?: unknown;
  document?: unknown;
  image?: unknown;
  object?: unknown;
}

export interface VectorsMsg {
  vector?: VectorMsg;
  vectors?: { vectors?: MapEntry<VectorMsg>[] };
}

/** `qdrant.VectorsOutput` (Qdrant 1.19 replies use `VectorOutput`, not `Vector`). */
export interface VectorsOutputMsg {
  vector?: VectorOutputMsg;
  vectors?: { vectors: MapEntry<VectorOutputMsg>[] };
}

export interface VectorOutputMsg {
  dense: DenseVectorMsg;
}

export interface PointStructMsg {
  id?: PointIdMsg;
  payload?: MapEntry<ValueMsg>[];
  vectors?: VectorsMsg;
}

export interface MatchMsg {
  keyword?: string;
  integer?: Long;
  boolean?: boolean;
  text?: string;
  keywords?: { strings?: string[] };
  integers?: { integers?: Long[] };
  except_integers?: { integers?: Long[] };
  except_keywords?: { strings?: string[] };
  phrase?: string;
  text_any?: string;
  prefix?: string;
}

export interface RangeMsg {
  lt?: number;
  gt?: number;
  gte?: number;
  lte?: number;
}

export interface FieldConditionMsg {
  key?: string;
  match?: MatchMsg;
  range?: RangeMsg;
  is_empty?: boolean;
  is_null?: boolean;
  geo_bounding_box?: unknown;
  geo_radius?: unknown;
  geo_polygon?: unknown;
  values_count?: unknown;
  datetime_range?: unknown;
}

export interface ConditionMsg {
  field?: FieldConditionMsg;
  is_empty?: { key?: string };
  has_id?: { has_id?: PointIdMsg[] };
  filter?: FilterMsg;
  is_null?: { key?: string };
  nested?: { key?: string; filter?: FilterMsg };
  has_vector?: { has_vector?: string };
  slice?: unknown;
}

export interface FilterMsg {
  should?: ConditionMsg[];
  must?: ConditionMsg[];
  must_not?: ConditionMsg[];
  min_should?: { conditions?: ConditionMsg[]; min_count?: Long };
}

export interface WithPayloadMsg {
  enable?: boolean;
  include?: { fields?: string[] };
  exclude?: { fields?: string[] };
}

export interface WithVectorsMsg {
  enable?: boolean;
  include?: { names?: string[] };
}

export interface PointsSelectorMsg {
  points?: { ids?: PointIdMsg[] };
  filter?: FilterMsg;
}

export interface VectorParamsMsg {
  size?: Long;
  distance?: string;
}

export interface VectorsConfigMsg {
  params?: VectorParamsMsg;
  params_map?: { map?: MapEntry<VectorParamsMsg>[] };
}

/** Reads a `map<string, T>` field (an array of entries) into a Map; entries without a value are skipped. */
export function entriesToMap<T>(entries: readonly MapEntry<T>[] | undefined): Map<string, T> {
  const out = new Map<string, T>();
  for (const e of entries ?? []) if (e.value !== undefined) out.set(e.key, e.value);
  return out;
}

export function mapToEntries<T>(map: ReadonlyMap<string, T>): MapEntry<T>[] {
  return [...map].map(([key, value]) => ({ key, value }));
}
