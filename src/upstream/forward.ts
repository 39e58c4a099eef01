// The forwarding hop: a call's request bytes go to the upstream unchanged, and the upstream's headers,
// messages, trailers and status come back unchanged. Two transports implement it, chosen with
// `upstream.transport` (see BENCHMARKS.md): grpc-js's client (here) and a raw node:http2 session
// carrying the gRPC frames itself (h2-forwarder.ts).
import type * as grpc from '@grpc/grpc-js';
import { Metadata, status as Status, type ServerUnaryCall, type StatusObject } from '@grpc/grpc-js';
import { clientResponseHeaders, upstreamRequestMetadata } from './outgoing-metadata.js';
import { clientStatusFromUpstream, type ClientStatus } from './upstream-errors.js';

const identity = (b: Buffer): Buffer => b;

export interface UnaryReply {
  readonly status: ClientStatus;
  /** Present when status is OK. */
  readonly message: Buffer | null;
}

export interface ForwardHooks {
  /** Response headers arrived; send them to the client. */
  onHeaders(headers: Metadata): void;
}

export interface Forwarder {
  /** Sends one unary call upstream; resolves with the reply and the upstream's final status. */
  unary(path: string, request: Buffer, incoming: Metadata, parent: ServerUnaryCall<Buffer, Buffer>, hooks: ForwardHooks): Promise<UnaryReply>;
  /** Streams a server-streaming call's messages to `out`, honouring the client's flow control. */
  serverStream(path: string, request: Buffer, out: grpc.ServerWritableStream<Buffer, Buffer>, hooks: ForwardHooks): Promise<ClientStatus>;
  /** A call of the proxy's own (value_exists look-ups, health probe): upstream credential only, own deadline. */
  ownCall(path: string, request: Buffer, timeoutMs: number): Promise<UnaryReply>;
  close(): void;
}

/** grpc-js client: identity serializers; deadline and cancellation through the `parent` call option. */
export class GrpcJsForwarder implements Forwarder {
  /** `maxCallTimeoutMs` caps every upstream call's deadline (0: only the client's deadline applies). */
  constructor(
    private readonly client: grpc.Client,
    private readonly upstreamApiKey: string | null,
    private readonly maxCallTimeoutMs = 0,
  ) {}

  close(): void {
    this.client.close();
  }

  /** grpc-js uses the earlier of this deadline and the parent call's. */
  private options(parent: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>): grpc.CallOptions {
    return this.maxCallTimeoutMs > 0 ? { parent, deadline: Date.now() + this.maxCallTimeoutMs } : { parent };
  }

  unary(path: string, request: Buffer, incoming: Metadata, parent: ServerUnaryCall<Buffer, Buffer>, hooks: ForwardHooks): Promise<UnaryReply> {
    return this.call(path, request, upstreamRequestMetadata(incoming, this.upstreamApiKey), this.options(parent), hooks);
  }

  ownCall(path: string, request: Buffer, timeoutMs: number): Promise<UnaryReply> {
    return this.call(path, request, upstreamRequestMetadata(new Metadata(), this.upstreamApiKey), { deadline: Date.now() + timeoutMs }, null);
  }

  private call(path: string, request: Buffer, metadata: Metadata, options: grpc.CallOptions, hooks: ForwardHooks | null): Promise<UnaryReply> {
    return new Promise((resolve) => {
      let message: Buffer | null = null;
      const call = this.client.makeUnaryRequest(path, identity, identity, request, metadata, options, (_err, value) => {
        // grpc-js calls this just before it emits 'status', which carries the trailers.
        message = value ?? null;
      });
      if (hooks) call.on('metadata', (headers) => hooks.onHeaders(clientResponseHeaders(headers)));
      call.on('status', (status: StatusObject) => {
        const clientStatus = clientStatusFromUpstream(status);
        resolve({ status: clientStatus, message: clientStatus.code === Status.OK ? message : null });
      });
    });
  }

  serverStream(
    path: string,
    request: Buffer,
    out: grpc.ServerWritableStream<Buffer, Buffer>,
    hooks: ForwardHooks,
  ): Promise<ClientStatus> {
    return new Promise((resolve) => {
      const call = this.client.makeServerStreamRequest(
        path,
        identity,
        identity,
        request,
        upstreamRequestMetadata(out.metadata, this.upstreamApiKey),
        this.options(out),
      );
      call.on('metadata', (headers) => hooks.onHeaders(clientResponseHeaders(headers)));
      call.on('data', (chunk: Buffer) => {
        if (!out.write(chunk)) {
          call.pause();
          out.once('drain', () => call.resume());
        }
      });
      // Errors also arrive as 'status'; the listener keeps 'error' from being thrown.
      call.on('error', () => undefined);
      call.on('status', (status: StatusObject) => resolve(clientStatusFromUpstream(status)));
    });
  }
}
