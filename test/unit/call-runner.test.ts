// The call chain with a fake client call and a fake forwarder: what is forwarded, what is refused,
// and that every call is recorded exactly once, whatever ends it.
import type { OutgoingHttpHeaders } from 'node:http2';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { compileRules, servedApi } from '../../src/access/compile-rules.js';
import { compileTenantRules } from '../../src/access/tenant-confine.js';
import { loadQdrantApi } from '../../src/api/qdrant-api.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { type CallRecord, CallRecorder, type Recorder } from '../../src/chain/call-record.js';
import { type MethodEntry, runCall } from '../../src/chain/call-runner.js';
import { parseConfig } from '../../src/config/load.js';
import { buildEngine, type Engine } from '../../src/engine.js';
import { frame } from '../../src/grpc/framing.js';
import { RequestMetadata } from '../../src/grpc/metadata.js';
import { type GrpcStatus, Status } from '../../src/grpc/status.js';
import { ProxyMetrics } from '../../src/ops/metrics.js';
import { Budget } from '../../src/server/budget.js';
import type { ClientCall } from '../../src/server/server-call.js';
import type { ForwardCall, Forwarder, ReplySink, UpstreamOutcome } from '../../src/upstream/forwarder.js';
import { requestNaming } from '../helpers/access-expectations.js';

const silent = pino({ level: 'silent' });
const api = servedApi(loadQdrantApi());
const rules = compileRules(api);
const tenant = compileTenantRules(api);
const KEY = 'runner-key';
const READ_KEY = 'runner-read-key';

function engineWith(keys: { api_key?: string; read_only_api_key?: string; jwt_rbac?: boolean }): Engine {
  return buildEngine(parseConfig({ service: { ...keys } }), {
    api,
    rules,
    logger: silent,
    scroll: async () => ({ ok: true, notFound: false, pointCount: 1 }),
    tenant,
    ownedIds: async () => ({ ids: new Set<string>(), shardKeys: new Set<string>() }),
  });
}

function method(path: string): MethodEntry {
  const m = api.methods.get(path);
  return { path, kind: (m?.kind as MethodEntry['kind']) ?? null, rule: rules.get(path), response: m?.response };
}

/** A client call whose request arrives when `arrive` resolves (at once by default). */
class FakeCall implements ClientCall {
  readonly peer = '127.0.0.1:1';
  readonly deadline = Number.POSITIVE_INFINITY;
  cancelled = false;
  expired = false;
  status: GrpcStatus | null = null;
  readonly sent: Buffer[] = [];
  readonly reads: number[] = [];
  private readonly cancelListeners: (() => void)[] = [];

  constructor(
    readonly path: string,
    readonly metadata: RequestMetadata,
    private readonly body: Buffer,
    private readonly arrive: Promise<void> = Promise.resolve(),
  ) {}

  onCancel(listener: () => void): () => void {
    this.cancelListeners.push(listener);
    return () => undefined;
  }
  cancel(): void {
    this.cancelled = true;
    for (const l of this.cancelListeners) l();
  }
  peerCertificate() {
    return undefined;
  }
  async readRequest(maxBytes: number): Promise<Buffer> {
    this.reads.push(maxBytes);
    await this.arrive;
    return this.body;
  }
  async readMessages(): Promise<void> {}
  holdReplyBytes(): boolean {
    return true;
  }
  sendHeaders(_headers?: OutgoingHttpHeaders): void {}
  write(framed: Buffer): boolean {
    this.sent.push(framed);
    return true;
  }
  sendMessage(payload: Uint8Array): boolean {
    return this.write(frame(payload));
  }
  onDrain(): void {}
  end(status: GrpcStatus): void {
    this.status ??= status;
  }
}

/** Forwards nothing anywhere: records the call and answers with `reply`. */
class FakeForwarder implements Forwarder {
  readonly calls: ForwardCall[] = [];
  constructor(private readonly reply: Buffer = Buffer.from('reply')) {}
  async forward(call: ForwardCall, sink: ReplySink): Promise<UpstreamOutcome> {
    this.calls.push(call);
    sink.sendHeaders({});
    sink.write(frame(this.reply));
    return { status: { code: Status.OK, details: '' }, origin: 'upstream' };
  }
  reconnect(): void {}
  close(): void {}
}

/** Counts records as the real recorder writes them. */
class CountingRecorder implements Recorder {
  readonly finished: { record: CallRecord; code: Status }[] = [];
  private readonly real = new CallRecorder(new AuditLog(parseConfig({}).audit, silent), new ProxyMetrics('test', 'test', false), silent);
  open(...args: Parameters<Recorder['open']>) {
    return this.real.open(...args);
  }
  finish(record: CallRecord, call: ClientCall, status: GrpcStatus, error: unknown): void {
    this.finished.push({ record, code: status.code });
    this.real.finish(record, call, status, error);
  }
}

function run(call: FakeCall, engine: () => Engine, forwarder = new FakeForwarder()) {
  const recorder = new CountingRecorder();
  const done = runCall(call, method(call.path), { currentEngine: engine, forwarder, recorder, logger: silent, callSlots: new Budget(10) });
  return { done, forwarder, recorder };
}

const withKey = (key: string) => RequestMetadata.of({ 'api-key': key });

describe('the call runner', () => {
  it("forwards an allowed call once, with the caller's metadata and the request as read, and records it once", async () => {
    const engine = engineWith({ api_key: KEY });
    const call = new FakeCall('/qdrant.Points/Count', withKey(KEY), requestNaming('c1'));
    const { done, forwarder, recorder } = run(call, () => engine);
    await done;
    expect(forwarder.calls).toHaveLength(1);
    expect(forwarder.calls[0]!.message).toEqual(requestNaming('c1'));
    expect(call.status?.code).toBe(Status.OK);
    expect(call.sent).toEqual([frame(Buffer.from('reply'))]);
    expect(recorder.finished.map((f) => [f.code, f.record.decision !== null])).toEqual([[Status.OK, true]]);
  });

  it('a refused credential is answered on the headers: no body read, nothing forwarded, one record', async () => {
    const engine = engineWith({ api_key: KEY });
    for (const metadata of [RequestMetadata.of({}), withKey('wrong')]) {
      const call = new FakeCall('/qdrant.Points/Count', metadata, requestNaming('c1'));
      const { done, forwarder, recorder } = run(call, () => engine);
      await done;
      expect(call.reads).toEqual([]);
      expect(forwarder.calls).toEqual([]);
      expect(call.status?.code).toBe(Status.UNAUTHENTICATED);
      expect(recorder.finished).toHaveLength(1);
    }
  });

  it('an access denial never forwards; a global method is refused before the body is read', async () => {
    const engine = engineWith({ api_key: KEY, read_only_api_key: READ_KEY });
    const create = new FakeCall('/qdrant.Collections/Create', withKey(READ_KEY), Buffer.alloc(0));
    const first = run(create, () => engine);
    await first.done;
    expect([create.status?.details, create.reads, first.forwarder.calls]).toEqual(['Forbidden: Global manage access is required', [], []]);
    const upsert = new FakeCall('/qdrant.Points/Upsert', withKey(READ_KEY), requestNaming('alpha'));
    const second = run(upsert, () => engine);
    await second.done;
    expect([upsert.status?.code, second.forwarder.calls.length]).toEqual([Status.PERMISSION_DENIED, 0]);
  });

  it('a call cancelled after admission is never forwarded, and recorded once', async () => {
    const engine = engineWith({ api_key: KEY });
    let arrive: () => void = () => undefined;
    const call = new FakeCall('/qdrant.Points/Count', withKey(KEY), requestNaming('c1'), new Promise((r) => (arrive = r)));
    const { done, forwarder, recorder } = run(call, () => engine);
    await new Promise((r) => setImmediate(r));
    call.cancel();
    arrive();
    await done;
    expect(forwarder.calls).toEqual([]);
    expect(recorder.finished.map((f) => f.code)).toEqual([Status.CANCELLED]);
  });

  it('a reload while the body arrives decides the call again under the new config', async () => {
    let engine = engineWith({ api_key: KEY });
    let arrive: () => void = () => undefined;
    const call = new FakeCall('/qdrant.Points/Count', withKey(KEY), requestNaming('c1'), new Promise((r) => (arrive = r)));
    const { done, forwarder } = run(call, () => engine);
    await new Promise((r) => setImmediate(r));
    engine = engineWith({ api_key: 'rotated-key' });
    arrive();
    await done;
    expect([call.status?.code, call.status?.details, forwarder.calls.length]).toEqual([Status.UNAUTHENTICATED, 'Invalid API key or JWT', 0]);
  });

  it('health checks pass without a credential and may send only a small body', async () => {
    const engine = engineWith({ api_key: KEY });
    const call = new FakeCall('/qdrant.Qdrant/HealthCheck', RequestMetadata.of({}), Buffer.alloc(0));
    const { done, forwarder } = run(call, () => engine);
    await done;
    expect([call.status?.code, forwarder.calls.length, call.reads]).toEqual([Status.OK, 1, [engine.config.limits.max_anonymous_message_bytes]]);
  });

  it('an unknown method is authenticated first, then UNIMPLEMENTED with no message (as Qdrant)', async () => {
    const engine = engineWith({ api_key: KEY });
    const anonymous = new FakeCall('/qdrant.Points/Nope', RequestMetadata.of({}), Buffer.alloc(0));
    await run(anonymous, () => engine).done;
    expect(anonymous.status?.code).toBe(Status.UNAUTHENTICATED);
    const known = new FakeCall('/qdrant.Points/Nope', withKey(KEY), Buffer.alloc(0));
    await run(known, () => engine).done;
    expect([known.status?.code, known.status?.details]).toEqual([Status.UNIMPLEMENTED, '']);
  });

  it('a list reply for a collection-scoped principal is filtered before it is sent', async () => {
    const codec = api.methods.get('/qdrant.Collections/List')!.response!;
    const reply = codec.encode({ collections: [{ name: 'mine' }, { name: 'theirs' }] });
    const jwt = await new SignJWT({ access: [{ collection: 'mine', access: 'r' }] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(KEY));
    const jwtEngine = engineWith({ api_key: KEY, jwt_rbac: true });
    const call = new FakeCall('/qdrant.Collections/List', RequestMetadata.of({ authorization: `Bearer ${jwt}` }), Buffer.alloc(0));
    await run(call, () => jwtEngine, new FakeForwarder(reply)).done;
    expect(call.sent).toHaveLength(1);
    expect(codec.decode(call.sent[0]!.subarray(5)).collections).toEqual([{ name: 'mine' }]);
  });

  it('calls past limits.max_calls_in_flight are refused at once', async () => {
    const engine = engineWith({ api_key: KEY });
    const call = new FakeCall('/qdrant.Points/Count', withKey(KEY), requestNaming('c1'));
    const slots = new Budget(1);
    slots.reserve(1);
    const recorder = new CountingRecorder();
    await runCall(call, method(call.path), { currentEngine: () => engine, forwarder: new FakeForwarder(), recorder, logger: silent, callSlots: slots });
    expect([call.status?.code, call.reads]).toEqual([Status.RESOURCE_EXHAUSTED, []]);
  });
});
