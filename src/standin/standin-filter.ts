// Stand-in upstream (NOT Qdrant): evaluates Qdrant filters against one point by brute force.
// Supported: must / must_not / should / min_should, nested filters, has_id, has_vector, is_empty,
// is_null, `nested`, and field conditions with match (keyword, integer, boolean, text, phrase,
// text_any, prefix, keywords, integers, except_*) and numeric range. Geo, datetime, values_count and
// slice conditions are refused with INVALID_ARGUMENT rather than answered wrongly.
import {
  type ConditionMsg,
  entriesToMap,
  type FieldConditionMsg,
  type FilterMsg,
  invalid,
  type MatchMsg,
  type RangeMsg,
  unsupported,
  type ValueMsg,
} from './standin-messages.js';
import { boolOf, integerOf, isEmptyAt, isNullAt, numberOf, type Payload, stringOf, valuesAt } from './standin-payload.js';
import { parsePointId, pointKey } from './standin-point-id.js';

/** What a filter looks at: the payload (of the point, or of one element for `nested`), the id and vector names. */
export interface FilterSubject {
  readonly key: string;
  readonly payload: Payload;
  readonly vectorNames: ReadonlySet<string>;
}

export function matchesFilter(subject: FilterSubject, filter: FilterMsg | undefined): boolean {
  if (!filter) return true;
  const test = (c: ConditionMsg): boolean => matchesCondition(subject, c);
  if (!(filter.must ?? []).every(test)) return false;
  if ((filter.must_not ?? []).some(test)) return false;
  const should = filter.should ?? [];
  if (should.length > 0 && !should.some(test)) return false;
  if (filter.min_should) {
    const needed = Number(filter.min_should.min_count ?? 0);
    if ((filter.min_should.conditions ?? []).filter(test).length < needed) return false;
  }
  return true;
}

function matchesCondition(subject: FilterSubject, c: ConditionMsg): boolean {
  if (c.field) return matchesField(subject.payload, c.field);
  if (c.filter) return matchesFilter(subject, c.filter);
  if (c.has_id) return (c.has_id.has_id ?? []).some((id) => pointKey(parsePointId(id)) === subject.key);
  if (c.is_empty) return isEmptyAt(subject.payload, c.is_empty.key ?? '');
  if (c.is_null) return isNullAt(subject.payload, c.is_null.key ?? '');
  if (c.has_vector) return subject.vectorNames.has(c.has_vector.has_vector ?? '');
  if (c.nested) return matchesNested(subject, c.nested.key ?? '', c.nested.filter);
  if (c.slice) throw unsupported('slice conditions');
  throw invalid('Wrong input: empty filter condition');
}

/** Qdrant's `nested`: some element of the array at `key` satisfies the whole filter on its own. */
function matchesNested(subject: FilterSubject, key: string, filter: FilterMsg | undefined): boolean {
  return valuesAt(subject.payload, key).some(
    (element) => element.struct_value !== undefined && matchesFilter({ ...subject, payload: entriesToMap(element.struct_value.fields) }, filter),
  );
}

function matchesField(payload: Payload, f: FieldConditionMsg): boolean {
  const key = f.key ?? '';
  if (f.geo_bounding_box || f.geo_radius || f.geo_polygon) throw unsupported('geo conditions');
  if (f.values_count) throw unsupported('values_count conditions');
  if (f.datetime_range) throw unsupported('datetime_range conditions');
  const checks: boolean[] = [];
  if (f.match) checks.push(matchesMatch(valuesAt(payload, key), f.match));
  if (f.range) checks.push(valuesAt(payload, key).some((v) => inRange(numberOf(v), f.range!)));
  if (f.is_empty !== undefined) checks.push(isEmptyAt(payload, key) === f.is_empty);
  if (f.is_null !== undefined) checks.push(isNullAt(payload, key) === f.is_null);
  if (checks.length === 0) throw invalid(`Wrong input: field condition on \`${key}\` has no condition`);
  return checks.every(Boolean);
}

export function matchesMatch(values: readonly ValueMsg[], m: MatchMsg): boolean {
  const strings = values.map(stringOf).filter((s): s is string => s !== undefined);
  const integers = values.map(integerOf).filter((n): n is bigint => n !== undefined);
  if (m.keyword !== undefined) return strings.includes(m.keyword);
  if (m.integer !== undefined) return integers.includes(BigInt(m.integer));
  if (m.boolean !== undefined) return values.some((v) => boolOf(v) === m.boolean);
  if (m.text !== undefined) return strings.some((s) => s.includes(m.text!));
  if (m.phrase !== undefined) return strings.some((s) => s.includes(m.phrase!));
  if (m.prefix !== undefined) return strings.some((s) => s.startsWith(m.prefix!));
  if (m.text_any !== undefined) return strings.some((s) => wordsOf(m.text_any!).some((w) => wordsOf(s).includes(w)));
  if (m.keywords) return strings.some((s) => (m.keywords!.strings ?? []).includes(s));
  if (m.integers) return integers.some((n) => (m.integers!.integers ?? []).map(BigInt).includes(n));
  if (m.except_keywords) return exceptMatch(strings, m.except_keywords.strings ?? [], values.length);
  if (m.except_integers) {
    const excluded = (m.except_integers.integers ?? []).map(BigInt);
    return exceptMatch(integers, excluded, values.length);
  }
  throw invalid('Wrong input: empty match condition');
}

/** `except`: a missing field matches; otherwise some value must be outside the list. */
function exceptMatch<T>(values: readonly T[], excluded: readonly T[], total: number): boolean {
  if (total === 0) return true;
  return values.some((v) => !excluded.includes(v));
}

const wordsOf = (s: string): string[] => s.toLowerCase().split(/\W+/).filter(Boolean);

function inRange(n: number | undefined, r: RangeMsg): boolean {
  if (n === undefined) return false;
  if (r.lt !== undefined && !(n < r.lt)) return false;
  if (r.gt !== undefined && !(n > r.gt)) return false;
  if (r.lte !== undefined && !(n <= r.lte)) return false;
  if (r.gte !== undefined && !(n >= r.gte)) return false;
  return true;
}
