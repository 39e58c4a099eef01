// Qdrant's gRPC API as loaded at start-up: every method its descriptors describe, with its streaming
// kind and the codecs of its messages, and the descriptor files themselves (for server reflection).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { readFields } from '../grpc/protobuf.js';

export type MethodKind = 'unary' | 'server_stream';

export interface MessageCodec {
  readonly encode: (value: object) => Buffer;
  readonly decode: (bytes: Buffer) => Record<string, unknown>;
}

export interface ApiMethod {
  /** `/package.Service/Method` */
  readonly path: string;
  readonly kind: MethodKind | 'client_stream' | 'bidi_stream';
  /** Present when the loaded protos describe the method; absent for methods forwarded as raw bytes. */
  readonly request?: MessageCodec & { readonly typeName: string };
  readonly response?: MessageCodec & { readonly typeName: string };
}

export interface QdrantApi {
  readonly source: string;
  readonly methods: ReadonlyMap<string, ApiMethod>;
  /** Field descriptors of a message type, by fully qualified name (e.g. `qdrant.QueryPoints`). */
  readonly messageFields: (typeName: string) => readonly FieldInfo[] | undefined;
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** Serialized FileDescriptorProtos, each once, as compiled (read on first use). */
  readonly descriptorFiles: () => readonly Buffer[];
}

export interface FieldInfo {
  readonly name: string;
  readonly number: number;
  /** Fully qualified message type name for message fields, without the leading dot. */
  readonly messageType?: string;
}

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
  json: true,
};

const here = dirname(fileURLToPath(import.meta.url));
export const BUNDLED_DESCRIPTORS = join(here, '..', '..', 'proto', 'qdrant-api.binpb');
/** grpc.health.v1 (Check and Watch, as the proxy serves them), for reflection. */
export const HEALTH_DESCRIPTORS = join(here, '..', '..', 'proto', 'grpc-health.binpb');

/** Loads the bundled descriptors, or every .proto file under `protoDir` when one is given. */
export function loadQdrantApi(protoDir?: string): QdrantApi {
  let packageDefinition: protoLoader.PackageDefinition;
  let source: string;
  if (protoDir) {
    const files = listProtoFiles(protoDir);
    if (files.length === 0) throw new Error(`api.proto_dir: no .proto files under ${protoDir}`);
    packageDefinition = protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs: [protoDir] });
    source = protoDir;
    const definition = packageDefinition;
    return buildApi(definition, source, () => [...loadedFiles(definition), ...setFiles(readFileSync(HEALTH_DESCRIPTORS))]);
  } else {
    let bytes: Buffer;
    try {
      bytes = readFileSync(BUNDLED_DESCRIPTORS);
    } catch {
      throw new Error(`missing ${BUNDLED_DESCRIPTORS}: run \`npm run build\` (it generates Qdrant's descriptors)`);
    }
    packageDefinition = protoLoader.loadFileDescriptorSetFromBuffer(bytes, LOADER_OPTIONS);
    source = 'bundled @qdrant/js-client-grpc descriptors';
    return buildApi(packageDefinition, source, () => [...setFiles(bytes), ...setFiles(readFileSync(HEALTH_DESCRIPTORS))]);
  }
}

/** The files of a serialized FileDescriptorSet (field 1, repeated), untouched. */
function setFiles(set: Buffer): Buffer[] {
  return readFields(set)
    .filter((f) => f.number === 1 && f.bytes)
    .map((f) => f.bytes!);
}

/** The files proto-loader compiled from a proto directory, each once. */
function loadedFiles(definition: protoLoader.PackageDefinition): Buffer[] {
  const files = new Set<Buffer>();
  for (const entry of Object.values(definition)) {
    const protos = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    if (Array.isArray(protos)) for (const file of protos) files.add(file);
  }
  return [...files];
}

function buildApi(packageDefinition: protoLoader.PackageDefinition, source: string, descriptorFiles: () => readonly Buffer[]): QdrantApi {
  const methods = new Map<string, ApiMethod>();
  for (const entry of Object.values(packageDefinition)) {
    if (isMessageOrEnum(entry)) continue;
    for (const def of Object.values(entry as protoLoader.ServiceDefinition)) {
      methods.set(def.path, {
        path: def.path,
        kind: kindOf(def.requestStream, def.responseStream),
        request: {
          typeName: typeNameOf(def.requestType, def.path, packageDefinition),
          encode: (value) => def.requestSerialize(value),
          decode: (bytes) => def.requestDeserialize(bytes) as Record<string, unknown>,
        },
        response: {
          typeName: typeNameOf(def.responseType, def.path, packageDefinition),
          encode: (value) => def.responseSerialize(value),
          decode: (bytes) => def.responseDeserialize(bytes) as Record<string, unknown>,
        },
      });
    }
  }
  const fieldCache = new Map<string, readonly FieldInfo[]>();
  const messageFields = (typeName: string): readonly FieldInfo[] | undefined => {
    const cached = fieldCache.get(typeName);
    if (cached) return cached;
    const entry = packageDefinition[typeName];
    if (!entry || !isMessageOrEnum(entry) || entry.format !== 'Protocol Buffer 3 DescriptorProto') return undefined;
    const fields = ((entry.type as { field?: RawField[] }).field ?? []).map((f) => ({
      name: f.name,
      number: f.number,
      ...(f.typeName ? { messageType: resolveTypeName(f.typeName, typeName, packageDefinition) } : {}),
    }));
    fieldCache.set(typeName, fields);
    return fields;
  };
  let files: readonly Buffer[] | null = null;
  return { source, methods, messageFields, packageDefinition, descriptorFiles: () => (files ??= descriptorFiles()) };
}

/** Protobuf scoping: a relative type name is looked up from the innermost enclosing scope outwards. */
function resolveTypeName(name: string, from: string, all: protoLoader.PackageDefinition): string {
  if (name.startsWith('.')) return name.slice(1);
  const scope = from.split('.');
  for (let i = scope.length; i >= 0; i--) {
    const candidate = [...scope.slice(0, i), name].join('.');
    if (all[candidate]) return candidate;
  }
  return name;
}

interface RawField {
  name: string;
  number: number;
  typeName?: string;
}

function isMessageOrEnum(entry: unknown): entry is protoLoader.MessageTypeDefinition<object, object> {
  return typeof (entry as { format?: unknown }).format === 'string';
}

/** Fully qualified name of a method's message type: the service's package first, else a unique match. */
function typeNameOf(def: protoLoader.MessageTypeDefinition<object, object>, methodPath: string, all: protoLoader.PackageDefinition): string {
  const shortName = String((def.type as { name?: string }).name);
  const servicePackage = methodPath.slice(1, methodPath.lastIndexOf('.', methodPath.indexOf('/', 1)));
  if (all[`${servicePackage}.${shortName}`]) return `${servicePackage}.${shortName}`;
  const matches = Object.keys(all).filter((k) => k === shortName || k.endsWith(`.${shortName}`));
  return matches.length === 1 ? matches[0]! : shortName;
}

function kindOf(requestStream: boolean, responseStream: boolean): ApiMethod['kind'] {
  if (requestStream && responseStream) return 'bidi_stream';
  if (requestStream) return 'client_stream';
  if (responseStream) return 'server_stream';
  return 'unary';
}

function listProtoFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.proto')) out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}
