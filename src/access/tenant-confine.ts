// Confines a request to a tenant's points (src/access/tenant-table.ts says how, method by method).
// The request is rewritten at the byte level, and only where it must be: every occurrence of a
// filter the tenant's conditions go into is taken out and one filter put in its place, the
// client's occurrences concatenated (which is how protobuf merges a message given several times)
// followed by the conditions in `must`. Whatever decoder reads it (prost, as Qdrant does, or
// another) sees one filter holding the tenant's conditions, ANDed with the client's; the rest of
// the request reaches Qdrant byte for byte as the client sent it.
// Compiled once against the loaded API: field names become numbers, a mismatch fails start-up.
import type { FieldInfo, QdrantApi } from '../api/qdrant-api.js';
import type { TenantConditions } from '../auth/principal.js';
import { ProxyError } from '../errors.js';
import { MessageWriter, varintBytes } from '../grpc/protobuf.js';
import { type FieldStep, readVarint } from './request-fields.js';
import { TENANT_TABLE, type TenantTreatment } from './tenant-table.js';

const MAX_DEPTH = 64;
/**
 * Fields one request's confinement may parse, all passes together (a field record is ~100 bytes):
 * a hostile request of millions of two-byte fields would otherwise hold gigabytes and the event
 * loop for seconds; this caps it at ~25 MB and ~50 ms, room for an upsert of ~5,000 points with
 * ten payload keys. Counted per synchronous stretch of work (from the start, and again after a
 * look-up's await): the event loop runs one stretch at a time, so one counter serves.
 */
export const MAX_FIELDS_PER_REQUEST = 250_000;
let fieldsLeft = MAX_FIELDS_PER_REQUEST; // reset at the start and after every await in confine()
const EMPTY = Buffer.alloc(0);

/** Field numbers of the messages the proxy writes or reads itself, from the loaded descriptors. */
interface Schema {
  readonly filter: { readonly must: number };
  readonly condition: { readonly field: number; readonly hasId: number };
  readonly fieldCondition: { readonly key: number; readonly match: number };
  readonly match: { readonly keyword: number; readonly integer: number; readonly boolean: number };
  readonly hasId: { readonly ids: number };
  readonly selector: { readonly points: number; readonly filter: number };
  readonly idsList: { readonly ids: number };
  readonly value: Readonly<Record<'null' | 'double' | 'integer' | 'string' | 'bool' | 'struct' | 'list', number>>;
  readonly struct: { readonly fields: number };
  readonly pointId: { readonly num: number; readonly uuid: number };
  readonly shardKey: { readonly keyword: number; readonly number: number };
  readonly shardKeySelector: { readonly shardKeys: number };
  readonly scroll: {
    readonly collection: number;
    readonly filter: number;
    readonly limit: number;
    readonly withPayload: number;
    readonly enable: number;
    readonly shardKeySelector: number;
  };
}

export interface CompiledTenantRule {
  readonly treatment: TenantTreatment;
  /** Request message type (for the scan for point ids). */
  readonly requestType: string;
  /** For each filter field: the steps to the message holding it, and its number. */
  readonly filters: readonly { readonly parent: readonly FieldStep[]; readonly number: number }[];
  /** Steps to point ids that must all be the tenant's points (looked up first), else NOT_FOUND. */
  readonly ownedIds: readonly FieldStep[] | null;
  /** Boolean fields set to true (the last occurrence wins), e.g. Count's `exact`. */
  readonly forceTrue: readonly number[];
  /** Top-level fields that may hold a point id (a scroll's offset). */
  readonly idFields: ReadonlySet<number>;
  /** Top-level fields whose presence refuses the request. */
  readonly refuseFields: readonly { readonly number: number; readonly name: string }[];
  /** Top-level field numbers by name (selector, payload, keys, key, points, ids, update_filter, collection_name). */
  readonly field: (name: string) => number;
}

export interface TenantCompiled {
  readonly rules: ReadonlyMap<string, CompiledTenantRule>;
  /** Null when the loaded API lacks the messages the proxy writes (an api.proto_dir of another shape): every tenant-bound call is refused. */
  readonly schema: Schema | null;
  readonly api: QdrantApi;
}

/** The tenant's points a look-up found: their ids' keys (pointIdKey) and the shard keys they are under (`k:name` or `n:number`). */
export interface OwnedPoints {
  readonly ids: ReadonlySet<string>;
  readonly shardKeys: ReadonlySet<string>;
}

/** Looks up the points of `ids` that are the tenant's (a Scroll upstream). */
export type OwnedIds = (collectionRequest: Buffer) => Promise<OwnedPoints>;

export function compileTenantRules(api: QdrantApi): TenantCompiled {
  if (!api.messageFields('qdrant.Filter') || !api.messageFields('qdrant.PointsSelector')) return { rules: new Map(), schema: null, api };
  const fieldsOf = (type: string) => {
    const fields = api.messageFields(type);
    if (!fields) throw new Error(`tenant table: the loaded API has no message ${type}`);
    return fields;
  };
  const num = (type: string, name: string): number => {
    const f = fieldsOf(type).find((x) => x.name === name);
    if (!f) throw new Error(`tenant table: ${type} has no field ${name}`);
    return f.number;
  };
  const schema: Schema = {
    filter: { must: num('qdrant.Filter', 'must') },
    condition: { field: num('qdrant.Condition', 'field'), hasId: num('qdrant.Condition', 'has_id') },
    fieldCondition: { key: num('qdrant.FieldCondition', 'key'), match: num('qdrant.FieldCondition', 'match') },
    match: { keyword: num('qdrant.Match', 'keyword'), integer: num('qdrant.Match', 'integer'), boolean: num('qdrant.Match', 'boolean') },
    hasId: { ids: num('qdrant.HasIdCondition', 'has_id') },
    selector: { points: num('qdrant.PointsSelector', 'points'), filter: num('qdrant.PointsSelector', 'filter') },
    idsList: { ids: num('qdrant.PointsIdsList', 'ids') },
    value: {
      null: num('qdrant.Value', 'null_value'),
      double: num('qdrant.Value', 'double_value'),
      integer: num('qdrant.Value', 'integer_value'),
      string: num('qdrant.Value', 'string_value'),
      bool: num('qdrant.Value', 'bool_value'),
      struct: num('qdrant.Value', 'struct_value'),
      list: num('qdrant.Value', 'list_value'),
    },
    struct: { fields: num('qdrant.Struct', 'fields') },
    pointId: { num: num('qdrant.PointId', 'num'), uuid: num('qdrant.PointId', 'uuid') },
    shardKey: { keyword: num('qdrant.ShardKey', 'keyword'), number: num('qdrant.ShardKey', 'number') },
    shardKeySelector: { shardKeys: num('qdrant.ShardKeySelector', 'shard_keys') },
    scroll: {
      collection: num('qdrant.ScrollPoints', 'collection_name'),
      filter: num('qdrant.ScrollPoints', 'filter'),
      limit: num('qdrant.ScrollPoints', 'limit'),
      withPayload: num('qdrant.ScrollPoints', 'with_payload'),
      enable: num('qdrant.WithPayloadSelector', 'enable'),
      shardKeySelector: num('qdrant.ScrollPoints', 'shard_key_selector'),
    },
  };
  const rules = new Map<string, CompiledTenantRule>();
  for (const [path, treatment] of Object.entries(TENANT_TABLE)) {
    const method = api.methods.get(path);
    const requestType = method?.request?.typeName;
    if (!requestType) continue; // not served with a descriptor: refused for tenant-bound grants
    const resolve = (fieldPath: string): FieldStep[] => {
      const steps: FieldStep[] = [];
      let current: string | undefined = requestType;
      for (const segment of fieldPath.split('.')) {
        const recursive = segment.endsWith('*');
        const name = recursive ? segment.slice(0, -1) : segment;
        const info: FieldInfo | undefined = current ? api.messageFields(current)?.find((f) => f.name === name) : undefined;
        if (!info) throw new Error(`tenant table: ${path}: field "${name}" of "${fieldPath}" not found in ${current}`);
        steps.push({ number: info.number, recursive });
        current = info.messageType;
      }
      return steps;
    };
    const filters = treatment.kind === 'filter' || treatment.kind === 'filter_write' ? treatment.filters.map(resolve) : [];
    rules.set(path, {
      treatment,
      requestType,
      filters: filters.map((steps) => ({ parent: steps.slice(0, -1), number: steps.at(-1)!.number })),
      ownedIds: treatment.kind === 'filter_write' && treatment.ownedIds ? resolve(treatment.ownedIds) : null,
      forceTrue: treatment.kind === 'filter' ? (treatment.forceTrue ?? []).map((n) => num(requestType, n)) : [],
      idFields: new Set(treatment.kind === 'filter' ? (treatment.ids ?? []).map((n) => num(requestType, n)) : []),
      refuseFields: treatment.kind === 'filter' ? (treatment.refuse ?? []).map((name) => ({ number: num(requestType, name), name })) : [],
      field: (name) => num(requestType, name),
    });
  }
  return { rules, schema, api };
}

/** The request, confined to the tenant; throws PERMISSION_DENIED saying why when it cannot be. */
export async function confine(
  compiled: TenantCompiled,
  path: string,
  collection: string,
  request: Buffer,
  tenant: TenantConditions,
  ownedIds: OwnedIds,
): Promise<Buffer> {
  const rule = compiled.rules.get(path);
  const refuse = (why: string) => new ProxyError('tenant_refused', { detail: `${why} (a tenant-bound grant on collection ${collection})` });
  const { schema } = compiled;
  if (!rule || !schema) throw refuse('this method cannot be confined to a tenant');
  const { treatment } = rule;
  const tenantFilter = encodeTenantFilter(schema, tenant);
  fieldsLeft = MAX_FIELDS_PER_REQUEST;
  try {
    // Qdrant reads the last of several collection names, the proxy's look-ups and checks the one it
    // authorized: one name, once, keeps them the same collection.
    const decided = treatment.kind === 'allow' || treatment.kind === 'refuse';
    const top = decided ? [] : topLevel(request);
    const collectionName = decided ? 0 : rule.field('collection_name');
    if (top.filter((f) => f.number === collectionName).length > 1) throw refuse('refused: a request naming its collection more than once');
    switch (treatment.kind) {
      case 'allow':
        return request;
      case 'refuse':
        throw refuse(`refused: ${treatment.why}`);
      case 'filter': {
        for (const f of rule.refuseFields) if (top.some((x) => x.number === f.number)) throw refuse(`refused: ${f.name} reads points outside the filter`);
        if (holdsPointId(compiled.api, request, rule.requestType, rule.idFields, 0))
          throw refuse('refused: a point named by id is read with no filter (give vectors instead of ids)');
        const confined = appendFilters(request, rule.filters, tenantFilter);
        return rule.forceTrue.length === 0 ? confined : Buffer.concat([confined, ...rule.forceTrue.map((n) => new MessageWriter().varint(n, 1).finish())]);
      }
      case 'filter_write': {
        let body = request;
        if (rule.ownedIds) {
          const owned = await checkOwned(schema, rule, rule.ownedIds, request, collection, tenantFilter, ownedIds);
          fieldsLeft = MAX_FIELDS_PER_REQUEST; // a new stretch of work after the await
          if (owned) body = pinShardKey(schema, rule, rawFields(request), owned, refuse);
        }
        return appendFilters(body, rule.filters, tenantFilter);
      }
      case 'upsert': {
        const points = rule.field('points');
        for (const point of top.filter((f) => f.number === points && f.bytes)) checkTenantPayload(schema, entriesOf(point.bytes!, 3), tenant, refuse);
        return appendFilters(request, [{ parent: [], number: rule.field('update_filter') }], tenantFilter);
      }
      case 'selector': {
        checkPayloadTouch(schema, rule, treatment.payload, request, tenant, refuse);
        return confineSelector(schema, request, rule.field(treatment.selector), tenantFilter, refuse);
      }
      case 'get':
        return await confineGet(schema, rule, request, collection, tenantFilter, ownedIds, refuse);
    }
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw new ProxyError('malformed_request');
  }
}

/** Stops a request whose confinement would parse more fields than MAX_FIELDS_PER_REQUEST. */
function countField(): void {
  if (--fieldsLeft < 0) throw new ProxyError('tenant_request_too_complex', { detail: String(MAX_FIELDS_PER_REQUEST) });
}

// --- writing ---------------------------------------------------------------------------------------

function field(number: number, bytes: Uint8Array): Buffer {
  return new MessageWriter().bytes(number, bytes).finish();
}

/** Filter{must: [Condition{field: FieldCondition{key, match}}…]}, one condition per tenant key. */
function encodeTenantFilter(s: Schema, tenant: TenantConditions): Buffer {
  const w = new MessageWriter();
  for (const c of tenant) w.bytes(s.filter.must, conditionOf(s, c.key, c.value));
  return w.finish();
}

function conditionOf(s: Schema, key: string, value: string | bigint | boolean): Buffer {
  const match = new MessageWriter();
  if (typeof value === 'string') match.string(s.match.keyword, value);
  else if (typeof value === 'boolean') match.varint(s.match.boolean, value ? 1 : 0);
  else match.varintBig(s.match.integer, value);
  const fieldCondition = new MessageWriter().string(s.fieldCondition.key, key).bytes(s.fieldCondition.match, match.finish()).finish();
  return new MessageWriter().bytes(s.condition.field, fieldCondition).finish();
}

/** A place a filter is merged: the steps to the message holding it (from `at`), and its field number. */
interface Cursor {
  readonly steps: readonly FieldStep[];
  readonly at: number;
  readonly number: number;
}

/**
 * Merges the tenant's `must` conditions into the filter at every filter path, in one walk of the
 * request: each message on a path is parsed once, and the new request is made of slices of the
 * old one, copied once at the end (a deep nesting of prefetches costs no more than a flat one).
 */
function appendFilters(request: Buffer, filters: CompiledTenantRule['filters'], conditions: Buffer): Buffer {
  const out: Buffer[] = [];
  rewrite(
    request,
    filters.map((f) => ({ steps: f.parent, at: 0, number: f.number })),
    conditions,
    0,
    out,
  );
  return Buffer.concat(out);
}

/**
 * Pushes the message `buf`, rewritten, onto `out` as slices; returns its length. Every occurrence of
 * a filter field ending here is replaced by one at the end: the client's values concatenated (as
 * protobuf merges a message given several times), then `extra`. Fields a path goes through are
 * rewritten below; all else is kept as it was.
 */
function rewrite(buf: Buffer, cursors: readonly Cursor[], extra: Buffer, depth: number, out: Buffer[]): number {
  if (depth > MAX_DEPTH) throw new ProxyError('malformed_request');
  const merged = new Map<number, Buffer[]>();
  const below = new Map<number, Cursor[]>();
  for (const cursor of cursors) {
    // A recursive step (prefetch*) repeats zero or more times: the rest of its path applies here too.
    for (let at = cursor.at; ; at++) {
      if (at === cursor.steps.length) {
        merged.set(cursor.number, []);
        break;
      }
      const step = cursor.steps[at]!;
      below.set(step.number, [...(below.get(step.number) ?? []), { ...cursor, at: step.recursive ? at : at + 1 }]);
      if (!step.recursive) break;
    }
  }
  let length = 0;
  for (const f of rawFields(buf)) {
    const values = merged.get(f.number);
    const next = below.get(f.number);
    if ((values || next) && f.wire !== 2) throw new ProxyError('malformed_request');
    if (values) {
      // Each of the client's values must end where a field ends: an unfinished last field (a length
      // prefix reaching past its end) would take the appended conditions in as its own bytes.
      rawFields(f.value);
      values.push(f.value);
    } else if (next) {
      const slot = out.push(EMPTY) - 1;
      const inner = rewrite(f.value, next, extra, depth + 1, out);
      out[slot] = lengthHeader(f.number, inner);
      length += out[slot]!.length + inner;
    } else {
      out.push(f.raw);
      length += f.raw.length;
    }
  }
  for (const [number, values] of merged) {
    const inner = values.reduce((n, v) => n + v.length, extra.length);
    const header = lengthHeader(number, inner);
    out.push(header);
    for (const v of values) out.push(v);
    out.push(extra);
    length += header.length + inner;
  }
  return length;
}

/** The tag and length of a length-delimited field. */
function lengthHeader(number: number, length: number): Buffer {
  return Buffer.from([...varintBytes(number * 8 + 2), ...varintBytes(length)]);
}

// --- reading ---------------------------------------------------------------------------------------

/** One field of a message, as offsets into it: the whole field (tag included) and, length-delimited, its value. */
class RawField {
  constructor(
    readonly number: number,
    readonly wire: number,
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly valueStart: number,
    private readonly end: number,
  ) {}

  /** The whole field, tag included, as it was. */
  get raw(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** Length-delimited fields: the value (empty for the others). */
  get value(): Buffer {
    return this.wire === 2 ? this.buf.subarray(this.valueStart, this.end) : EMPTY;
  }
}

/** A message's fields, in order; a field record is a few offsets (Buffers are made only when read). */
function rawFields(buf: Buffer): RawField[] {
  const out: RawField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(buf, pos, buf.length);
    pos = afterTag;
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0) throw new ProxyError('malformed_request');
    countField();
    let valueStart = pos;
    switch (wire) {
      case 0:
        pos = readVarint(buf, pos, buf.length)[1];
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const [len, afterLen] = readVarint(buf, pos, buf.length);
        valueStart = afterLen;
        pos = afterLen + len;
        break;
      }
      default:
        throw new ProxyError('malformed_request');
    }
    if (pos > buf.length) throw new ProxyError('malformed_request');
    out.push(new RawField(number, wire, buf, start, valueStart, pos));
  }
  return out;
}

function topLevel(buf: Buffer): { number: number; bytes: Buffer | null }[] {
  return rawFields(buf).map((f) => ({ number: f.number, bytes: f.wire === 2 ? f.value : null }));
}

/** True when a point id appears anywhere but inside a filter (and but at `allowed` top-level fields). */
function holdsPointId(api: QdrantApi, buf: Buffer, type: string, allowed: ReadonlySet<number>, depth: number): boolean {
  if (depth > MAX_DEPTH) throw new ProxyError('malformed_request');
  const fields = api.messageFields(type);
  if (!fields) return false;
  for (const f of rawFields(buf)) {
    if (f.wire !== 2) continue;
    const info = fields.find((x) => x.number === f.number);
    const child = info?.messageType;
    if (!child || child === 'qdrant.Filter') continue; // filters are confined; scalars hold no id
    if (child === 'qdrant.PointId') {
      if (depth === 0 && allowed.has(f.number)) continue;
      return true;
    }
    if (holdsPointId(api, f.value, child, allowed, depth + 1)) return true;
  }
  return false;
}

/** A map field's entries (key = 1, value = 2) as [key, value bytes], in order. */
function entriesOf(message: Buffer, number: number): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const f of rawFields(message)) {
    if (f.number !== number || f.wire !== 2) continue;
    let key = '';
    let value: Buffer = Buffer.alloc(0);
    for (const e of rawFields(f.value)) {
      if (e.number === 1 && e.wire === 2) key = e.value.toString('utf8');
      if (e.number === 2 && e.wire === 2) value = e.value;
    }
    out.push([key, value]);
  }
  return out;
}

/**
 * The payload (map entries) carries every tenant condition as one scalar, stated once: a key given
 * twice, a value of two kinds, a list, or another value is refused (whatever prost would keep of it).
 */
function checkTenantPayload(s: Schema, entries: [string, Buffer][], tenant: TenantConditions, refuse: (why: string) => ProxyError): void {
  for (const { key, value } of tenant) {
    const segments = key.split('.');
    let level = entries;
    for (const [i, segment] of segments.entries()) {
      const found = level.filter(([k]) => k === segment);
      if (found.length !== 1) throw refuse(`every point must carry ${key}: ${String(value)} once`);
      const kinds = rawFields(found[0]![1]);
      if (kinds.length !== 1) throw refuse(`every point must carry ${key}: ${String(value)} as one value`);
      const only = kinds[0]!;
      if (i < segments.length - 1) {
        if (only.number !== s.value.struct || only.wire !== 2) throw refuse(`every point must carry ${key}: ${String(value)}`);
        level = entriesOf(only.value, s.struct.fields);
        continue;
      }
      if (!scalarEquals(s, only, value)) throw refuse(`every point must carry ${key}: ${String(value)}`);
    }
  }
}

function scalarEquals(s: Schema, f: RawField, value: string | bigint | boolean): boolean {
  if (typeof value === 'string') return f.number === s.value.string && f.wire === 2 && f.value.toString('utf8') === value;
  if (typeof value === 'boolean') return f.number === s.value.bool && f.wire === 0 && readVarintBig(f.raw) === (value ? 1n : 0n);
  return f.number === s.value.integer && f.wire === 0 && BigInt.asIntN(64, readVarintBig(f.raw)) === value;
}

/** The varint value of a whole field (tag then value). */
function readVarintBig(raw: Buffer): bigint {
  let pos = readVarint(raw, 0, raw.length)[1];
  let value = 0n;
  let shift = 0n;
  while (pos < raw.length) {
    const b = raw[pos++]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  return value;
}

/** The tenant's keys' first segments: what a payload write may not touch. */
function tenantRoots(tenant: TenantConditions): Set<string> {
  return new Set(tenant.map((c) => c.key.split(/[.[]/)[0]!));
}

function touchesTenant(path: string, roots: ReadonlySet<string>): boolean {
  return roots.has(path.split(/[.[]/)[0]!.replace(/^"|"$/g, ''));
}

/** SetPayload may not set the tenant's keys, DeletePayload not delete them, OverwritePayload must keep them. */
function checkPayloadTouch(
  s: Schema,
  rule: CompiledTenantRule,
  mode: 'keys' | 'set' | 'full' | 'none' | undefined,
  request: Buffer,
  tenant: TenantConditions,
  refuse: (why: string) => ProxyError,
): void {
  if (mode === undefined || mode === 'none') return;
  const roots = tenantRoots(tenant);
  const fields = topLevel(request);
  if (mode === 'keys') {
    const keys = rule.field('keys');
    for (const f of fields)
      if (f.number === keys && f.bytes && touchesTenant(f.bytes.toString('utf8'), roots)) throw refuse("a write may not delete the tenant's own keys");
    return;
  }
  const entries = entriesOf(request, rule.field('payload'));
  if (mode === 'full') {
    checkTenantPayload(s, entries, tenant, refuse);
    return;
  }
  const key = rule.field('key');
  const nested = fields.filter((f) => f.number === key && f.bytes).map((f) => f.bytes!.toString('utf8'));
  if (nested.some((k) => touchesTenant(k, roots))) throw refuse("a write may not set the tenant's own keys");
  if (nested.length === 0 && entries.some(([k]) => touchesTenant(k, roots))) throw refuse("a write may not set the tenant's own keys");
}

/**
 * The points a selector chooses, as prost reads it (the last variant wins; the same variant
 * merges), put back as one selector: a filter with the tenant's conditions merged in, or, for a
 * list of ids, the filter has_id AND the conditions (the tenant's points among those ids).
 */
function confineSelector(s: Schema, request: Buffer, number: number, tenantFilter: Buffer, refuse: (why: string) => ProxyError): Buffer {
  let variant: 'points' | 'filter' | null = null;
  let ids: Buffer[] = [];
  let filters: Buffer[] = [];
  const fields = rawFields(request);
  for (const selector of fields) {
    if (selector.number !== number) continue;
    if (selector.wire !== 2) throw new ProxyError('malformed_request');
    for (const f of rawFields(selector.value)) {
      if (f.number === s.selector.points && f.wire === 2) {
        if (variant !== 'points') ids = [];
        variant = 'points';
        for (const id of rawFields(f.value)) if (id.number === s.idsList.ids && id.wire === 2) ids.push(id.value);
      } else if (f.number === s.selector.filter && f.wire === 2) {
        if (variant !== 'filter') filters = [];
        variant = 'filter';
        filters.push(f.value);
      }
    }
  }
  if (variant === null) throw refuse('a write with no points selector');
  let filter: Buffer;
  for (const f of filters) rawFields(f); // each ends where a field ends (see rewrite)
  if (variant === 'filter') filter = Buffer.concat([...filters, tenantFilter]);
  else {
    const hasId = new MessageWriter();
    for (const id of ids) hasId.bytes(s.hasId.ids, id);
    const condition = new MessageWriter().bytes(s.condition.hasId, hasId.finish()).finish();
    filter = Buffer.concat([field(s.filter.must, condition), tenantFilter]);
  }
  const rest = fields.filter((f) => f.number !== number).map((f) => f.raw);
  return Buffer.concat([...rest, field(number, field(s.selector.filter, filter))]);
}

/**
 * Get: keeps the ids that are the tenant's points (looked up first), pinned to their shard key
 * (pinShardKey); the rest of the request as it was.
 */
async function confineGet(
  s: Schema,
  rule: CompiledTenantRule,
  request: Buffer,
  collection: string,
  tenantFilter: Buffer,
  ownedIds: OwnedIds,
  refuse: (why: string) => ProxyError,
): Promise<Buffer> {
  const idsField = rule.field('ids');
  const fields = rawFields(request);
  const ids = fields.filter((f) => f.number === idsField && f.wire === 2).map((f) => f.value);
  if (ids.length === 0) return request;
  const owned = await lookUp(s, rule, ids, request, collection, tenantFilter, ownedIds);
  fieldsLeft = MAX_FIELDS_PER_REQUEST; // a new stretch of work after the await
  const kept = fields.filter((f) => f.number !== idsField || (f.wire === 2 && owned.ids.has(pointIdKey(s, f.value))));
  return pinShardKey(s, rule, kept, owned, refuse);
}

/** ShardKey{keyword} or ShardKey{number} from `k:name` or `n:number`. */
function encodeShardKey(s: Schema, key: string): Buffer {
  const w = new MessageWriter();
  if (key.startsWith('n:')) w.varintBig(s.shardKey.number, BigInt(key.slice(2)));
  else w.string(s.shardKey.keyword, key.slice(2));
  return w.finish();
}

/**
 * The tenant's points among `ids`: a Scroll (has_id AND the tenant) of the collection the call was
 * authorized for (the name as Qdrant reads it: the last occurrence), on the request's shard keys.
 */
async function lookUp(
  s: Schema,
  rule: CompiledTenantRule,
  ids: readonly Buffer[],
  request: Buffer,
  collection: string,
  tenantFilter: Buffer,
  ownedIds: OwnedIds,
): Promise<OwnedPoints> {
  const hasId = new MessageWriter();
  for (const id of ids) hasId.bytes(s.hasId.ids, id);
  const filter = Buffer.concat([field(s.filter.must, new MessageWriter().bytes(s.condition.hasId, hasId.finish()).finish()), tenantFilter]);
  const noPayload = new MessageWriter().varint(s.scroll.enable, 0).finish();
  const scroll = new MessageWriter()
    .string(s.scroll.collection, collection)
    .bytes(s.scroll.filter, filter)
    .varint(s.scroll.limit, ids.length)
    .bytes(s.scroll.withPayload, noPayload);
  const shardKeys = rule.field('shard_key_selector');
  for (const f of rawFields(request)) if (f.number === shardKeys && f.wire === 2) scroll.bytes(s.scroll.shardKeySelector, f.value);
  return ownedIds(scroll.finish());
}

/**
 * A write by id (UpdateVectors) whose points must all be the tenant's: Qdrant answers NOT_FOUND for
 * an id no point has and skips one of another tenant's (update_filter); the proxy answers the same
 * NOT_FOUND for both, so the answer does not tell which ids other tenants use.
 */
async function checkOwned(
  s: Schema,
  rule: CompiledTenantRule,
  steps: readonly FieldStep[],
  request: Buffer,
  collection: string,
  tenantFilter: Buffer,
  ownedIds: OwnedIds,
): Promise<OwnedPoints | null> {
  const ids = valuesAt(request, steps, 0);
  if (ids.length === 0) return null;
  const owned = await lookUp(s, rule, ids, request, collection, tenantFilter, ownedIds);
  fieldsLeft = MAX_FIELDS_PER_REQUEST; // a new stretch of work after the await
  const missing = ids.find((id) => !owned.ids.has(pointIdKey(s, id)));
  if (missing) throw new ProxyError('tenant_point_not_found', { detail: displayId(pointIdKey(s, missing)) });
  return owned;
}

/**
 * The request with its shard keys pinned to the one the tenant's points were found under: a read or
 * write over several shard keys meets other tenants' points of the same ids (a Get keeps whichever
 * shard answers last; an UpdateVectors answers NOT_FOUND only where no point has the id).
 */
function pinShardKey(s: Schema, rule: CompiledTenantRule, fields: readonly RawField[], owned: OwnedPoints, refuse: (why: string) => ProxyError): Buffer {
  if (owned.shardKeys.size > 1) throw refuse("refused: the tenant's points asked for are under several shard keys (send one request per shard_key_selector)");
  if (owned.shardKeys.size === 0) return Buffer.concat(fields.map((f) => f.raw));
  const selectorField = rule.field('shard_key_selector');
  const out = fields.filter((f) => f.number !== selectorField).map((f) => f.raw);
  out.push(field(selectorField, field(s.shardKeySelector.shardKeys, encodeShardKey(s, [...owned.shardKeys][0]!))));
  return Buffer.concat(out);
}

/** Values of the length-delimited fields at `steps` (each step one level down). */
function valuesAt(buf: Buffer, steps: readonly FieldStep[], at: number): Buffer[] {
  const out: Buffer[] = [];
  for (const f of rawFields(buf)) {
    if (f.number !== steps[at]!.number || f.wire !== 2) continue;
    if (at === steps.length - 1) out.push(f.value);
    else out.push(...valuesAt(f.value, steps, at + 1));
  }
  return out;
}

/** A point id as Qdrant prints it: the number, or the UUID hyphenated. */
function displayId(key: string): string {
  const id = key.slice(2);
  if (key.startsWith('n:')) return id;
  return id.length === 32 ? `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}` : id;
}

/** `n:123` or `u:<uuid>`: how point ids compare. */
export function pointIdKey(s: Pick<Schema, 'pointId'>, id: Buffer): string {
  let key = '';
  for (const f of rawFields(id)) {
    if (f.number === s.pointId.num && f.wire === 0) key = `n:${readVarintBig(f.raw)}`;
    // A UUID in any of the forms Qdrant parses (hyphenated, simple, braced, urn) compares by its digits.
    else if (f.number === s.pointId.uuid && f.wire === 2) key = uuidKey(f.value.toString('utf8'));
  }
  return key;
}

/** `u:<32 hex digits>`: a UUID in any of the forms Qdrant parses (hyphenated, simple, braced, urn), as ids compare. */
export function uuidKey(uuid: string): string {
  return `u:${uuid
    .toLowerCase()
    .replace(/^urn:uuid:/, '')
    .replace(/[{}-]/g, '')}`;
}
