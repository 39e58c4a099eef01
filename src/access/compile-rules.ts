// Compiles the access table against the loaded API once: field-name paths become field numbers, and
// every table/API mismatch is a start-up error (fail closed, never at call time). Also says which
// methods are served: every one the descriptors describe, plus the table's rows for services they
// lack (forwarded as raw bytes), except rows that need a descriptor (reply filters, lookups).
import type { ApiMethod, FieldInfo, QdrantApi } from '../api/qdrant-api.js';
import { ACCESS_TABLE, type AccessRule, type ListFilter } from './access-table.js';
import type { FieldStep } from './request-fields.js';

export type CompiledRule = AccessRule & {
  /** The collection field's steps (collection rules only). */
  readonly collectionSteps: readonly FieldStep[] | null;
  readonly lookupSteps: readonly (readonly FieldStep[])[];
  /** How replies are filtered for collection-scoped principals (null: never). */
  readonly replyFilter: ListFilter | null;
};

/** The API as served: the loaded one, with the raw-forwarded methods added. */
export function servedApi(api: QdrantApi): QdrantApi {
  return { ...api, methods: servedMethods(api) };
}

export function servedMethods(api: QdrantApi): ReadonlyMap<string, ApiMethod> {
  const methods = new Map(api.methods);
  const serviceOf = (path: string) => path.slice(1, path.indexOf('/', 1));
  const described = new Set([...api.methods.keys()].map(serviceOf));
  for (const rule of ACCESS_TABLE) {
    const needsDescriptor = 'filter' in rule || ('lookups' in rule && rule.lookups !== undefined);
    if (!described.has(serviceOf(rule.path)) && !needsDescriptor) methods.set(rule.path, { path: rule.path, kind: rule.kind });
  }
  return methods;
}

export function compileRules(api: QdrantApi): ReadonlyMap<string, CompiledRule> {
  const methods = servedMethods(api);
  const rules = new Map<string, CompiledRule>();
  for (const rule of ACCESS_TABLE) {
    const method = methods.get(rule.path);
    if (!method) continue; // not served by this API version
    const requestType = method.request?.typeName;
    const resolve = (path: string): FieldStep[] => {
      if (!requestType) throw new Error(`access table: ${rule.path} has lookups but no request descriptor`);
      return resolvePath(api, requestType, path, rule.path);
    };
    let collectionSteps: FieldStep[] | null = null;
    let lookupSteps: FieldStep[][] = [];
    if (rule.need.scope === 'collection' && 'collection' in rule) {
      collectionSteps = requestType ? resolve(rule.collection.field) : [{ number: rule.collection.number, recursive: false }];
      lookupSteps = (rule.lookups ?? []).map(resolve);
    }
    const replyFilter = 'filter' in rule && rule.filter ? rule.filter : null;
    if (replyFilter) {
      if (!method.response) throw new Error(`access table: ${rule.path} filters its reply but has no response descriptor`);
      if (method.kind !== 'unary')
        throw new Error(`access table: ${rule.path} filters its reply but is not unary (a stream's messages are passed on as they come)`);
    }
    rules.set(rule.path, Object.freeze({ ...rule, collectionSteps, lookupSteps, replyFilter }));
  }
  return rules;
}

function resolvePath(api: QdrantApi, typeName: string, path: string, method: string): FieldStep[] {
  const steps: FieldStep[] = [];
  let current: string | undefined = typeName;
  for (const segment of path.split('.')) {
    const recursive = segment.endsWith('*');
    const name = recursive ? segment.slice(0, -1) : segment;
    const fields: readonly FieldInfo[] | undefined = current ? api.messageFields(current) : undefined;
    const field: FieldInfo | undefined = fields?.find((f) => f.name === name);
    if (!field) throw new Error(`access table: ${method}: field "${name}" of "${path}" not found in ${current ?? '(scalar)'}`);
    if (recursive && field.messageType !== current) throw new Error(`access table: ${method}: "${segment}" is not a field of ${current}'s own type`);
    steps.push({ number: field.number, recursive });
    current = field.messageType;
  }
  return steps;
}
