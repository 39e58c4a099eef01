// The gRPC server clients connect to: every method of Qdrant's loaded API, each handled by the
// call pipeline and forwarded upstream as raw bytes.
import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import type { ApiMethod, QdrantApi } from '../api/qdrant-api.js';
import type { Config } from '../config/schema.js';
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
  private port = 0;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly deps: ProxyServerDeps,
  ) {
    const max = config.limits.max_message_bytes;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
    });
    for (const method of deps.api.methods.values()) this.register(method);
  }

  async listen(): Promise<number> {
    const { host, grpc_port } = this.config.service;
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${grpc_port}` : `${host}:${grpc_port}`;
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, createServerCredentials(this.config), (err, port) => (err ? reject(err) : resolve(port))),
    );
    return this.port;
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
    return (call, callback) => {
      forwarder
        .unary(method.path, call.request, call.metadata, call, { onHeaders: (h) => call.sendMetadata(h) })
        .then((reply) => {
          this.noteSanitized(method.path, reply.status);
          if (reply.status.code === Status.OK) callback(null, reply.message, reply.status.metadata);
          else callback(toServiceError(reply.status));
        })
        .catch((err: unknown) => this.internalError(method.path, err, (e) => callback(e)));
    };
  }

  private serverStreamHandler(method: ApiMethod): grpc.handleServerStreamingCall<Buffer, Buffer> {
    const { forwarder } = this.deps;
    return (call) => {
      forwarder
        .serverStream(method.path, call.request, call, { onHeaders: (h) => call.sendMetadata(h) })
        .then((status) => {
          this.noteSanitized(method.path, status);
          if (status.code === Status.OK) call.end(status.metadata);
          else call.emit('error', toServiceError(status));
        })
        .catch((err: unknown) => this.internalError(method.path, err, (e) => call.emit('error', e)));
    };
  }

  private noteSanitized(path: string, status: ClientStatus): void {
    if (status.sanitized) this.deps.logger.warn({ path, code: status.code, upstream: status.original }, 'upstream call failed');
  }

  private internalError(path: string, err: unknown, send: (e: Partial<grpc.StatusObject>) => void): void {
    this.deps.logger.error({ path, err }, 'unexpected error in call handler');
    send({ code: Status.INTERNAL, details: 'internal proxy error' });
  }
}

function toServiceError(status: ClientStatus): Partial<grpc.StatusObject> {
  return { code: status.code, details: status.details, metadata: status.metadata };
}
