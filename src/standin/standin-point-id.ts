// Stand-in upstream (NOT Qdrant): point ids. Qdrant ids are unsigned 64-bit numbers or UUIDs; the
// stand-in keeps them normalized (decimal string / lowercase hyphenated UUID) and orders them the way
// Qdrant scrolls: every numeric id first (ascending), then UUIDs (ascending).
import { invalid, type PointIdMsg } from './standin-messages.js';

export type PointId = { readonly num: string } | { readonly uuid: string };

const U64_MAX = (1n << 64n) - 1n;

export function parsePointId(msg: PointIdMsg | undefined): PointId {
  if (msg?.num !== undefined) {
    const n = BigInt(msg.num);
    if (n < 0n || n > U64_MAX) throw invalid(`Wrong input: invalid point id ${msg.num}`);
    return { num: n.toString() };
  }
  if (msg?.uuid !== undefined) return { uuid: normalizeUuid(msg.uuid) };
  throw invalid('Wrong input: point id is empty');
}

function normalizeUuid(text: string): string {
  const hex = text
    .trim()
    .toLowerCase()
    .replace(/^urn:uuid:/, '')
    .replace(/^\{(.*)\}$/, '$1')
    .replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) throw invalid(`Unable to parse UUID: ${text}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A Map key for an id: `n:<decimal>` or `u:<uuid>`. */
export function pointKey(id: PointId): string {
  return 'num' in id ? `n:${id.num}` : `u:${id.uuid}`;
}

export function comparePointIds(a: PointId, b: PointId): number {
  if ('num' in a && 'num' in b) {
    const x = BigInt(a.num);
    const y = BigInt(b.num);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if ('num' in a) return -1;
  if ('num' in b) return 1;
  return a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0;
}
