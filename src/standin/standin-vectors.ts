// Stand-in upstream (NOT Qdrant): dense vectors and distances, brute force.
import { invalid } from './standin-messages.js';

export type Distance = 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan';

export interface VectorSpec {
  readonly size: number;
  readonly distance: Distance;
}

const DISTANCES: readonly string[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan'];

export function parseDistance(name: string | undefined): Distance {
  if (name !== undefined && DISTANCES.includes(name)) return name as Distance;
  throw invalid(`Wrong input: unknown distance ${name ?? '(none)'}`);
}

/** Unnamed vectors are stored under the name '' (Qdrant's default vector). */
export const DEFAULT_VECTOR = '';

/** Checks a vector against the collection's config and prepares it for storage (Cosine: unit length, as Qdrant does). */
export function prepareVector(specs: ReadonlyMap<string, VectorSpec>, name: string, data: readonly number[]): number[] {
  const spec = specs.get(name);
  if (!spec) throw invalid(`Wrong input: Not existing vector name error: ${name}`);
  if (data.length !== spec.size) {
    throw invalid(`Wrong input: Vector dimension error: expected dim: ${spec.size}, got ${data.length}`);
  }
  const f32 = data.map(Math.fround);
  return spec.distance === 'Cosine' ? normalize(f32) : f32;
}

function normalize(v: readonly number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm === 0 ? [...v] : v.map((x) => Math.fround(x / norm));
}

/** Score of a stored vector against a prepared query. Cosine/Dot: similarity; Euclid/Manhattan: distance. */
export function score(distance: Distance, query: readonly number[], stored: readonly number[]): number {
  let acc = 0;
  for (let i = 0; i < query.length; i++) {
    const q = query[i]!;
    const s = stored[i]!;
    if (distance === 'Euclid') acc += (q - s) * (q - s);
    else if (distance === 'Manhattan') acc += Math.abs(q - s);
    else acc += q * s;
  }
  return distance === 'Euclid' ? Math.sqrt(acc) : acc;
}

/** True when smaller scores are better (distances). */
export const lowerIsBetter = (distance: Distance): boolean => distance === 'Euclid' || distance === 'Manhattan';
