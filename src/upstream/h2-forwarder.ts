// The forwarding hop on raw node:http2 sessions: the proxy writes the request frame itself and passes
// the upstream's reply frames to the client as they arrive (checking their prefixes on the way), so
// no second gRPC stack runs per call and no reply is held in memory. The deadline is sent as
// grpc-timeout and enforced here. A call the upstream never processed (refused stream, or beyond a
// GOAWAY's last stream) is retried on a new connection; no other call is ever replayed.
import type { EventEmitter } from 'node:events';
import { type ClientHttp2Session, type ClientHttp2Stream, constants as h2, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import { framePrefix, MessageScanner } from '../grpc/framing.js';
import { rawHeader } from '../grpc/metadata.js';
import { decodeGrpcMessage, Status, statusCode } from '../grpc/status.js';
import { formatGrpcTimeout } from '../grpc/timeout.js';
import type { Logger } from '../log/logger.js';
import { type ForwardCall, type Forwarder, localOutcome, type ReplySink, type UpstreamOutcome } from './forwarder.js';
import { clientHeaders, upstreamHeaders } from './outgoing-metadata.js';
import { notProcessed, UpstreamConnection } from './upstream-connection.js';

export interface H2Options {
  /** `http://host:port` or `https://host:port` */
  readonly url: string;
  readonly serverName: string | null;
  readonly upstreamApiKey: string | null;
  readonly maxMessageBytes: number;
  readonly maxCallTimeoutMs: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** HTTP/2 connections to the upstream; calls are spread over them in turn. */
  readonly connections: number;
  readonly maxResetsPerSecond: number;
  readonly tls: (() => SecureContextOptions) | null;
  readonly logger: Logger;
}

/** Attempts per call: the first, and retries of attempts the upstream provably never processed. */
const MAX_ATTEMPTS = 3;

export class H2Forwarder implements Forwarder {
  private readonly connections: UpstreamConnection[];
  private turn = 0;
  private readonly pinger: NodeJS.Timeout | null;
  private readonly authority: string;

  constructor(private readonly options: H2Options) {
    const url = new URL(options.url);
    this.authority = options.serverName ? `${options.serverName}:${url.port || (url.protocol === 'https:' ? 443 : 80)}` : url.host;
    this.connections = Array.from({ length: Math.max(1, options.connections) }, () => new UpstreamConnection(options));
    const pingAll = () => {
      for (const connection of this.connections) connection.ping(options.keepaliveTimeoutMs);
    };
    this.pinger = options.keepaliveTimeMs > 0 ? setInterval(pingAll, options.keepaliveTimeMs).unref() : null;
  }

  reconnect(): void {
    for (const connection of this.connections) connection.drop();
  }

  close(): void {
    if (this.pinger) clearInterval(this.pinger);
    this.reconnect();
  }

  forward(call: ForwardCall, sink: ReplySink): Promise<UpstreamOutcome> {
    const ceiling = this.options.maxCallTimeoutMs > 0 ? Date.now() + this.options.maxCallTimeoutMs : Infinity;
    const deadline = Math.min(call.deadline, ceiling);
    const headers = upstreamHeaders(call.metadata, this.options.upstreamApiKey);
    headers[h2.HTTP2_HEADER_METHOD] = 'POST';
    headers[h2.HTTP2_HEADER_PATH] = call.path;
    headers[h2.HTTP2_HEADER_AUTHORITY] = this.authority;
    headers[h2.HTTP2_HEADER_CONTENT_TYPE] = 'application/grpc';
    headers[h2.HTTP2_HEADER_TE] = 'trailers';
    headers['grpc-accept-encoding'] = 'identity';
    headers['user-agent'] = 'qdrant-auth-proxy';
    return new Promise((resolve) => this.attempt(call, sink, headers, deadline, 1, resolve));
  }

  private attempt(
    call: ForwardCall,
    sink: ReplySink,
    headers: OutgoingHttpHeaders,
    deadline: number,
    attempt: number,
    resolve: (o: UpstreamOutcome) => void,
  ): void {
    if (call.signal?.cancelled) return resolve(localOutcome(Status.CANCELLED, 'cancelled before it was sent'));
    const remaining = deadline - Date.now();
    if (remaining <= 0) return resolve(localOutcome(Status.DEADLINE_EXCEEDED, 'deadline passed before it was sent'));
    const connection = this.next();
    const session = connection?.session() ?? null;
    if (!connection || !session) return resolve(localOutcome(Status.UNAVAILABLE, 'every upstream connection is in connect backoff'));
    if (Number.isFinite(deadline)) headers['grpc-timeout'] = formatGrpcTimeout(remaining);
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (session.closed || session.destroyed || code === 'ERR_HTTP2_INVALID_SESSION' || code === 'ERR_HTTP2_GOAWAY_SESSION') {
        connection.retire(session);
        if (attempt < MAX_ATTEMPTS) return this.attempt(call, sink, headers, deadline, attempt + 1, resolve);
        return resolve(localOutcome(Status.UNAVAILABLE, `upstream session unusable: ${code}`));
      }
      // The request itself cannot be sent (a header node refuses): the call's problem, not the session's.
      return resolve(localOutcome(Status.INVALID_ARGUMENT, `request refused by node:http2: ${code} ${(err as Error).message}`));
    }
    new UpstreamCall(this.options.maxMessageBytes, call, sink, session, stream, connection, deadline, (outcome, retryable) => {
      if (retryable && attempt < MAX_ATTEMPTS && !call.signal?.cancelled) this.attempt(call, sink, headers, deadline, attempt + 1, resolve);
      else resolve(outcome);
    });
  }

  /** The next connection in turn whose session is usable or can be made. */
  private next(): UpstreamConnection | null {
    for (let i = 0; i < this.connections.length; i++) {
      const connection = this.connections[this.turn]!;
      this.turn = (this.turn + 1) % this.connections.length;
      if (connection.session()) return connection;
    }
    return null;
  }
}

/** One attempt of one call on one upstream stream. */
class UpstreamCall {
  private settled = false;
  private timer: NodeJS.Timeout | null = null;
  private removeCancel: () => void = () => undefined;
  private responded = false;
  private readonly scanner: MessageScanner;

  constructor(
    maxMessageBytes: number,
    private readonly call: ForwardCall,
    sink: ReplySink,
    readonly session: ClientHttp2Session,
    private readonly stream: ClientHttp2Stream,
    private readonly connection: UpstreamConnection,
    deadline: number,
    private readonly done: (outcome: UpstreamOutcome, retryable: boolean) => void,
  ) {
    const unary = call.kind === 'unary';
    this.scanner = new MessageScanner((flag, length) => {
      if (flag !== 0) throw protocolError(Status.INTERNAL, 'upstream sent a compressed message although the proxy asked for identity');
      if (length > maxMessageBytes) throw protocolError(Status.RESOURCE_EXHAUSTED, `upstream message of ${length} bytes`);
      if (unary && this.scanner.messages > 1) throw protocolError(Status.INTERNAL, 'upstream sent more than one message for a unary call');
    });
    if (Number.isFinite(deadline))
      this.timer = setTimeout(() => this.giveUp(localOutcome(Status.DEADLINE_EXCEEDED, 'deadline passed upstream')), Math.max(0, deadline - Date.now()));
    if (call.signal) this.removeCancel = call.signal.onCancel(() => this.giveUp(localOutcome(Status.CANCELLED, 'the client cancelled')));

    // node passes the raw header list as a third argument its typings leave out.
    const events = stream as EventEmitter;
    events.on('response', (headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      if (this.settled) return;
      this.responded = true;
      const httpStatus = Number(headers[h2.HTTP2_HEADER_STATUS]);
      if (httpStatus !== 200)
        return this.giveUp(
          localOutcome(
            httpStatus === 503 || httpStatus === 429 || httpStatus === 502 || httpStatus === 504 ? Status.UNAVAILABLE : Status.INTERNAL,
            `upstream answered HTTP ${httpStatus}`,
          ),
        );
      if (headers['grpc-status'] !== undefined) return this.complete(raw); // trailers-only
      sink.sendHeaders(clientHeaders(raw));
    });
    let paused = false;
    stream.on('data', (chunk: Buffer) => {
      if (this.settled) return; // an abandoned stream's reply is read and dropped
      try {
        this.scanner.scan(chunk);
      } catch (err) {
        return this.giveUp((err as ProtocolError).outcome);
      }
      if (!sink.write(chunk) && !paused) {
        paused = true;
        stream.pause();
        sink.onDrain(() => {
          paused = false;
          stream.resume();
        });
      }
    });
    // Trailers can arrive while earlier data still waits in a paused stream (a slow client): the
    // status is checked against the reply once both the trailers and the last data are in.
    let trailers: string[] | null = null;
    events.on('trailers', (_headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      trailers = raw;
      if (stream.readableEnded) this.complete(raw);
    });
    stream.once('end', () => {
      if (trailers) this.complete(trailers);
    });
    let streamError = '';
    stream.on('error', (err: Error) => (streamError = `: ${err.message}`)); // 'close' reports it
    stream.once('close', () => {
      if (this.settled) return;
      const code = stream.rstCode ?? h2.NGHTTP2_NO_ERROR;
      // Never processed upstream: refused, beyond a GOAWAY's last stream, or never sent at all.
      const retryable = !this.responded && (code === h2.NGHTTP2_REFUSED_STREAM || notProcessed(session, stream.id));
      const detail = `upstream stream closed (HTTP/2 code ${code}) before its status${this.responded ? '' : ', before any response'}${streamError}`;
      this.settle(localOutcome(closedStreamStatus(code, session, this.responded), detail), retryable);
    });
    // Corked: the prefix and the message leave in one write.
    stream.cork();
    stream.write(framePrefix(call.message.length));
    stream.end(call.message);
  }

  /** The upstream's status arrived (in trailers, or trailers-only): the reply is checked against it. */
  private complete(raw: string[]): void {
    if (this.settled) return;
    const status = statusCode(rawHeader(raw, 'grpc-status'));
    if (this.scanner.pending) return this.settle(localOutcome(Status.INTERNAL, 'upstream ended inside a message'));
    if (status === Status.OK && this.call.kind === 'unary' && this.scanner.messages === 0)
      return this.settle(localOutcome(Status.INTERNAL, 'upstream sent no message'));
    this.settle({
      status: {
        code: status,
        details: decodeGrpcMessage(rawHeader(raw, 'grpc-message') ?? ''),
        trailers: clientHeaders(raw) as Record<string, string | string[]>,
      },
      origin: 'upstream',
    });
  }

  /**
   * The proxy stops waiting for this stream (client gone, deadline, bad frames). A stream whose
   * response has started is reset (the upstream has accepted it). Otherwise it is reset only within
   * the connection's reset budget; past that it is left to finish upstream and its reply dropped.
   */
  private giveUp(outcome: UpstreamOutcome): void {
    if (this.settled) return;
    this.settle(outcome);
    const { stream } = this;
    if (stream.closed || stream.destroyed) return;
    if (this.responded || this.connection.mayReset()) stream.close(h2.NGHTTP2_CANCEL);
    else stream.resume();
  }

  private settle(outcome: UpstreamOutcome, retryable = false): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.removeCancel();
    this.done(outcome, retryable);
  }
}

/**
 * The status of a stream the upstream ended without one (gRPC's mapping of RST_STREAM codes): a lost
 * connection, a refusal, or a cancellation the client did not ask for is UNAVAILABLE (a client may
 * retry it); ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED; any other fault once the reply started is INTERNAL.
 */
function closedStreamStatus(code: number, session: ClientHttp2Session, replyStarted: boolean): Status {
  if (session.destroyed || session.closed || !replyStarted) return Status.UNAVAILABLE;
  switch (code) {
    case h2.NGHTTP2_NO_ERROR:
    case h2.NGHTTP2_CANCEL:
    case h2.NGHTTP2_REFUSED_STREAM:
      return Status.UNAVAILABLE;
    case h2.NGHTTP2_ENHANCE_YOUR_CALM:
      return Status.RESOURCE_EXHAUSTED;
    default:
      return Status.INTERNAL;
  }
}

class ProtocolError extends Error {
  constructor(readonly outcome: UpstreamOutcome) {
    super(outcome.detail);
  }
}

function protocolError(code: Status, detail: string): ProtocolError {
  return new ProtocolError(localOutcome(code, detail));
}
