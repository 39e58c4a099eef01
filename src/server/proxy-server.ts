// The gRPC server clients connect to: every method of Qdrant's loaded API, each run through the call
// pipeline (src/chain/call-pipeline.ts) and forwarded upstream as raw bytes.
import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import type { ApiMethod, QdrantApi } from '../api/qdrant-api.js';
import { auditError, type AuditLog } from '../audit/audit-log.js';
import { admit, finishReply, identify, type Admitted, type Progress } from '../chain/call-pipeline.js';
import type { CompiledRule } from '../access/compile-rules.js';
import { stringsAt } from '../access/request-fields.js';
import type { Config } from '../config/schema.js';
import type { Engine } from '../engine.js';
import { ProxyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Forwarder } from '../upstream/forward.js';
import type { ClientStatus } from '../upstream/upstream-errors.js';
import { addReflection } from './reflection.js';
import type { ProxyMetrics } from '../ops/metrics.js';
import type { ServingState } from '../ops/serving-state.js';

const identity = (b: Buffer): Buffer => b;

type AuditedCall = { readonly metadata: grpc.Metadata; getDeadline(): grpc.Deadline };

function deadlinePassed(call: AuditedCall): boolean {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) && ms <= Date.now();
}

/**
 * The collections an audit record names. Global principals skip decoding on the call path; for the
 * record (as Qdrant's names the collection for every collection-scoped check) it is decoded here.
 */
function auditedCollections(admitted: Admitted, rule: CompiledRule | undefined, request: Buffer): readonly string[] {
  if (admitted.decision.collections.length > 0 || !rule?.collectionSteps) return admitted.decision.collections;
  try {
    return stringsAt(request, rule.collectionSteps);
  } catch {
    return [];
  }
}

export interface ProxyServerDeps {
  readonly api: QdrantApi;
  readonly forwarder: Forwarder;
  readonly logger: Logger;
  readonly audit: AuditLog;
  readonly metrics: ProxyMetrics;
  readonly state: ServingState;
}

/** Served by the proxy itself: its health reflects the upstream and draining (src/ops/serving-state.ts). */
const SERVED_LOCALLY = new Set(['/grpc.health.v1.Health/Check']);

/** What the audit record needs to know about a call, filled in as the call proceeds. */
interface CallState extends Progress {
  readonly path: string;
  /** The method's access-table row (the same in every engine: rules are compiled once per process). */
  readonly rule: CompiledRule | undefined;
  readonly started: number;
  readonly engine: Engine;
  readonly request: Buffer;
  /** Read when the call starts: by the time it is audited the client may have gone. */
  readonly peer: string;
  admitted: Admitted | null;
  /** When the call went upstream, and how long the upstream took (ms). */
  upstreamStarted: number;
  upstreamMs: number;
}

const newState = (path: string, engine: Engine, call: { readonly request: Buffer; getPeer(): string }, audited: boolean): CallState => ({
  path,
  rule: engine.rules.get(path),
  started: performance.now(),
  engine,
  request: call.request,
  peer: audited ? call.getPeer() : '',
  admitted: null,
  principal: null,
  upstreamStarted: 0,
  upstreamMs: 0,
});


export class ProxyServer {
  private readonly server: grpc.Server;

  constructor(
    private engine: Engine,
    private readonly deps: ProxyServerDeps,
  ) {
    const limits = engine.config.limits;
    const optional = (key: string, ms: number) => (ms > 0 ? { [key]: ms } : {});
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': limits.max_message_bytes,
      'grpc.max_send_message_length': limits.max_message_bytes,
      'grpc.max_concurrent_streams': limits.max_concurrent_streams,
      'grpc.keepalive_time_ms': limits.keepalive_time_ms,
      'grpc.keepalive_timeout_ms': limits.keepalive_timeout_ms,
      ...optional('grpc.max_connection_idle_ms', limits.max_connection_idle_ms),
      ...optional('grpc.max_connection_age_ms', limits.max_connection_age_ms),
      ...optional('grpc.max_connection_age_grace_ms', limits.max_connection_age_grace_ms),
    });
    for (const method of deps.api.methods.values()) {
      if (!SERVED_LOCALLY.has(method.path)) this.register(method);
    }
    // Like Qdrant, Check ignores the `service` field and answers for the whole server.
    deps.state.health.addToServer({
      addService: (service, implementation) =>
        this.server.addService(service, {
          ...implementation,
          Check: (_call: unknown, callback: grpc.sendUnaryData<{ status: string }>) =>
            callback(null, { status: deps.state.serving ? 'SERVING' : 'NOT_SERVING' }),
        }),
    });
    addReflection(this.server, deps.api.packageDefinition, (call) => this.admitReflection(call), deps.logger);
  }

  /** Reflection, as in Qdrant: any valid credential (and its value_exists claim), no RBAC. */
  private async admitReflection(call: grpc.ServerDuplexStream<unknown, unknown>): Promise<void> {
    await identify(this.engine, call, { principal: null });
  }

  /** Swaps in a new engine; calls already admitted finish under the old one. */
  setEngine(engine: Engine): void {
    this.engine = engine;
  }

  async listen(credentials: grpc.ServerCredentials): Promise<number> {
    const config = this.engine.config;
    const { host, grpc_port } = config.service;
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${grpc_port}` : `${host}:${grpc_port}`;
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.applyConnectionLimit(config.limits.max_connections);
    return port;
  }

  /**
   * grpc-js has no connection limit; Node's net.Server has one. grpc-js 1.14 keeps its HTTP/2 servers
   * in a private map: if that ever changes, start-up fails rather than run without the limit.
   */
  private applyConnectionLimit(max: number): void {
    const servers = (this.server as unknown as { http2Servers?: unknown }).http2Servers;
    if (!(servers instanceof Map) || servers.size === 0) throw new Error('limits.max_connections: cannot be applied to this grpc-js version');
    for (const http2Server of servers.keys() as IterableIterator<{ maxConnections: number }>) http2Server.maxConnections = max;
  }

  forceShutdown(): void {
    this.server.forceShutdown();
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

  /** Stages 1-5 (src/chain/call-pipeline.ts) for one call; null when the client left before forwarding. */
  private async admitAndForward<T>(state: CallState, call: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>, forward: () => Promise<T>): Promise<T | null> {
    state.admitted = await admit(state.engine, state.rule, call, call.request, state);
    if (call.cancelled) return null;
    state.upstreamStarted = performance.now();
    try {
      return await forward();
    } finally {
      state.upstreamMs = performance.now() - state.upstreamStarted;
    }
  }

  private unaryHandler(method: ApiMethod): grpc.handleUnaryCall<Buffer, Buffer> {
    const { forwarder } = this.deps;
    const path = method.path;
    return (call, callback) => {
      const state = newState(path, this.engine, call, this.deps.audit.enabled);
      this.admitAndForward(state, call, () => forwarder.unary(path, call.request, call.metadata, call, { onHeaders: (h) => call.sendMetadata(h) }))
        .then((reply) => {
          if (!reply) return this.audit(state, call, Status.CANCELLED);
          this.noteSanitized(path, reply.status);
          if (reply.status.code !== Status.OK) {
            this.audit(state, call, reply.status.code);
            return callback(toServiceError(reply.status));
          }
          const message = finishReply(state.engine, path, state.admitted!, reply.message!);
          this.audit(state, call, Status.OK);
          callback(null, message, reply.status.metadata);
        })
        .catch((err: unknown) => {
          const status = this.denial(path, err);
          this.audit(state, call, status.code, status.details, err);
          callback(status);
        });
    };
  }

  private serverStreamHandler(method: ApiMethod): grpc.handleServerStreamingCall<Buffer, Buffer> {
    const { forwarder } = this.deps;
    const path = method.path;
    return (call) => {
      const state = newState(path, this.engine, call, this.deps.audit.enabled);
      this.admitAndForward(state, call, () => forwarder.serverStream(path, call.request, call, { onHeaders: (h) => call.sendMetadata(h) }))
        .then((status) => {
          if (!status) return this.audit(state, call, Status.CANCELLED);
          this.noteSanitized(path, status);
          this.audit(state, call, status.code);
          if (status.code === Status.OK) call.end(status.metadata);
          else call.emit('error', toServiceError(status));
        })
        .catch((err: unknown) => {
          const status = this.denial(path, err);
          this.audit(state, call, status.code, status.details, err);
          call.emit('error', status);
        });
    };
  }

  /** Metrics for every call; one audit record per decision (health checks need none). */
  private audit(state: CallState, call: AuditedCall, finalCode: Status, details?: string, err?: unknown): void {
    const { admitted, rule } = state;
    // grpc-js reports a call whose deadline passed as cancelled; record what the client was told.
    const code = finalCode === Status.CANCELLED && deadlinePassed(call) ? Status.DEADLINE_EXCEEDED : finalCode;
    const totalMs = performance.now() - state.started;
    const decision = admitted === null ? (code === Status.UNAUTHENTICATED ? 'unauthenticated' : 'denied') : rule?.need.scope === 'none' || !state.engine.auth.enabled ? 'no_auth' : 'allowed';
    this.deps.metrics.call(state.path, decision, code, (totalMs - state.upstreamMs) / 1000);
    if (state.upstreamStarted > 0) this.deps.metrics.upstream(state.path, state.upstreamMs / 1000);
    if (rule?.need.scope === 'none' || !this.deps.audit.enabled) return;
    const deniedCollection = err instanceof ProxyError ? err.params.collection : undefined;
    this.deps.audit.record({
      path: state.path,
      method: rule?.audit ?? null,
      principal: state.principal,
      collections: admitted ? auditedCollections(admitted, rule, state.request) : deniedCollection !== undefined ? [deniedCollection] : [],
      metadata: call.metadata,
      peer: state.peer,
      allowed: admitted !== null,
      code,
      ...(admitted === null && details !== undefined ? { error: auditError(code, details) } : {}),
      durationMs: totalMs,
    });
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
