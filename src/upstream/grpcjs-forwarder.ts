// The forwarding hop on grpc-js's client (`upstream.transport: grpc-js`): identity serializers, so
// the request and reply messages stay bytes. grpc-js gives whole messages, which are framed again for
// the client. A status counts as Qdrant's when a response arrived (headers, or a trailers-only
// answer, which carries content-type); otherwise grpc-js made it up locally.

import type { OutgoingHttpHeaders } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { frame } from '../grpc/framing.js';
import { type GrpcStatus, Status } from '../grpc/status.js';
import type { ForwardCall, Forwarder, ReplySink, UpstreamOutcome } from './forwarder.js';
import { grpcJs } from './grpc-js.js';
import { clientHeaders, upstreamHeaders } from './outgoing-metadata.js';

const identity = (b: Buffer): Buffer => b;

export class GrpcJsForwarder implements Forwarder {
  /** `maxCallTimeoutMs` caps every upstream call's deadline (0: only the caller's deadline applies). */
  constructor(
    private readonly client: grpc.Client,
    private readonly upstreamApiKey: string | null,
    private readonly maxCallTimeoutMs: number,
  ) {}

  /** grpc-js applies reloaded certificates to new connections itself (they come from a CertificateProvider). */
  reconnect(): void {}

  close(): void {
    this.client.close();
  }

  forward(call: ForwardCall, sink: ReplySink): Promise<UpstreamOutcome> {
    const ceiling = this.maxCallTimeoutMs > 0 ? Date.now() + this.maxCallTimeoutMs : Infinity;
    const deadline = Math.min(call.deadline, ceiling);
    const options: grpc.CallOptions = Number.isFinite(deadline) ? { deadline } : {};
    const metadata = toMetadata(upstreamHeaders(call.metadata, this.upstreamApiKey));
    return new Promise((resolve) => {
      let removeCancel = () => undefined as unknown;
      let responded = false;
      let message: Buffer | null = null;
      const onHeaders = (headers: grpc.Metadata) => {
        responded = true;
        sink.sendHeaders(clientHeaders(rawOf(headers)));
      };
      const finish = (status: grpc.StatusObject) => {
        removeCancel();
        const fromUpstream = responded || status.metadata.get('content-type').length > 0;
        if (fromUpstream && status.code === (Status.OK as number) && message) sink.write(frame(message));
        const trailers = clientHeaders(rawOf(status.metadata)) as GrpcStatus['trailers'];
        if (fromUpstream)
          return resolve({ status: { code: status.code as number as Status, details: status.details, ...(trailers ? { trailers } : {}) }, origin: 'upstream' });
        // grpc-js reports a call it lost with its connection as CANCELLED too: only the client cancels.
        const code: Status = status.code === (Status.CANCELLED as number) && !call.signal?.cancelled ? Status.UNAVAILABLE : (status.code as number as Status);
        resolve({ status: { code, details: '' }, origin: 'local', detail: status.details });
      };
      let upstream: grpc.ClientUnaryCall | grpc.ClientReadableStream<Buffer>;
      if (call.kind === 'unary') {
        upstream = this.client.makeUnaryRequest(call.path, identity, identity, call.message, metadata, options, (_err, value) => {
          message = value ?? null; // called just before 'status', which carries the trailers
        });
      } else {
        const stream = this.client.makeServerStreamRequest(call.path, identity, identity, call.message, metadata, options);
        stream.on('data', (chunk: Buffer) => {
          if (!sink.write(frame(chunk))) {
            stream.pause();
            sink.onDrain(() => stream.resume());
          }
        });
        stream.on('error', () => undefined); // errors also arrive as 'status'
        upstream = stream;
      }
      upstream.on('metadata', onHeaders);
      upstream.on('status', finish);
      if (call.signal) removeCancel = call.signal.onCancel(() => upstream.cancel());
    });
  }
}

/** Outgoing headers as grpc-js metadata (`-bin` values travel base64-encoded and are decoded here). */
function toMetadata(headers: OutgoingHttpHeaders): grpc.Metadata {
  const metadata = new (grpcJs().Metadata)();
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [String(value)]) {
      if (name.endsWith('-bin')) for (const part of v.split(',')) metadata.add(name, Buffer.from(part.trim(), 'base64'));
      else metadata.add(name, v);
    }
  }
  return metadata;
}

/** grpc-js metadata as a raw header list (binary values base64-encoded, as on the wire). */
function rawOf(metadata: grpc.Metadata): string[] {
  const raw: string[] = [];
  for (const [name, values] of Object.entries(metadata.toJSON())) {
    for (const v of values) raw.push(name, typeof v === 'string' ? v : v.toString('base64'));
  }
  return raw;
}
