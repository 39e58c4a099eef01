// Stand-in upstream: an in-memory gRPC server that imitates enough of Qdrant 1.19's gRPC API for the
// proxy's tests, demo and benchmarks. It is NOT Qdrant: no indexing, persistence, clustering or
// snapshots; brute-force search over dense vectors; unsupported features are refused or ignored.
//
// Every method of the loaded API is registered with identity (Buffer) serializers, so each call is
// recorded as raw bytes and a test can replace any method's behaviour with `override`.
import * as grpc from '@grpc/grpc-js';
import { servedApi } from '../access/compile-rules.js';
import { type ApiMethod, loadQdrantApi, type QdrantApi } from '../api/qdrant-api.js';
import { RAW_REPLIES, STANDIN_HANDLERS } from './standin-handlers.js';
import { StandinError } from './standin-messages.js';
import { StandinStore } from './standin-store.js';

export interface StandinOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer /* when set, client certs are required (mutual TLS) */ };
}

export interface RecordedCall {
  path: string;
  metadata: grpc.Metadata;
  request: Buffer;
  /** The caller's address and port: one per connection. */
  peer: string;
}

export interface Standin {
  port: number;
  /** Every call received, in order. */
  calls: RecordedCall[];
  /** Replaces one method's behaviour (raw Buffer in/out); null restores the default. */
  override(path: string, handler: grpc.UntypedHandleCall | null): void;
  /** The in-memory data, for tests that seed or inspect it directly. */
  readonly store: StandinStore;
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
const identity = (b: Buffer): Buffer => b;

interface Context {
  readonly api: QdrantApi;
  readonly store: StandinStore;
  readonly calls: RecordedCall[];
  readonly overrides: Map<string, grpc.UntypedHandleCall>;
}

export async function startStandin(opts: StandinOptions = {}): Promise<Standin> {
  const ctx: Context = { api: servedApi(loadQdrantApi()), store: new StandinStore(), calls: [], overrides: new Map() };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  for (const method of ctx.api.methods.values()) register(server, method, ctx);
  const host = opts.host ?? '127.0.0.1';
  const address = `${host.includes(':') ? `[${host}]` : host}:${opts.port ?? 0}`;
  const port = await bind(server, address, credentials(opts.tls));
  return {
    port,
    calls: ctx.calls,
    store: ctx.store,
    override(path, handler) {
      if (handler) ctx.overrides.set(path, handler);
      else ctx.overrides.delete(path);
    },
    close: async () => server.forceShutdown(),
  };
}

function credentials(tls: StandinOptions['tls']): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined);
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

function register(server: grpc.Server, method: ApiMethod, ctx: Context): void {
  if (method.kind === 'unary') {
    server.register(method.path, unaryHandler(method, ctx), identity, identity, 'unary');
  } else if (method.kind === 'server_stream') {
    server.register(method.path, streamHandler(method, ctx), identity, identity, 'serverStream');
  }
  // Qdrant has no client-streaming or bidi methods; none are registered.
}

function record(ctx: Context, path: string, call: { metadata: grpc.Metadata; request: Buffer; getPeer(): string }): void {
  ctx.calls.push({ path, metadata: call.metadata, request: call.request, peer: call.getPeer() });
}

function unaryHandler(method: ApiMethod, ctx: Context): grpc.handleUnaryCall<Buffer, Buffer> {
  return (call, callback) => {
    record(ctx, method.path, call);
    const override = ctx.overrides.get(method.path);
    if (override) return (override as grpc.handleUnaryCall<Buffer, Buffer>)(call, callback);
    try {
      callback(null, defaultReply(method, call.request, ctx));
    } catch (err) {
      callback(serviceError(err));
    }
  };
}

/** Server-streaming methods (StorageRead/ReadBytesStream): by default, end with no messages. */
function streamHandler(method: ApiMethod, ctx: Context): grpc.handleServerStreamingCall<Buffer, Buffer> {
  return (call) => {
    record(ctx, method.path, call);
    const override = ctx.overrides.get(method.path);
    if (override) return (override as grpc.handleServerStreamingCall<Buffer, Buffer>)(call);
    call.end();
  };
}

/** The stand-in's own answer: a handler's reply, or `{}` of the response type, or raw bytes. */
function defaultReply(method: ApiMethod, request: Buffer, ctx: Context): Buffer {
  if (!method.request || !method.response) return RAW_REPLIES.get(method.path) ?? Buffer.alloc(0);
  const started = performance.now();
  const decoded = decode(method, request);
  const handler = STANDIN_HANDLERS.get(method.path);
  const reply: Record<string, unknown> = { ...(handler ? handler(decoded, ctx.store) : {}) };
  if (hasTimeField(ctx.api, method.response.typeName)) reply.time = (performance.now() - started) / 1000;
  return method.response.encode(reply);
}

function decode(method: ApiMethod, request: Buffer): Record<string, unknown> {
  try {
    return method.request!.decode(request);
  } catch (err) {
    throw new StandinError(grpc.status.INVALID_ARGUMENT, `cannot decode ${method.request!.typeName}: ${(err as Error).message}`);
  }
}

const hasTimeField = (api: QdrantApi, typeName: string): boolean => api.messageFields(typeName)?.some((f) => f.name === 'time') ?? false;

function serviceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof StandinError) return { code: err.code, details: err.message };
  return { code: grpc.status.INTERNAL, details: `stand-in upstream: ${(err as Error).message ?? String(err)}` };
}
