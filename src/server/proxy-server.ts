// The gRPC server clients connect to, as an adapter: it routes each stream of the listener to the
// call chain (src/chain/call-runner.ts), to the health service, or to reflection. Every path goes
// through the chain except those two local services; an unknown path too (authenticated first, then
// UNIMPLEMENTED, as Qdrant answers it).
import { constants as h2, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { CompiledRule } from '../access/compile-rules.js';
import type { ApiMethod } from '../api/qdrant-api.js';
import { admitLocal, type MethodEntry, type RunnerDeps, runCall, statusOf } from '../chain/call-runner.js';
import type { Engine } from '../engine.js';
import type { ProxyMetrics } from '../ops/metrics.js';
import type { ServingState } from '../ops/serving-state.js';
import { Budget } from './budget.js';
import { GrpcListener, type ListenerLimits, type ListenerTls } from './grpc-listener.js';
import { HEALTH_CHECK, HEALTH_WATCH, HealthService } from './health-service.js';
import { REFLECTION_PATHS, ReflectionService } from './reflection.js';
import { type CallLimits, type ClientCall, discardRest, ServerCall } from './server-call.js';

export interface ProxyServerDeps extends Omit<RunnerDeps, 'currentEngine' | 'callSlots'> {
  /** Every method served (src/access/compile-rules.ts servedMethods). */
  readonly methods: ReadonlyMap<string, ApiMethod>;
  readonly rules: ReadonlyMap<string, CompiledRule>;
  readonly state: ServingState;
  readonly tls: ListenerTls | null;
  /** Serialized descriptor files for reflection (read on first use). */
  readonly descriptorFiles: () => readonly Buffer[];
  readonly metrics: ProxyMetrics;
}

type LocalHandler = (call: ServerCall) => Promise<void>;

export class ProxyServer {
  private readonly listener: GrpcListener;
  private readonly methods = new Map<string, MethodEntry>();
  private readonly local = new Map<string, LocalHandler>();
  private readonly health: HealthService;
  private readonly callLimits: CallLimits;
  private readonly replyBudget: Budget;
  private readonly runner: RunnerDeps;

  constructor(
    private engine: Engine,
    private readonly deps: ProxyServerDeps,
  ) {
    const { limits } = engine.config;
    this.callLimits = {
      maxMessageBytes: limits.max_message_bytes,
      maxDecompressionRatio: limits.max_decompression_ratio,
      requestBodyTimeoutMs: limits.request_body_timeout_ms,
      requestBudget: new Budget(limits.max_buffered_request_bytes),
      anonymousBudget: new Budget(limits.max_buffered_anonymous_bytes),
    };
    this.replyBudget = new Budget(limits.max_buffered_reply_bytes);
    const callSlots = new Budget(limits.max_calls_in_flight);
    this.runner = { ...deps, currentEngine: () => this.engine, callSlots };
    deps.metrics.watchBudgets(() => ({
      request_bytes: this.callLimits.requestBudget.inUse,
      reply_bytes: this.replyBudget.inUse,
      anonymous_bytes: this.callLimits.anonymousBudget.inUse,
      calls: callSlots.inUse,
      connections: this.listener.connectionCount,
    }));
    for (const method of deps.methods.values()) {
      if (method.kind !== 'unary' && method.kind !== 'server_stream') {
        // Qdrant's API has no client or bidi streaming method; one from user-supplied protos is not
        // served (UNIMPLEMENTED) rather than half-supported.
        deps.logger.warn({ path: method.path, kind: method.kind }, 'method kind not supported; not served');
        continue;
      }
      this.methods.set(method.path, { path: method.path, kind: method.kind, rule: deps.rules.get(method.path), response: method.response });
    }
    this.health = new HealthService(deps.state, () => ({
      maxRequestBytes: this.engine.config.limits.max_anonymous_message_bytes,
      maxWatchers: limits.max_health_watch_streams,
    }));
    const reflection = new ReflectionService(deps.descriptorFiles, new Set([...this.methods.keys()].map(serviceOf)));
    this.local.set(HEALTH_CHECK, (call) => this.serveLocal(call, HEALTH_CHECK, false, () => this.health.check(call)));
    this.local.set(HEALTH_WATCH, (call) => this.serveLocal(call, HEALTH_WATCH, false, () => this.health.watch(call)));
    for (const path of REFLECTION_PATHS) {
      // As in Qdrant: any valid credential, no access rule.
      this.local.set(path, (call) => this.serveLocal(call, path, true, () => reflection.serve(call)));
    }
    const listenerLimits: ListenerLimits = {
      maxConcurrentStreams: limits.max_concurrent_streams,
      maxConnections: limits.max_connections,
      handshakeTimeoutMs: limits.handshake_timeout_ms,
      idleTimeoutMs: limits.max_connection_idle_ms,
      keepaliveTimeMs: limits.keepalive_time_ms,
      keepaliveTimeoutMs: limits.keepalive_timeout_ms,
      maxConnectionAgeMs: limits.max_connection_age_ms,
      maxConnectionAgeGraceMs: limits.max_connection_age_grace_ms,
      closeGraceMs: limits.close_grace_ms,
    };
    this.listener = new GrpcListener(
      listenerLimits,
      deps.tls,
      (stream, headers, raw) => this.onStream(stream, headers, raw),
      deps.logger,
      (address) => this.engine.traffic.acceptsConnection(address),
    );
  }

  /** Swaps in a new engine: calls decide under it from now on, and calls that waited decide again. */
  setEngine(engine: Engine): void {
    this.engine = engine;
  }

  /** A local service, after the address rules and limits every call passes (src/chain/call-runner.ts admitLocal). */
  private async serveLocal(call: ServerCall, path: string, needsCredential: boolean, serve: () => Promise<void>): Promise<void> {
    const release = await admitLocal(call as ClientCall, path, this.runner, needsCredential);
    try {
      await serve();
    } finally {
      release();
    }
  }

  engineInForce(): Engine {
    return this.engine;
  }

  listen(): Promise<number> {
    const { host, grpc_port } = this.engine.config.service;
    return this.listener.listen(host, grpc_port);
  }

  /** Stops accepting calls, lets in-flight calls finish for up to `drainMs`, then cancels the rest. */
  shutdown(drainMs: number): Promise<void> {
    this.health.close();
    return this.listener.shutdown(drainMs);
  }

  forceShutdown(): void {
    this.listener.forceShutdown();
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void {
    const contentType = headers[h2.HTTP2_HEADER_CONTENT_TYPE];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: what gRPC servers answer (and nothing more).
      try {
        stream.respond({ [h2.HTTP2_HEADER_STATUS]: h2.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE }, { endStream: true });
        discardRest(stream);
      } catch {
        // the client reset the stream already
      }
      return;
    }
    // Routed as tonic routes it: on the path, without a query string.
    const rawPath = String(headers[h2.HTTP2_HEADER_PATH] ?? '');
    const query = rawPath.indexOf('?');
    const path = query >= 0 ? rawPath.slice(0, query) : rawPath;
    const call = new ServerCall(stream, path, rawHeaders, this.callLimits, this.replyBudget);
    const local = this.local.get(path);
    if (local) {
      local(call).catch((err: unknown) => call.end(statusOf(err, path, this.deps.logger)));
      return;
    }
    const method = this.methods.get(path) ?? { path, kind: null, rule: undefined, response: undefined };
    void runCall(call as ClientCall, method, this.runner);
  }
}

function serviceOf(path: string): string {
  return path.slice(1, path.indexOf('/', 1));
}
