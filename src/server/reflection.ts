// Server reflection (grpc.reflection.v1 and v1alpha) for grpcurl, ghz and friends, listing Qdrant's
// services and grpc.health.v1. Like Qdrant, it needs a valid credential but no particular access.
//
// Built on the first reflection call, not at start-up: most deployments never use it, and its index
// of decoded descriptors (two copies, one per protocol version) would otherwise sit in every
// proxy's memory.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { ProxyError } from '../errors.js';
import type { Logger } from '../log/logger.js';

type Handler = grpc.handleBidiStreamingCall<unknown, unknown>;
type Admit = (call: grpc.ServerDuplexStream<unknown, unknown>) => Promise<void>;

export function addReflection(server: grpc.Server, qdrant: protoLoader.PackageDefinition, admit: Admit, logger: Logger): void {
  let handlers: Map<string, Handler> | null = null;
  const handlerFor = (path: string): Handler | undefined => {
    handlers ??= reflectionHandlers(qdrant);
    return handlers.get(path);
  };
  // Registering needs only the reflection services' own definitions: a service over no files is cheap.
  new ReflectionService({}).addToServer({
    addService: (service) => {
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const [name, method] of Object.entries(service)) {
        implementation[name] = guard((call) => {
          // Built here on first use: a failure must answer this call, not escape as an unhandled rejection.
          let handler: Handler | undefined;
          try {
            handler = handlerFor(method.path);
          } catch (err) {
            logger.error({ err }, 'server reflection could not be built');
          }
          if (handler) handler(call);
          else call.emit('error', new ProxyError('internal').toStatus());
        }, admit);
      }
      server.addService(service, implementation);
    },
  });
}

/** The real reflection handlers by method path, over Qdrant's and the health service's files. */
function reflectionHandlers(qdrant: protoLoader.PackageDefinition): Map<string, Handler> {
  const health = protoLoader.loadSync(healthProtoPath, { keepCase: true });
  const handlers = new Map<string, Handler>();
  new ReflectionService(withDistinctFiles({ ...qdrant, ...health })).addToServer({
    addService: (service, implementation) => {
      for (const [name, method] of Object.entries(service)) handlers.set(method.path, implementation[name] as Handler);
    },
  });
  return handlers;
}

/**
 * proto-loader gives every type of a package the same list of file descriptors, and the reflection
 * library decodes that list once per type (285 times for Qdrant's API: over a second of CPU).
 * One entry carrying each distinct file once is all it reads.
 */
function withDistinctFiles(definition: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const files = new Set<Buffer>();
  let carrier: protoLoader.MessageTypeDefinition<object, object> | null = null;
  for (const entry of Object.values(definition)) {
    if (!('fileDescriptorProtos' in entry) || !Array.isArray(entry.fileDescriptorProtos)) continue;
    carrier ??= entry as protoLoader.MessageTypeDefinition<object, object>;
    for (const file of entry.fileDescriptorProtos) files.add(file);
  }
  return carrier ? { files: { ...carrier, fileDescriptorProtos: [...files] } } : {};
}

/** Runs the reflection handler only after the call's credential is admitted. */
function guard(handler: Handler, admit: Admit): Handler {
  return (call) => {
    admit(call).then(
      () => handler(call),
      (err: unknown) => {
        const status = err instanceof ProxyError ? err.toStatus() : new ProxyError('internal').toStatus();
        call.emit('error', status);
      },
    );
  };
}
