// The forwarding hop on a raw node:http2 session: the proxy writes and reads the gRPC frames itself
// (5-byte prefix + message), so no second gRPC stack runs per call. Same contract as the grpc-js
// transport: bytes, metadata, headers, trailers and statuses pass unchanged; the deadline is sent as
// grpc-timeout and enforced here; a client cancellation resets the upstream stream.
import { connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { Metadata, status as Status, type ServerUnaryCall } from '@grpc/grpc-js';
import type { ForwardHooks, Forwarder, UnaryReply } from './forward.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './outgoing-metadata.js';
import { UPSTREAM_UNAVAILABLE, type ClientStatus } from './upstream-errors.js';
import type { Logger } from '../log/logger.js';

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
  /** TLS material; called for every new connection, so reloaded certificates apply to new sessions. */
  readonly tls: (() => SecureContextOptions) | null;
  readonly logger: Logger;
}

type Parent = { getDeadline(): grpc.Deadline; readonly cancelled: boolean; once(event: 'cancelled', l: () => void): unknown; removeListener(event: 'cancelled', l: () => void): unknown };

const RETRYABLE_RST = new Set([h2.NGHTTP2_REFUSED_STREAM]);

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

  /** New connections from now on use fresh TLS material; calls in flight finish on the old ones. */
  reconnect(): void {
    for (const connection of this.connections) connection.drop();
  }

  close(): void {
    if (this.pinger) clearInterval(this.pinger);
    this.reconnect();
  }

  unary(path: string, request: Buffer, incoming: Metadata, parent: ServerUnaryCall<Buffer, Buffer>, hooks: ForwardHooks): Promise<UnaryReply> {
    return this.call(path, request, upstreamRequestHeaders(incoming, this.options.upstreamApiKey), deadlineOf(parent, this.options.maxCallTimeoutMs), parent, hooks, null);
  }

  async serverStream(path: string, request: Buffer, out: grpc.ServerWritableStream<Buffer, Buffer>, hooks: ForwardHooks): Promise<ClientStatus> {
    const reply = await this.call(path, request, upstreamRequestHeaders(out.metadata, this.options.upstreamApiKey), deadlineOf(out, this.options.maxCallTimeoutMs), out, hooks, out);
    return reply.status;
  }

  ownCall(path: string, request: Buffer, timeoutMs: number): Promise<UnaryReply> {
    return this.call(path, request, upstreamRequestHeaders(new Metadata(), this.options.upstreamApiKey), Date.now() + timeoutMs, null, { onHeaders: () => undefined }, null);
  }

  private call(
    path: string,
    request: Buffer,
    /** The forwarded metadata (upstreamRequestHeaders); the pseudo and gRPC headers are added here. */
    headers: OutgoingHttpHeaders,
    deadline: number,
    parent: Parent | null,
    hooks: ForwardHooks,
    streamTo: grpc.ServerWritableStream<Buffer, Buffer> | null,
  ): Promise<UnaryReply> {
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | null = null;
      let stream: ClientHttp2Stream | null = null;
      // `complete`: the upstream sent its status. Otherwise the proxy gave up (cancel, deadline, bad
      // frames) and resets the stream; a completed stream is never reset (resets of finished streams
      // look like a rapid-reset attack to the upstream, which then drops the whole connection).
      const finish = (status: ClientStatus, message: Buffer | null = null, complete = false) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        parent?.removeListener('cancelled', onCancel);
        if (!complete && stream && !stream.closed) stream.close(h2.NGHTTP2_CANCEL);
        resolve({ status, message: status.code === Status.OK ? message : null });
      };
      const onCancel = () => finish(local(Status.CANCELLED, 'Cancelled'));
      const session = this.currentSession();
      if (!session) return finish(local(Status.UNAVAILABLE, UPSTREAM_UNAVAILABLE, 'upstream in connect backoff'));
      const remaining = deadline - Date.now();
      if (remaining <= 0) return finish(local(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'));
      headers[h2.HTTP2_HEADER_METHOD] = 'POST';
      headers[h2.HTTP2_HEADER_PATH] = path;
      headers[h2.HTTP2_HEADER_AUTHORITY] = this.authority;
      headers[h2.HTTP2_HEADER_CONTENT_TYPE] = 'application/grpc';
      headers[h2.HTTP2_HEADER_TE] = 'trailers';
      headers['grpc-accept-encoding'] = 'identity';
      headers['user-agent'] = 'qdrant-auth-proxy';
      if (Number.isFinite(deadline)) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(remaining))}m`;
      try {
        stream = session.request(headers, { endStream: false });
      } catch (err) {
        this.dropSession(session);
        return finish(local(Status.UNAVAILABLE, UPSTREAM_UNAVAILABLE, String(err)));
      }
      if (Number.isFinite(deadline)) timer = setTimeout(() => finish(local(Status.DEADLINE_EXCEEDED, 'Deadline exceeded')), remaining);
      if (parent) {
        if (parent.cancelled) return onCancel();
        parent.once('cancelled', onCancel);
      }

      const reader = new FrameReader(this.options.maxMessageBytes);
      let message: Buffer | null = null;
      /** The upstream's status arrived (in trailers, or trailers-only): check the body against it. */
      const complete = (status: ClientStatus) => {
        if (reader.pending) return finish(local(Status.INTERNAL, 'upstream ended inside a message'), null, true);
        if (status.code === Status.OK && !streamTo && message === null) return finish(local(Status.INTERNAL, 'upstream sent no message'), null, true);
        finish(status, message, true);
      };
      let paused = false;
      let responseHeaders: IncomingHttpHeaders | null = null;
      stream.on('response', (h) => {
        responseHeaders = h;
        if (h[':status'] !== 200) return finish(local(httpStatusToGrpc(Number(h[':status'])), `upstream answered HTTP ${h[':status']}`));
        if (h['grpc-status'] !== undefined) return complete(statusFrom(h)); // trailers-only
        hooks.onHeaders(responseMetadata(h));
      });
      stream.on('data', (chunk: Buffer) => {
        let frames: Buffer[];
        try {
          frames = reader.push(chunk);
        } catch (err) {
          return finish(local((err as FrameError).code, (err as FrameError).message));
        }
        for (const frame of frames) {
          if (streamTo) {
            if (!streamTo.write(frame) && !paused) {
              paused = true;
              stream!.pause();
              streamTo.once('drain', () => {
                paused = false;
                stream!.resume();
              });
            }
          } else if (message !== null) {
            return finish(local(Status.INTERNAL, 'upstream sent more than one message for a unary call'));
          } else message = frame;
        }
      });
      stream.on('trailers', (t) => complete(statusFrom(t)));
      let streamError = '';
      stream.on('error', (err: Error) => (streamError = `: ${err.message}`)); // 'close' reports it
      stream.on('close', () => {
        if (settled) return;
        const code = stream!.rstCode;
        if (code === h2.NGHTTP2_CANCEL && parent?.cancelled) return finish(local(Status.CANCELLED, 'Cancelled'));
        const detail = `upstream stream closed (HTTP/2 code ${code}) before its status${responseHeaders ? '' : ', before any response'}${streamError}`;
        finish(RETRYABLE_RST.has(code) || !responseHeaders ? local(Status.UNAVAILABLE, UPSTREAM_UNAVAILABLE, detail) : local(Status.INTERNAL, 'upstream stream reset', detail));
      });
      // Corked: the prefix and the message leave in one write.
      stream.cork();
      stream.write(frameHeader(request.length));
      stream.end(request);
    });
  }

  /** The next connection's session in turn (connecting when needed); null while every one is in connect backoff. */
  private currentSession(): ClientHttp2Session | null {
    for (let i = 0; i < this.connections.length; i++) {
      const session = this.connections[this.turn]!.session();
      this.turn = (this.turn + 1) % this.connections.length;
      if (session) return session;
    }
    return null;
  }

  private dropSession(session: ClientHttp2Session): void {
    for (const connection of this.connections) connection.retire(session);
  }
}

/** One HTTP/2 connection to the upstream: connected on demand, replaced when it breaks. */
class UpstreamConnection {
  private current: ClientHttp2Session | null = null;
  private backoffUntil = 0;
  private backoffMs = 0;

  constructor(private readonly options: H2Options) {}

  /** The live session, connecting when there is none; null while connecting keeps failing. */
  session(): ClientHttp2Session | null {
    if (this.current && !this.current.closed && !this.current.destroyed) return this.current;
    if (Date.now() < this.backoffUntil) return null;
    const tls = this.options.tls?.() ?? null;
    const session = connect(this.options.url, {
      ...(tls ?? {}),
      ...(tls && this.options.serverName ? { servername: this.options.serverName } : {}),
      ALPNProtocols: ['h2'],
      maxSessionMemory: 64,
      settings: { enablePush: false, initialWindowSize: 1 << 20 },
    });
    let connected = false;
    session.on('connect', () => {
      connected = true;
      this.backoffMs = 0;
      session.setLocalWindowSize(8 << 20);
    });
    // A session that never connected puts the next attempt off (250 ms doubling to 5 s); one that
    // connected and then broke is replaced at once.
    session.on('error', (err: Error) => this.options.logger.warn({ err: err.message, connected }, 'upstream connection error'));
    session.on('goaway', (code: number) => (code === h2.NGHTTP2_NO_ERROR ? this.options.logger.info({ code }, 'upstream sent GOAWAY') : this.options.logger.warn({ code }, 'upstream sent GOAWAY')));
    const lost = () => {
      if (!connected && this.current === session) {
        this.backoffMs = Math.min(5000, this.backoffMs === 0 ? 250 : this.backoffMs * 2);
        this.backoffUntil = Date.now() + this.backoffMs;
      }
      this.retire(session);
    };
    session.on('error', lost);
    session.on('close', lost);
    session.on('goaway', () => this.retire(session));
    session.unref();
    this.current = session;
    return session;
  }

  /** Closes the session: new calls get a new one; calls in flight on it finish. */
  drop(): void {
    this.current?.close();
    this.current = null;
  }

  /** The session broke or is going away: closed (calls in flight finish), and the next call connects again. */
  retire(session: ClientHttp2Session): void {
    if (this.current === session) this.current = null;
    if (!session.closed && !session.destroyed) session.close();
  }

  ping(timeoutMs: number): void {
    const session = this.current;
    if (!session || session.connecting) return;
    const timer = setTimeout(() => session.destroy(), timeoutMs).unref();
    session.ping((err) => {
      clearTimeout(timer);
      if (err) session.destroy();
    });
  }
}

class FrameError extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Splits a gRPC response body into messages; refuses compressed and oversized ones. Chunks are kept
 * as they arrive and joined once per message, so a large message is copied once, not per chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  get pending(): boolean {
    return this.size > 0;
  }

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Buffer[] = [];
    while (this.size >= 5) {
      const head = this.peek(5);
      if (head[0] !== 0) throw new FrameError(Status.INTERNAL, 'upstream sent a compressed message although the proxy asked for identity');
      const length = head.readUInt32BE(1);
      if (length > this.max) throw new FrameError(Status.RESOURCE_EXHAUSTED, `upstream message larger than limits.max_message_bytes (${length} > ${this.max})`);
      if (this.size < 5 + length) break;
      out.push(this.take(5 + length).subarray(5));
    }
    return out;
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  /** Consumes and returns the first `n` buffered bytes. */
  private take(n: number): Buffer {
    let joined = this.chunks[0]!;
    if (joined.length < n) {
      let count = 0;
      let gathered = 0;
      while (gathered < n) gathered += this.chunks[count++]!.length;
      joined = Buffer.concat(this.chunks.slice(0, count));
      this.chunks.splice(0, count, joined);
    }
    const rest = joined.subarray(n);
    if (rest.length > 0) this.chunks[0] = rest;
    else this.chunks.shift();
    this.size -= n;
    return joined.subarray(0, n);
  }
}

/** The 5-byte gRPC message prefix: not compressed, then the length. */
function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0;
  header.writeUInt32BE(length, 1);
  return header;
}

function deadlineOf(parent: Parent, ceilingMs: number): number {
  const d = parent.getDeadline();
  const own = d instanceof Date ? d.getTime() : d;
  return ceilingMs > 0 ? Math.min(own, Date.now() + ceilingMs) : own;
}

/** Pseudo-headers are skipped by fromHttp2Headers; the metadata is new, so it is filtered in place. */
function responseMetadata(headers: IncomingHttpHeaders): Metadata {
  return clientResponseHeaders(Metadata.fromHttp2Headers(headers));
}

function statusFrom(trailers: IncomingHttpHeaders): ClientStatus {
  const code = Number(trailers['grpc-status']);
  const raw = trailers['grpc-message'];
  let details = typeof raw === 'string' ? raw : '';
  try {
    details = decodeURIComponent(details);
  } catch {
    // not percent-encoded: keep as sent
  }
  const valid = Number.isInteger(code) && code >= 0 && code <= 16;
  return {
    code: valid ? (code as Status) : Status.UNKNOWN,
    details,
    metadata: responseMetadata(trailers),
    sanitized: false,
    original: details,
  };
}

function local(code: Status, details: string, original = details): ClientStatus {
  return { code, details, metadata: new Metadata(), sanitized: original !== details, original };
}

/** gRPC over HTTP/2's mapping of HTTP statuses without a grpc-status. */
function httpStatusToGrpc(status: number): Status {
  switch (status) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}
