// Stand-in upstream (NOT Qdrant): in-memory collections, aliases and points, with brute-force
// filtering, scrolling and nearest-neighbour search. Good enough for the proxy's tests, demo and
// benchmarks; it does no indexing, persistence, sharding or consistency handling.
import { status } from '@grpc/grpc-js';
import { type FilterSubject, matchesFilter } from './standin-filter.js';
import { type FilterMsg, invalid, notFound, StandinError, type VectorsConfigMsg } from './standin-messages.js';
import type { Payload } from './standin-payload.js';
import { comparePointIds, type PointId, pointKey } from './standin-point-id.js';
import { DEFAULT_VECTOR, lowerIsBetter, prepareVector, score, type VectorSpec } from './standin-vectors.js';

export interface NewPoint {
  readonly id: PointId;
  readonly vectors: ReadonlyMap<string, readonly number[]>;
  readonly payload: Payload;
}

export interface StoredPoint {
  readonly id: PointId;
  readonly key: string;
  readonly vectors: Map<string, number[]>;
  payload: Payload;
  /** Operation id of the last write to this point (Qdrant's point `version`). */
  version: number;
}

export interface ScoredHit {
  readonly point: StoredPoint;
  readonly score: number;
}

/** Points picked by id list or by filter (Qdrant's `PointsSelector`). */
export type Selector = { readonly ids: readonly PointId[] } | { readonly filter: FilterMsg | undefined };

export interface ScrollOptions {
  readonly filter?: FilterMsg;
  readonly offset?: PointId;
  readonly limit: number;
}

export interface SearchOptions {
  readonly vector: readonly number[];
  readonly using?: string;
  readonly filter?: FilterMsg;
  readonly limit: number;
  readonly offset?: number;
  readonly scoreThreshold?: number;
}

export type AliasAction =
  | { readonly create: { readonly collection: string; readonly alias: string } }
  | { readonly rename: { readonly from: string; readonly to: string } }
  | { readonly delete: string };

export interface AliasInfo {
  readonly alias_name: string;
  readonly collection_name: string;
}

const collectionMissing = (name: string): StandinError => notFound(`Not found: Collection \`${name}\` doesn't exist!`);
const aliasMissing = (name: string): StandinError => notFound(`Not found: Alias \`${name}\` doesn't exist!`);
const alreadyExists = (what: string, name: string): StandinError => new StandinError(status.ALREADY_EXISTS, `Wrong input: ${what} \`${name}\` already exists!`);

export class StandinCollection {
  readonly points = new Map<string, StoredPoint>();
  private operations = 0;
  private sorted: StoredPoint[] | undefined;

  constructor(
    readonly name: string,
    readonly vectors: ReadonlyMap<string, VectorSpec>,
    /** The `vectors_config` the collection was created with, echoed back by Collections/Get. */
    readonly vectorsConfig: VectorsConfigMsg | undefined,
  ) {}

  /** Starts a write; returns its operation id. */
  nextOperation(): number {
    return this.operations++;
  }

  /** `updateFilter` (Qdrant's update_filter): an existing point is replaced only when it matches; new points are inserted. */
  upsert(points: readonly NewPoint[], updateFilter?: FilterMsg): number {
    const prepared = points.map((p) => this.prepare(p));
    const op = this.nextOperation();
    for (const p of prepared) {
      const existing = this.points.get(p.key);
      if (existing && updateFilter && !matchesFilter(subjectOf(existing), updateFilter)) continue;
      this.points.set(p.key, { ...p, version: op });
    }
    this.sorted = undefined;
    return op;
  }

  private prepare(p: NewPoint): Omit<StoredPoint, 'version'> {
    const vectors = new Map<string, number[]>();
    for (const [name, data] of p.vectors) vectors.set(name, prepareVector(this.vectors, name, data));
    return { id: p.id, key: pointKey(p.id), vectors, payload: new Map(p.payload) };
  }

  /** Points in Qdrant's scroll order (numeric ids, then UUIDs). */
  ordered(): readonly StoredPoint[] {
    this.sorted ??= [...this.points.values()].sort((a, b) => comparePointIds(a.id, b.id));
    return this.sorted;
  }

  select(selector: Selector): StoredPoint[] {
    if ('ids' in selector) return this.retrieve(selector.ids);
    return this.ordered().filter((p) => matchesFilter(subjectOf(p), selector.filter));
  }

  /** The points with these ids that exist, in request order, without duplicates. */
  retrieve(ids: readonly PointId[]): StoredPoint[] {
    const keys = [...new Set(ids.map(pointKey))];
    return keys.map((k) => this.points.get(k)).filter((p): p is StoredPoint => p !== undefined);
  }

  delete(selector: Selector): number {
    const op = this.nextOperation();
    for (const p of this.select(selector)) this.points.delete(p.key);
    this.sorted = undefined;
    return op;
  }

  /** Applies `change` to the payload of every selected point. */
  updatePayload(selector: Selector, change: (payload: Payload) => Payload): number {
    const op = this.nextOperation();
    for (const p of this.select(selector)) {
      p.payload = change(p.payload);
      p.version = op;
    }
    return op;
  }

  scroll(opts: ScrollOptions): { points: StoredPoint[]; next?: PointId } {
    const all = this.ordered();
    const from = opts.offset ? all.findIndex((p) => comparePointIds(p.id, opts.offset!) >= 0) : 0;
    const points: StoredPoint[] = [];
    if (from < 0) return { points };
    for (let i = from; i < all.length; i++) {
      const p = all[i]!;
      if (!matchesFilter(subjectOf(p), opts.filter)) continue;
      if (points.length === opts.limit) return { points, next: p.id };
      points.push(p);
    }
    return { points };
  }

  count(filter: FilterMsg | undefined): number {
    if (!filter) return this.points.size;
    let n = 0;
    for (const p of this.points.values()) if (matchesFilter(subjectOf(p), filter)) n++;
    return n;
  }

  search(opts: SearchOptions): ScoredHit[] {
    const using = opts.using ?? DEFAULT_VECTOR;
    const spec = this.vectors.get(using);
    const query = prepareVector(this.vectors, using, opts.vector);
    const lower = lowerIsBetter(spec!.distance);
    const hits: ScoredHit[] = [];
    for (const point of this.ordered()) {
      const stored = point.vectors.get(using);
      if (!stored || !matchesFilter(subjectOf(point), opts.filter)) continue;
      const s = Math.fround(score(spec!.distance, query, stored));
      if (opts.scoreThreshold !== undefined && (lower ? s > opts.scoreThreshold : s < opts.scoreThreshold)) continue;
      hits.push({ point, score: s });
    }
    hits.sort((a, b) => (lower ? a.score - b.score : b.score - a.score));
    const offset = opts.offset ?? 0;
    return hits.slice(offset, offset + opts.limit);
  }
}

export function subjectOf(p: StoredPoint): FilterSubject {
  return { key: p.key, payload: p.payload, vectorNames: new Set(p.vectors.keys()) };
}

export class StandinStore {
  private readonly collections = new Map<string, StandinCollection>();
  /** alias name → collection name */
  private aliases = new Map<string, string>();

  createCollection(name: string, vectors: ReadonlyMap<string, VectorSpec>, vectorsConfig?: VectorsConfigMsg): void {
    if (name === '') throw invalid('Wrong input: collection name must not be empty');
    if (this.collections.has(name)) throw alreadyExists('Collection', name);
    if (this.aliases.has(name)) throw alreadyExists('Alias', name);
    this.collections.set(name, new StandinCollection(name, vectors, vectorsConfig));
  }

  /** Deletes a collection (by its own name) and its aliases; false when there was none. */
  deleteCollection(name: string): boolean {
    if (!this.collections.delete(name)) return false;
    for (const [alias, target] of this.aliases) if (target === name) this.aliases.delete(alias);
    return true;
  }

  /** The collection named `nameOrAlias` (aliases resolve, as in Qdrant); NOT_FOUND otherwise. */
  collection(nameOrAlias: string): StandinCollection {
    const c = this.collections.get(this.aliases.get(nameOrAlias) ?? nameOrAlias);
    if (!c) throw collectionMissing(nameOrAlias);
    return c;
  }

  exists(nameOrAlias: string): boolean {
    return this.collections.has(this.aliases.get(nameOrAlias) ?? nameOrAlias);
  }

  names(): string[] {
    return [...this.collections.keys()].sort();
  }

  /** All aliases, or those of one collection, sorted by alias name. */
  aliasList(collection?: string): AliasInfo[] {
    return [...this.aliases]
      .filter(([, target]) => collection === undefined || target === collection)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([alias_name, collection_name]) => ({ alias_name, collection_name }));
  }

  /** Applies alias actions atomically: all of them, or none when one fails. */
  changeAliases(actions: readonly AliasAction[]): void {
    const next = new Map(this.aliases);
    for (const action of actions) this.applyAlias(next, action);
    this.aliases = next;
  }

  private applyAlias(aliases: Map<string, string>, action: AliasAction): void {
    if ('create' in action) {
      const { collection, alias } = action.create;
      if (!this.collections.has(collection)) throw collectionMissing(collection);
      if (this.collections.has(alias)) throw alreadyExists('Collection', alias);
      aliases.set(alias, collection);
    } else if ('rename' in action) {
      const target = aliases.get(action.rename.from);
      if (target === undefined) throw aliasMissing(action.rename.from);
      aliases.delete(action.rename.from);
      aliases.set(action.rename.to, target);
    } else if (!aliases.delete(action.delete)) {
      throw aliasMissing(action.delete);
    }
  }
}
