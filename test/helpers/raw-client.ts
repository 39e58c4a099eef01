// A grpc-js client that calls any method path with raw bytes and reports the whole outcome:
// status, message, response headers and trailers.
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

export interface RawOutcome {
  code: grpc.status;
  details: string;
  reply: Buffer | null;
  headers: grpc.Metadata | null;
  trailers: grpc.Metadata;
}

export function rawClient(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): grpc.Client {
  return new grpc.Client(address, credentials, {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    ...options,
  });
}

export function rawUnary(
  client: grpc.Client,
  path: string,
  body: Buffer,
  metadata: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    let reply: Buffer | null = null;
    let headers: grpc.Metadata | null = null;
    const call = client.makeUnaryRequest(path, identity, identity, body, metadata, options, (_err, value) => {
      reply = value ?? null;
    });
    call.on('metadata', (h) => (headers = h));
    call.on('status', (s) => resolve({ code: s.code, details: s.details, reply, headers, trailers: s.metadata }));
  });
}

export function rawServerStream(
  client: grpc.Client,
  path: string,
  body: Buffer,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<RawOutcome & { messages: Buffer[] }> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    let headers: grpc.Metadata | null = null;
    const call = client.makeServerStreamRequest(path, identity, identity, body, metadata);
    call.on('metadata', (h) => (headers = h));
    call.on('data', (m: Buffer) => messages.push(m));
    call.on('error', () => undefined);
    call.on('status', (s) => resolve({ code: s.code, details: s.details, reply: null, headers, trailers: s.metadata, messages }));
  });
}

export function md(entries: Record<string, string | Buffer>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) m.add(k, v);
  return m;
}
