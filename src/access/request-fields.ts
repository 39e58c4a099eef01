// Reads string fields out of a protobuf-encoded request without decoding the rest: the collection
// names an authorization decision needs. Every occurrence is returned (protobuf lets a field repeat;
// checking all of them is never weaker than checking the one the upstream keeps).
import { ProxyError } from '../errors.js';

export interface FieldStep {
  readonly number: number;
  /** Zero or more repetitions of a self-typed field (nested prefetches): `prefetch*`. */
  readonly recursive: boolean;
}

const MAX_DEPTH = 64;
// As prost decodes a string: strict UTF-8, and a leading byte-order mark kept (it is part of the name).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** All strings at `steps` in `buf`; malformed input raises `malformed_request`. */
export function stringsAt(buf: Uint8Array, steps: readonly FieldStep[]): string[] {
  const out: string[] = [];
  try {
    walk(buf, 0, buf.length, steps, 0, out, 0);
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw new ProxyError('malformed_request');
  }
  return out;
}

function walk(buf: Uint8Array, start: number, end: number, steps: readonly FieldStep[], at: number, out: string[], depth: number): void {
  if (depth > MAX_DEPTH) throw new ProxyError('malformed_request');
  const step = steps[at]!;
  const last = at === steps.length - 1;
  if (step.recursive) walk(buf, start, end, steps, at + 1, out, depth + 1); // zero repetitions
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos, end);
    pos = afterTag;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new ProxyError('malformed_request');
    switch (wire) {
      case 0:
        pos = readVarint(buf, pos, end)[1];
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const [len, afterLen] = readVarint(buf, pos, end);
        const valueEnd = afterLen + len;
        if (valueEnd > end) throw new ProxyError('malformed_request');
        if (field === step.number) {
          if (last) out.push(utf8.decode(buf.subarray(afterLen, valueEnd)));
          else walk(buf, afterLen, valueEnd, steps, step.recursive ? at : at + 1, out, depth + 1);
        }
        pos = valueEnd;
        break;
      }
      default:
        // Groups (3, 4) do not exist in proto3; 6 and 7 are invalid.
        throw new ProxyError('malformed_request');
    }
    if (pos > end) throw new ProxyError('malformed_request');
  }
}

export function readVarint(buf: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new ProxyError('malformed_request');
    const b = buf[pos++]!;
    value += (b & 0x7f) * multiplier;
    if (b < 0x80) return [value, pos];
    multiplier *= 128;
  }
  throw new ProxyError('malformed_request');
}
