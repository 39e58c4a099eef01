// What is known of a call as it goes through the chain, and the one place its outcome is written:
// metrics for every call, one audit record per access decision, a DEBUG line per call. Opened when
// the call starts, finished exactly once.

import type { Decision } from '../access/authorize.js';
import type { CompiledRule } from '../access/compile-rules.js';
import { stringsAt } from '../access/request-fields.js';
import { type AuditLog, auditError } from '../audit/audit-log.js';
import type { Principal } from '../auth/principal.js';
import { ProxyError } from '../errors.js';
import { type GrpcStatus, Status } from '../grpc/status.js';
import type { Logger } from '../log/logger.js';
import type { ProxyMetrics } from '../ops/metrics.js';
import type { ClientCall } from '../server/server-call.js';

/** How a call was let in: the health bypass, no authentication configured, or a credential. */
export type Admission = 'health_bypass' | 'no_auth' | 'credential';

export interface CallRecord {
  readonly path: string;
  /** The metrics label: the path of a served method, `unknown` otherwise (bounded label values). */
  readonly label: string;
  readonly rule: CompiledRule | undefined;
  readonly started: number;
  /** Read when the call starts: by the time it is recorded the client may have gone. */
  readonly peer: string;
  admission: Admission | null;
  principal: Principal | null;
  /** Set once access was decided in the call's favour. */
  decision: Decision | null;
  request: Buffer | null;
  /** False for calls no access check applies to (health checks, a method no service has). */
  audited: boolean;
  upstreamStarted: number;
  upstreamMs: number;
  /** What a policy part in shadow mode would have refused (policy_mode): the call went on. */
  shadowDenied: string[];
  /** Gives back the call's place in its identity's limits (rate_limits.*.max_in_flight) when it ends. */
  release: (() => void) | null;
}

/** Opens a call's record when it starts and writes it once when it ends. */
export interface Recorder {
  open(call: ClientCall, path: string, served: boolean, rule: CompiledRule | undefined): CallRecord;
  finish(record: CallRecord, call: ClientCall, status: GrpcStatus, error: unknown): void;
}

export class CallRecorder implements Recorder {
  constructor(
    private readonly audit: AuditLog,
    private readonly metrics: ProxyMetrics,
    private readonly logger: Logger,
  ) {}

  open(call: ClientCall, path: string, served: boolean, rule: CompiledRule | undefined): CallRecord {
    return {
      path,
      label: served ? path : 'unknown',
      rule,
      started: performance.now(),
      peer: this.audit.enabled ? call.peer : '',
      admission: null,
      principal: null,
      decision: null,
      request: null,
      audited: rule?.need.scope !== 'none',
      upstreamStarted: 0,
      upstreamMs: 0,
      shadowDenied: [],
      release: null,
    };
  }

  /** `error`: what ended the call, when it did not end upstream (a denial names its collection). */
  finish(record: CallRecord, call: ClientCall, status: GrpcStatus, error: unknown): void {
    // A call whose deadline passed is reported as the client saw it (the timer may fire a little
    // before Date.now() reaches the deadline; either says the deadline passed).
    const code = status.code === Status.CANCELLED && (call.expired || call.deadline <= Date.now()) ? Status.DEADLINE_EXCEEDED : status.code;
    const totalMs = performance.now() - record.started;
    const allowed = record.decision !== null;
    const decision = !allowed ? (code === Status.UNAUTHENTICATED ? 'unauthenticated' : 'denied') : record.admission === 'credential' ? 'allowed' : 'no_auth';
    this.metrics.call(record.label, decision, code, (totalMs - record.upstreamMs) / 1000);
    if (record.upstreamStarted > 0) this.metrics.upstream(record.label, record.upstreamMs / 1000);
    const collections = this.collections(record, error);
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug(
        {
          path: record.path,
          identity: record.principal?.authType ?? 'None',
          subject: record.principal?.subject,
          provider: record.principal?.provider,
          key_id: record.principal?.keyId,
          decision,
          collection: collections[0],
          code,
          ms: Math.round(totalMs * 1000) / 1000,
        },
        'call',
      );
    }
    if (!record.audited || !this.audit.enabled) return;
    this.audit.record({
      path: record.path,
      method: record.rule?.audit ?? null,
      principal: record.principal,
      collections,
      metadata: call.metadata,
      peer: record.peer,
      allowed,
      code,
      ...(!allowed ? { error: auditError(code, status.details) } : {}),
      ...(allowed && record.shadowDenied.length > 0 ? { shadowDenied: record.shadowDenied } : {}),
      durationMs: totalMs,
    });
  }

  /** The collections a record names: as decided, or (as Qdrant names them for every collection-scoped check) read from the request. */
  private collections(record: CallRecord, error: unknown): readonly string[] {
    if (record.decision && record.decision.collections.length > 0) return record.decision.collections;
    if (error instanceof ProxyError && error.params.collection !== undefined) return [error.params.collection];
    const steps = record.rule?.need.scope === 'collection' ? record.rule.collectionSteps : null;
    if (!steps || !record.request || !record.principal) return [];
    try {
      return stringsAt(record.request, steps);
    } catch {
      return [];
    }
  }
}
