// The forwarding hop's contract, whichever transport carries it (h2-forwarder.ts: node:http2 carrying
// the gRPC frames itself; grpcjs-forwarder.ts: grpc-js's client). Request bytes go upstream unchanged;
// reply frames come back through a sink as they arrive, with the client's flow control.
import type { OutgoingHttpHeaders } from 'node:http2';
import type { RequestMetadata } from '../grpc/metadata.js';
import type { GrpcStatus } from '../grpc/status.js';

export interface CancelSignal {
  readonly cancelled: boolean;
  /** Runs `listener` once when cancelled; returns a function that removes it. */
  onCancel(listener: () => void): () => void;
}

export interface ForwardCall {
  /** `/package.Service/Method` */
  readonly path: string;
  readonly kind: 'unary' | 'server_stream';
  /** The request message, uncompressed. */
  readonly message: Buffer;
  /** The caller's metadata (credentials are removed on the way); null for the proxy's own calls. */
  readonly metadata: RequestMetadata | null;
  /** Epoch ms; Infinity when the caller set none (limits.max_call_timeout_ms still applies). */
  readonly deadline: number;
  readonly signal: CancelSignal | null;
}

export interface ReplySink {
  /** The upstream's response headers (already filtered for the client), before any message. */
  sendHeaders(headers: OutgoingHttpHeaders): void;
  /** gRPC-framed reply bytes as the upstream sent them; false means wait for `onDrain`. */
  write(framed: Buffer): boolean;
  onDrain(listener: () => void): void;
}

/** How a forwarded call ended. */
export interface UpstreamOutcome {
  /** Trailers already filtered for the client. */
  readonly status: GrpcStatus;
  /** `upstream`: Qdrant sent this status. `local`: the proxy's side of the hop ended the call. */
  readonly origin: 'upstream' | 'local';
  /** For local outcomes: what happened, for the log (never shown to the client). */
  readonly detail?: string;
}

export interface Forwarder {
  forward(call: ForwardCall, sink: ReplySink): Promise<UpstreamOutcome>;
  /** New connections from now on (e.g. after the client certificate was reloaded). */
  reconnect(): void;
  close(): void;
}

export function localOutcome(code: GrpcStatus['code'], detail: string): UpstreamOutcome {
  return { status: { code, details: '' }, origin: 'local', detail };
}
