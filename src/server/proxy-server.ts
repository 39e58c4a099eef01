// The gRPC server clients connect to: every method of Qdrant's loaded API, each run through the call
// pipeline (src/chain/call-pipeline.ts) and forwarded upstream as raw bytes.
import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import type { ApiMethod, QdrantApi } from '../api/qdrant-api.js';
import { admit, finishReply, type Admitted } from '../chain/call-pipeline.js';
import type { Config } from '../config/schema.js';
import type { Engine } from '../engine.js';
import { ProxyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Forwarder } from '../upstream/forward.js';
import type { ClientStatus } from '../upstream/upstream-errors.js';
import { createServerCredentials } from './server-credentials.js';

const identity = (b: Buffer): Buffer => b;

export interface ProxyServerDeps {
  readonly api: QdrantApi;
  readonly forwarder: Forwarder;
  readonly logger: Logger;
}

export class ProxyServer {
  private readonly server: grpc.Server;

  constructor(
    private engine: Engine,
    private readonly deps: ProxyServerDeps,
  ) {
    const max = engine.config.limits.max_message_bytes;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
    });
    for (const method of deps.api.methods.values()) this.register(method);
  }

  /** Swaps in a new engine; calls already admitted finish under the old one. */
  setEngine(engine: Engine): void {
    this.engine = engine;
  }

  async listen(config: Readonly<Config> = this.engine.config): Promise<number> {
    const { host, grpc_port } = config.service;
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${grpc_port}` : `${host}:${grpc_port}`;
    return new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, createServerCredentials(config), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** Stops accepting calls, lets in-flight calls finish for up to `drainMs`, then cancels the rest. */
  shutdown(drainMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.deps.logger.warn({ drainMs }, 'drain timeout reached; cancelling remaining calls');
        this.server.forceShutdown();
        resolve();
      }, drainMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private register(method: ApiMethod): void {
    switch (method.kind) {
      case 'unary':
        this.server.register(method.path, this.unaryHandler(method), identity, identity, 'unary');
        return;
      case 'server_stream':
        this.server.register(method.path, this.serverStreamHandler(method), identity, identity, 'serverStream');
        return;
      default:
        // Qdrant's public API has no client or bidi streaming method; one from user-supplied protos is
        // not served (clients get UNIMPLEMENTED) rather than half-supported.
        this.deps.logger.warn({ path: method.path, kind: method.kind }, 'method kind not supported; not served');
    }
  }

  private unaryHandler(method: ApiMethod): grpc.handleUnaryCall<Buffer, Buffer> {
    const { forwarder } = this.deps;
    const path = method.path;
    return (call, callback) => {
      const engine = this.engine;
      let admitted: Admitted;
      admit(engine, path, call.metadata, call.request)
        .then((a) => {
          admitted = a;
          if (call.cancelled) return null;
          return forwarder.unary(path, call.request, call.metadata, call, { onHeaders: (h) => call.sendMetadata(h) });
        })
        .then((reply) => {
          if (!reply) return;
          this.noteSanitized(path, reply.status);
          if (reply.status.code !== Status.OK) return callback(toServiceError(reply.status));
          callback(null, finishReply(engine, path, admitted, reply.message!), reply.status.metadata);
        })
        .catch((err: unknown) => callback(this.denial(path, err)));
    };
  }

  private serverStreamHandler(method: ApiMethod): grpc.handleServerStreamingCall<Buffer, Buffer> {
    const { forwarder } = this.deps;
    const path = method.path;
    return (call) => {
      admit(this.engine, path, call.metadata, call.request)
        .then(() => {
          if (call.cancelled) return null;
          return forwarder.serverStream(path, call.request, call, { onHeaders: (h) => call.sendMetadata(h) });
        })
        .then((status) => {
          if (!status) return;
          this.noteSanitized(path, status);
          if (status.code === Status.OK) call.end(status.metadata);
          else call.emit('error', toServiceError(status));
        })
        .catch((err: unknown) => call.emit('error', this.denial(path, err)));
    };
  }

  private noteSanitized(path: string, status: ClientStatus): void {
    if (status.sanitized) this.deps.logger.warn({ path, code: status.code, upstream: status.original }, 'upstream call failed');
  }

  /** A ProxyError becomes its catalogued status; anything else is logged and becomes INTERNAL. */
  private denial(path: string, err: unknown): grpc.StatusObject {
    if (err instanceof ProxyError) return err.toStatus();
    this.deps.logger.error({ path, err }, 'unexpected error in call handler');
    return new ProxyError('internal').toStatus();
  }
}

function toServiceError(status: ClientStatus): Partial<grpc.StatusObject> {
  return { code: status.code, details: status.details, metadata: status.metadata };
}
