// Server reflection (grpc.reflection.v1 and v1alpha; one message layout) for grpcurl, ghz and friends.
// It serves the real descriptor files, each under its own name with its dependencies, exactly as
// they were compiled (not regenerated), so Go tooling resolves every import and well-known type.
// Like Qdrant, any valid credential may use it; no access rule applies. The symbol index is built on
// the first reflection request, not at start-up: most deployments never use reflection.
import { type Field, MessageWriter, readFields, stringField } from '../grpc/protobuf.js';
import { Status } from '../grpc/status.js';
import type { ClientCall } from './server-call.js';

export const REFLECTION_PATHS = ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'];

/** Requests on one reflection stream, and the size of each: reflection requests are small. */
const MAX_REQUESTS = 10_000;
const MAX_REQUEST_BYTES = 64 * 1024;

interface DescriptorFile {
  readonly name: string;
  readonly bytes: Buffer;
  readonly dependencies: readonly string[];
}

interface Index {
  readonly files: ReadonlyMap<string, DescriptorFile>;
  /** Fully qualified symbol (message, enum, service, method, field extension) → file name. */
  readonly symbols: ReadonlyMap<string, string>;
  /** Message types (for extension-number queries: none has extensions here). */
  readonly messages: ReadonlySet<string>;
  readonly services: readonly string[];
}

export class ReflectionService {
  private index: Index | null = null;

  /** `files`: serialized FileDescriptorProtos; `services`: the services to list (those the proxy serves). */
  constructor(
    private readonly files: () => readonly Buffer[],
    private readonly services: ReadonlySet<string>,
  ) {}

  /** Answers each request on the stream until the client half-closes. */
  async serve(call: ClientCall): Promise<void> {
    this.index ??= buildIndex(this.files(), this.services);
    const index = this.index;
    const sent = new Set<string>();
    await call.readMessages(MAX_REQUEST_BYTES, MAX_REQUESTS, (request) => {
      call.sendMessage(answer(index, request, sent));
    });
    call.end({ code: Status.OK, details: '' });
  }
}

function answer(index: Index, request: Buffer, sent: Set<string>): Buffer {
  const out = new MessageWriter();
  let fields: Field[];
  try {
    fields = readFields(request);
  } catch {
    return out.bytes(2, request).bytes(7, errorResponse(Status.INVALID_ARGUMENT, 'malformed reflection request')).finish();
  }
  out.string(1, stringField(fields, 1)).bytes(2, request);
  const ask = fields.find((f) => f.number >= 3 && f.number <= 7);
  const text = ask?.bytes?.toString('utf8') ?? '';
  switch (ask?.number) {
    case 3: // file_by_filename
      return withFile(out, index, index.files.has(text) ? text : null, sent, `file not found: ${text}`);
    case 4: // file_containing_symbol
      return withFile(out, index, index.symbols.get(text) ?? null, sent, `symbol not found: ${text}`);
    case 5: // file_containing_extension: no extensions in these files
      return out.bytes(7, errorResponse(Status.NOT_FOUND, 'extension not found')).finish();
    case 6: // all_extension_numbers_of_type
      if (!index.messages.has(text)) return out.bytes(7, errorResponse(Status.NOT_FOUND, `type not found: ${text}`)).finish();
      return out.bytes(5, new MessageWriter().string(1, text).finish()).finish();
    case 7: {
      // list_services
      const list = new MessageWriter();
      for (const name of index.services) list.bytes(1, new MessageWriter().string(1, name).finish());
      return out.bytes(6, list.finish()).finish();
    }
    default:
      return out.bytes(7, errorResponse(Status.UNIMPLEMENTED, 'unknown reflection request')).finish();
  }
}

/** The file, and each of its dependencies not yet sent on this stream (as grpc-go's reflection does). */
function withFile(out: MessageWriter, index: Index, name: string | null, sent: Set<string>, notFound: string): Buffer {
  if (name === null) return out.bytes(7, errorResponse(Status.NOT_FOUND, notFound)).finish();
  const files = new MessageWriter();
  const visit = (file: string, requested: boolean) => {
    const entry = index.files.get(file);
    if (!entry || (!requested && sent.has(file))) return;
    sent.add(file);
    files.bytes(1, entry.bytes);
    for (const dep of entry.dependencies) visit(dep, false);
  };
  visit(name, true);
  return out.bytes(4, files.finish()).finish();
}

function errorResponse(code: Status, message: string): Buffer {
  return new MessageWriter().varint(1, code).string(2, message).finish();
}

/** The symbols each file defines (FileDescriptorProto: name 1, package 2, dependency 3, message_type 4, enum_type 5, service 6, extension 7). */
function buildIndex(serialized: readonly Buffer[], served: ReadonlySet<string>): Index {
  const files = new Map<string, DescriptorFile>();
  const symbols = new Map<string, string>();
  const messages = new Set<string>();
  const services: string[] = [];
  for (const bytes of serialized) {
    const fields = readFields(bytes);
    const name = stringField(fields, 1);
    if (files.has(name)) continue;
    const pkg = stringField(fields, 2);
    const prefix = pkg ? `${pkg}.` : '';
    files.set(name, { name, bytes, dependencies: fields.filter((f) => f.number === 3).map((f) => f.bytes!.toString('utf8')) });
    for (const f of fields) {
      if (!f.bytes) continue;
      if (f.number === 4) addMessage(f.bytes, prefix, name, symbols, messages);
      if (f.number === 5 || f.number === 7) symbols.set(prefix + stringField(readFields(f.bytes), 1), name);
      if (f.number === 6) {
        const service = readFields(f.bytes);
        const full = prefix + stringField(service, 1);
        symbols.set(full, name);
        for (const m of service) if (m.number === 2 && m.bytes) symbols.set(`${full}.${stringField(readFields(m.bytes), 1)}`, name);
        if (served.has(full)) services.push(full);
      }
    }
  }
  return { files, symbols, messages, services: services.sort() };
}

/** DescriptorProto: name 1, nested_type 3, enum_type 4, extension 6. */
function addMessage(bytes: Buffer, prefix: string, file: string, symbols: Map<string, string>, messages: Set<string>): void {
  const fields = readFields(bytes);
  const full = prefix + stringField(fields, 1);
  symbols.set(full, file);
  messages.add(full);
  for (const f of fields) {
    if (!f.bytes) continue;
    if (f.number === 3) addMessage(f.bytes, `${full}.`, file, symbols, messages);
    if (f.number === 4 || f.number === 6) symbols.set(`${full}.${stringField(readFields(f.bytes), 1)}`, file);
  }
}
