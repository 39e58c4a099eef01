// Compiles the access table against the loaded API once: field-name paths become field numbers,
// and every table/API mismatch is a start-up error (fail closed, never at call time).
import type { FieldInfo, QdrantApi } from '../api/qdrant-api.js';
import { ACCESS_TABLE, type AccessRule } from './access-table.js';
import type { FieldStep } from './request-fields.js';

export interface CompiledRule extends AccessRule {
  readonly collectionSteps: readonly FieldStep[] | null;
  readonly lookupSteps: readonly (readonly FieldStep[])[];
}

export function compileRules(api: QdrantApi): ReadonlyMap<string, CompiledRule> {
  const rules = new Map<string, CompiledRule>();
  for (const rule of ACCESS_TABLE) {
    const method = api.methods.get(rule.path);
    if (!method) continue; // not served by this API version
    const requestType = method.request?.typeName;
    const resolve = (path: string): FieldStep[] => {
      if (!requestType) throw new Error(`access table: ${rule.path} has lookups but no request descriptor`);
      return resolvePath(api, requestType, path, rule.path);
    };
    let collectionSteps: FieldStep[] | null = null;
    if (rule.collection) {
      collectionSteps = requestType
        ? resolve(rule.collection.field)
        : [{ number: rule.collection.number, recursive: false }];
    }
    if (rule.filter && !method.response) throw new Error(`access table: ${rule.path} filters its reply but has no response descriptor`);
    rules.set(rule.path, Object.freeze({ ...rule, collectionSteps, lookupSteps: (rule.lookups ?? []).map(resolve) }));
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
