// Stand-in upstream (NOT Qdrant): payload values. A point's payload is kept as Qdrant's gRPC `Value`
// messages, exactly as decoded, keyed by top-level field name.
import { entriesToMap, type ValueMsg } from './standin-messages.js';

export type Payload = Map<string, ValueMsg>;

/**
 * The values a payload key refers to. `a.b` descends into objects; arrays met on the way (and at the
 * end) are flattened, so `tags` matches each element of a `tags` array. `a[].b` is accepted as `a.b`.
 */
export function valuesAt(payload: Payload, key: string): ValueMsg[] {
  const [first, ...rest] = key.split('.').map((s) => s.replace(/\[\]$/, ''));
  let current = flatten(first === undefined ? [] : [payload.get(first)]);
  for (const segment of rest) {
    current = flatten(current.map((v) => fieldOf(v, segment)));
  }
  return current;
}

function fieldOf(value: ValueMsg, name: string): ValueMsg | undefined {
  if (!value.struct_value) return undefined;
  return entriesToMap(value.struct_value.fields).get(name);
}

function flatten(values: readonly (ValueMsg | undefined)[]): ValueMsg[] {
  const out: ValueMsg[] = [];
  for (const v of values) {
    if (v === undefined) continue;
    if (v.list_value) out.push(...flatten(v.list_value.values ?? []));
    else out.push(v);
  }
  return out;
}

/** True when the key is missing, null, or an empty array (Qdrant's `is_empty`). */
export function isEmptyAt(payload: Payload, key: string): boolean {
  return valuesAt(payload, key).every(isNull);
}

/** True when the key holds `null` (Qdrant's `is_null`; a missing key is not null). */
export function isNullAt(payload: Payload, key: string): boolean {
  const raw = rawAt(payload, key);
  return raw !== undefined && isNull(raw);
}

function rawAt(payload: Payload, key: string): ValueMsg | undefined {
  const [first, ...rest] = key.split('.');
  let current = first === undefined ? undefined : payload.get(first);
  for (const segment of rest) current = current && fieldOf(current, segment);
  return current;
}

export const isNull = (v: ValueMsg): boolean => v.null_value !== undefined;

export const stringOf = (v: ValueMsg): string | undefined => v.string_value;

export const boolOf = (v: ValueMsg): boolean | undefined => v.bool_value;

export function integerOf(v: ValueMsg): bigint | undefined {
  return v.integer_value === undefined ? undefined : BigInt(v.integer_value);
}

/** Integers and doubles, as numbers (for ranges). */
export function numberOf(v: ValueMsg): number | undefined {
  if (v.double_value !== undefined) return v.double_value;
  if (v.integer_value !== undefined) return Number(v.integer_value);
  return undefined;
}
