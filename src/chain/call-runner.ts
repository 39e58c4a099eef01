// Every call, in request order, written once:
//
//   on the headers, before any body byte is read (admit):
//     1. metadata limit        (limits.max_metadata_bytes)
//     2. admission            health bypass | no authentication configured | a credential:
//     3. authenticate         (api-key / Bearer: a key, a named key, Qdrant's HS256 JWT or an
//                              identity provider's token, then the revocation list; else a mapped
//                              client certificate → principal)
//     4. source address       (service.allowed_source_ranges, the identity's own ranges)
//     5. limits               (the identity's calls per second and calls in flight; once per call)
//     6. value_exists         (JWT claim checked against the upstream, cached)
//     7. authorize on headers (global methods, lists; collection methods wait for the body)
//   on the body:
//     8. read the request     (one message; size, memory budget, decompression cap, timeout)
//     9. authorize            (the request's collections and lookups against the principal)
//        (rewrite stages come here)
//    10. re-check             (a reload reported while the call waited: decided again under it)
//   upstream:
//    11. forward              (reply frames pass to the client as they arrive …)
//    12. filter the reply     (… except list replies for collection-scoped principals)
//   always:
//    13. one status           (catalogued errors by code, upstream outcomes by origin, else INTERNAL, logged)
//    14. the record, once     (metrics, audit, DEBUG line: src/chain/call-record.ts); the call's
//                              place in its limits given back
//
// A stage that throws ends the call: nothing is forwarded after a failure. A policy part in shadow
// mode (policy_mode) records what it would have refused and lets the call go on; authentication
// is never shadowed.
import type { OutgoingHttpHeaders } from 'node:http2';
import { ALLOW, authorizeCollections, authorizeOnHeaders, type Decision } from '../access/authorize.js';
import type { CompiledRule } from '../access/compile-rules.js';
import { filterReply } from '../access/filter-reply.js';
import { stringsAt } from '../access/request-fields.js';
import { confine } from '../access/tenant-confine.js';
import type { MessageCodec } from '../api/qdrant-api.js';
import { grantedMode, NO_AUTH_PRINCIPAL, type Principal, tenantOf } from '../auth/principal.js';
import type { Engine } from '../engine.js';
import { ProxyError } from '../errors.js';
import { MessageReader } from '../grpc/framing.js';
import { type GrpcStatus, Status } from '../grpc/status.js';
import type { Logger } from '../log/logger.js';
import type { Budget } from '../server/budget.js';
import type { ClientCall } from '../server/server-call.js';
import { ShadowRefusal } from '../traffic/traffic-policy.js';
import type { Forwarder, ReplySink } from '../upstream/forwarder.js';
import { clientStatus } from '../upstream/upstream-status.js';
import type { Admission, CallRecord, Recorder } from './call-record.js';

/** A method as the listener serves it. `kind` null: no service has it (UNIMPLEMENTED once authenticated, as in Qdrant). */
export interface MethodEntry {
  readonly path: string;
  readonly kind: 'unary' | 'server_stream' | null;
  readonly rule: CompiledRule | undefined;
  /** The reply's codec, for methods whose replies may be filtered. */
  readonly response: MessageCodec | undefined;
}

export interface RunnerDeps {
  /** The engine in force now (a reload swaps it). */
  currentEngine(): Engine;
  readonly forwarder: Forwarder;
  readonly recorder: Recorder;
  readonly logger: Logger;
  /** Calls past admission at once (limits.max_calls_in_flight); health checks are not counted. */
  readonly callSlots: Budget;
}

/** Admitted on the headers: who the caller is and, where the headers settle it, the decision. */
interface Admitted {
  readonly engine: Engine;
  readonly admission: Admission;
  readonly principal: Principal;
  /** Null while the decision needs the request's collections. */
  readonly decision: Decision | null;
  /** The largest request message this caller may send. */
  readonly maxRequestBytes: number;
}

/** Admits, decides again after a reload at most this often, then refuses (a config changing every few ms). */
const MAX_RECHECKS = 3;

export async function runCall(call: ClientCall, method: MethodEntry, deps: RunnerDeps): Promise<void> {
  const record = deps.recorder.open(call, method.path, method.kind !== null, method.rule);
  let status: GrpcStatus;
  let error: unknown = null;
  try {
    status = await handle(call, method, deps, record);
  } catch (err) {
    error = err;
    status = statusOf(err, method.path, deps.logger);
  } finally {
    record.release?.();
  }
  call.end(status);
  try {
    deps.recorder.finish(record, call, status, error);
  } catch (err) {
    deps.logger.error({ path: method.path, err }, 'recording a call failed');
  }
}

/**
 * Every call but the health checks holds one of limits.max_calls_in_flight from its start (so calls
 * waiting on a value_exists look-up count too); one that fails authentication gives it back at once.
 */
async function handle(call: ClientCall, method: MethodEntry, deps: RunnerDeps, record: CallRecord): Promise<GrpcStatus> {
  if (method.rule?.need.scope === 'none') return proceed(call, method, deps, record);
  if (!deps.callSlots.reserve(1)) throw new ProxyError('calls_in_flight_exhausted');
  try {
    return await proceed(call, method, deps, record);
  } finally {
    deps.callSlots.release(1);
  }
}

/** Steps 1-12. */
async function proceed(call: ClientCall, method: MethodEntry, deps: RunnerDeps, record: CallRecord): Promise<GrpcStatus> {
  let admitted = await admit(call, method, deps.currentEngine(), record, true);
  const request = await call.readRequest(admitted.maxRequestBytes, admitted.admission === 'health_bypass');
  record.request = request;
  let decision = authorize(admitted, method, request, record);
  for (let rechecks = 0; admitted.engine !== deps.currentEngine(); rechecks++) {
    if (rechecks === MAX_RECHECKS) throw new ProxyError('internal');
    admitted = await admit(call, method, deps.currentEngine(), record, false);
    decision = authorize(admitted, method, request, record);
  }
  const forwarded = await confineToTenant(admitted, method, request, decision, record);
  record.decision = decision;
  if (call.cancelled) throw new ProxyError('cancelled');

  const filtering = decision.filter !== null && admitted.principal.access === 'collections';
  const held = filtering ? new HeldReply(call) : null;
  record.upstreamStarted = performance.now();
  const outcome = await deps.forwarder.forward(
    { path: method.path, kind: method.kind!, message: forwarded, metadata: call.metadata, deadline: call.deadline, signal: call },
    held ?? call,
  );
  record.upstreamMs = performance.now() - record.upstreamStarted;
  if (deps.logger.isLevelEnabled('trace')) {
    const { code, details } = outcome.status;
    deps.logger.trace(
      { path: method.path, code, details, origin: outcome.origin, detail: outcome.detail, ms: Math.round(record.upstreamMs * 1000) / 1000 },
      'upstream',
    );
  }
  const status = clientStatus(outcome, method.path, deps.logger);
  if (held && admitted.principal.access === 'collections') {
    if (held.overflow) throw new ProxyError('reply_budget_exhausted');
    call.sendHeaders(held.heldHeaders);
    const reply = held.message();
    const principal = admitted.principal;
    if (reply) call.sendMessage(filterReply(decision.filter!, { has: (name) => grantedMode(principal, name) !== undefined }, reply, method.response!));
  }
  return status;
}

/** Steps 1-6: everything decided on the request headers. `first`: the call's limits are taken once, not again on a re-check. */
async function admit(call: ClientCall, method: MethodEntry, engine: Engine, record: CallRecord, first: boolean): Promise<Admitted> {
  const { limits } = engine.config;
  if (method.rule?.need.scope === 'none') {
    if (call.metadata.byteSize > limits.max_metadata_bytes) throw new ProxyError('metadata_too_large');
    record.admission = 'health_bypass';
    const shadowed = record.shadowDenied.length;
    shadowable(record, () => engine.traffic.checkAddress(call, null));
    // A call the address rules refuse in shadow mode is not counted against a limit: enforced, it never would be.
    if (first && record.shadowDenied.length === shadowed) {
      const release = shadowableAsync(record, () => engine.traffic.admit(null, call, method.path));
      record.release = (release instanceof Promise ? await release : release) ?? null;
    }
    return { engine, admission: 'health_bypass', principal: NO_AUTH_PRINCIPAL, decision: ALLOW, maxRequestBytes: limits.max_anonymous_message_bytes };
  }
  const principal = await authenticateCall(call, engine, record);
  const shadowed = record.shadowDenied.length;
  shadowable(record, () => engine.traffic.checkAddress(call, engine.auth.enabled ? principal : null));
  if (first && record.shadowDenied.length === shadowed) {
    const release = shadowableAsync(record, () => engine.traffic.admit(engine.auth.enabled ? principal : null, call, method.path));
    record.release = (release instanceof Promise ? await release : release) ?? null;
  }
  if (principal.valueExists) await engine.valueExists.check(principal.valueExists);
  if (method.kind === null) {
    record.audited = false; // no handler, no access check (Qdrant's router answers)
    throw new ProxyError('unimplemented');
  }
  if (!engine.auth.enabled) {
    record.admission = 'no_auth';
    return { engine, admission: 'no_auth', principal, decision: ALLOW, maxRequestBytes: limits.max_message_bytes };
  }
  record.admission = 'credential';
  const decision = accessDecision(engine, record, () => {
    if (!method.rule) throw new ProxyError('method_not_in_table');
    return authorizeOnHeaders(method.rule, principal);
  });
  return { engine, admission: 'credential', principal, decision, maxRequestBytes: limits.max_message_bytes };
}

/** Step 3: who the caller is (api-key / Bearer, else a mapped client certificate). */
async function authenticateCall(call: ClientCall, engine: Engine, record?: CallRecord): Promise<Principal> {
  if (call.metadata.byteSize > engine.config.limits.max_metadata_bytes) throw new ProxyError('metadata_too_large');
  if (!engine.auth.enabled) return NO_AUTH_PRINCIPAL;
  const principal = await engine.auth.authenticate(call.metadata, () => call.peerCertificate());
  if (record) record.principal = principal;
  return principal;
}

/**
 * Steps 3-5 without the limits: who the caller is, where from, value_exists; all that server
 * reflection requires too. With no key configured there is no authentication at all, as in Qdrant.
 */
export async function identify(call: ClientCall, engine: Engine): Promise<Principal> {
  const principal = await authenticateCall(call, engine);
  const record = { shadowDenied: [] as string[] };
  shadowable(record, () => engine.traffic.checkAddress(call, engine.auth.enabled ? principal : null));
  if (principal.valueExists) await engine.valueExists.check(principal.valueExists);
  return principal;
}

/**
 * The proxy's own services (gRPC health, reflection) pass the same source-address rules and limits
 * as every call (the health checks as anonymous callers, reflection as its credential's identity);
 * reflection also holds one of limits.max_calls_in_flight. Resolves with what to call when the call ends.
 */
export async function admitLocal(
  call: ClientCall,
  path: string,
  deps: Pick<RunnerDeps, 'currentEngine' | 'callSlots'>,
  needsCredential: boolean,
): Promise<() => void> {
  const engine = deps.currentEngine();
  const record = { shadowDenied: [] as string[] };
  const principal = needsCredential ? await identify(call, engine) : null;
  const identity = principal && engine.auth.enabled ? principal : null;
  if (!needsCredential) shadowable(record, () => engine.traffic.checkAddress(call, null));
  if (needsCredential && !deps.callSlots.reserve(1)) throw new ProxyError('calls_in_flight_exhausted');
  const slot = needsCredential ? () => deps.callSlots.release(1) : () => undefined;
  try {
    const pending = record.shadowDenied.length > 0 ? undefined : shadowableAsync(record, () => engine.traffic.admit(identity, call, path));
    const release = (pending instanceof Promise ? await pending : pending) ?? (() => undefined);
    return () => {
      release();
      slot();
    };
  } catch (err) {
    slot();
    throw err;
  }
}

/** Step 8. */
function authorize(admitted: Admitted, method: MethodEntry, request: Buffer, record: CallRecord): Decision {
  return admitted.decision ?? accessDecision(admitted.engine, record, () => authorizeCollections(method.rule!, admitted.principal, request));
}

/**
 * Step 10: a grant confined to a tenant's points (auth.tenant_isolation) gets the request rewritten
 * so it reads and writes only those points, or refused where it cannot be (src/access/tenant-table.ts).
 * A request naming collections of different tenants, or reading from a tenant-bound collection
 * through a lookup, is refused. Shadow access mode records a refusal and forwards the request as sent.
 */
async function confineToTenant(admitted: Admitted, method: MethodEntry, request: Buffer, decision: Decision, record: CallRecord): Promise<Buffer> {
  const principal = admitted.principal;
  if (principal.access !== 'collections' || (!principal.tenants && !principal.patterns?.some((p) => p.tenant))) return request;
  const { engine } = admitted;
  const names = decision.collections.length > 0 ? decision.collections : [];
  const tenants = names.map((name) => tenantOf(principal, name));
  const lookups = method.rule?.lookupSteps.flatMap((steps) => stringsAt(request, steps)) ?? [];
  const confined = async (): Promise<Buffer> => {
    const refuse = (detail: string) => new ProxyError('tenant_refused', { detail });
    const lookedUp = lookups.find((name) => tenantOf(principal, name) !== null);
    if (lookedUp !== undefined) throw refuse(`a lookup into collection ${lookedUp}, where the grant is bound to a tenant`);
    const bound = tenants.filter((t): t is NonNullable<typeof t> => t !== null);
    if (bound.length === 0) return request;
    if (bound.length !== tenants.length || bound.some((t) => JSON.stringify(t, bigints) !== JSON.stringify(bound[0], bigints)))
      throw refuse('a request naming collections of different tenants');
    return confine(engine.tenant, method.path, names[0]!, request, bound[0]!, engine.ownedIds);
  };
  return accessDecisionAsync(engine, record, confined, request);
}

const bigints = (_key: string, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value);

/** accessDecision for a stage that rewrites the request: in shadow mode a refusal is recorded and the request goes as sent. */
async function accessDecisionAsync(engine: Engine, record: CallRecord, decide: () => Promise<Buffer>, original: Buffer): Promise<Buffer> {
  try {
    return await decide();
  } catch (err) {
    // A tenant's write naming a point that is not its own is a decision too (answered NOT_FOUND as Qdrant would).
    const decision = err instanceof ProxyError && (err.status === Status.PERMISSION_DENIED || err.code === 'tenant_point_not_found');
    if (engine.config.policy_mode.access !== 'shadow' || !decision) throw err;
    record.shadowDenied.push(err.message);
    engine.traffic.reportShadowAccess();
    return original;
  }
}

/**
 * An access decision, enforced; or, with policy_mode.access: shadow, a denial recorded and the call
 * let through unfiltered (a malformed request is still refused: that is not a decision).
 */
function accessDecision<D extends Decision | null>(engine: Engine, record: CallRecord, decide: () => D): D | Decision {
  try {
    return decide();
  } catch (err) {
    if (engine.config.policy_mode.access !== 'shadow' || !(err instanceof ProxyError) || err.status !== Status.PERMISSION_DENIED) throw err;
    record.shadowDenied.push(err.message);
    engine.traffic.reportShadowAccess();
    return ALLOW;
  }
}

/** Runs a traffic check; a refusal in shadow mode is recorded and the call goes on (undefined). */
function shadowable<T>(record: Pick<CallRecord, 'shadowDenied'>, check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof ShadowRefusal)) throw err;
    record.shadowDenied.push(err.message);
    return undefined;
  }
}

/** The same for a check that may answer later (a limit kept in Redis); a local answer costs no await. */
function shadowableAsync<T>(record: Pick<CallRecord, 'shadowDenied'>, check: () => T | Promise<T>): T | undefined | Promise<T | undefined> {
  const answer = shadowable(record, check);
  if (!(answer instanceof Promise)) return answer;
  return answer.catch((err: unknown) => {
    if (!(err instanceof ShadowRefusal)) throw err;
    record.shadowDenied.push(err.message);
    return undefined;
  });
}

/** The one conversion of anything thrown into the client's status. */
export function statusOf(err: unknown, path: string, logger: Logger): GrpcStatus {
  if (err instanceof ProxyError) return err.toStatus();
  logger.error({ path, err }, 'unexpected error in call handler');
  return new ProxyError('internal').toStatus();
}

/**
 * A reply held back for filtering: its headers and frames are kept (counted against
 * limits.max_buffered_reply_bytes) until the upstream's status is in.
 */
class HeldReply implements ReplySink {
  heldHeaders: OutgoingHttpHeaders = {};
  overflow = false;
  private readonly chunks: Buffer[] = [];

  constructor(private readonly call: ClientCall) {}

  sendHeaders(headers: OutgoingHttpHeaders): void {
    this.heldHeaders = headers;
  }

  write(framed: Buffer): boolean {
    if (this.overflow || !this.call.holdReplyBytes(framed.length)) this.overflow = true;
    else this.chunks.push(framed);
    return true;
  }

  onDrain(): void {}

  /** The one reply message, or null when there is none. */
  message(): Buffer | null {
    const reader = new MessageReader(() => undefined);
    const messages = reader.push(Buffer.concat(this.chunks));
    return messages[0]?.payload ?? null;
  }
}
