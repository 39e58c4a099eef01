// Server reflection (grpc.reflection.v1 and v1alpha) for grpcurl, ghz and friends, listing Qdrant's
// services and grpc.health.v1. Like Qdrant, it needs a valid credential but no particular access.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { ProxyError } from '../errors.js';

export function addReflection(
  server: grpc.Server,
  qdrant: protoLoader.PackageDefinition,
  admit: (call: grpc.ServerDuplexStream<unknown, unknown>) => Promise<void>,
): void {
  const health = protoLoader.loadSync(healthProtoPath, { keepCase: true });
  const reflection = new ReflectionService({ ...qdrant, ...health });
  reflection.addToServer({
    addService: (service, implementation) => {
      const guarded: grpc.UntypedServiceImplementation = {};
      for (const [name, handler] of Object.entries(implementation)) guarded[name] = guard(handler as grpc.handleBidiStreamingCall<unknown, unknown>, admit);
      server.addService(service, guarded);
    },
  });
}

/** Runs the reflection handler only after the call's credential is admitted. */
function guard(
  handler: grpc.handleBidiStreamingCall<unknown, unknown>,
  admit: (call: grpc.ServerDuplexStream<unknown, unknown>) => Promise<void>,
): grpc.handleBidiStreamingCall<unknown, unknown> {
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
