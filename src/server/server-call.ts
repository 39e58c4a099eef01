// One client call on the listener: the gRPC protocol over one HTTP/2 stream. It reads the request
// (bounded: message size, a shared memory budget, a decompression cap, a body timeout) only when the
// call chain asks for it, after the headers have been checked, and writes headers, messages and the
// status. Nothing here decides access; src/chain/call-runner.ts does.
import { constants as h2, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { ProxyError } from '../errors.js';
import { frame } from '../grpc/framing.js';
import { RequestMetadata, rawHeader } from '../grpc/metadata.js';
import { encodeGrpcMessage, type GrpcStatus } from '../grpc/status.js';
import { parseGrpcTimeout } from '../grpc/timeout.js';
import type { Budget } from './budget.js';
import { Reservation } from './budget.js';
import { ACCEPT_ENCODING, type BodyLimits, readRequestBody } from './request-body.js';

export interface CallLimits extends BodyLimits {
  readonly maxMessageBytes: number;
  readonly requestBudget: Budget;
  /** Anonymous calls (the health checks) draw on a budget of their own: they never starve the others. */
  readonly anonymousBudget: Budget;
}

const RESPONSE_HEADERS = {
  [h2.HTTP2_HEADER_STATUS]: 200,
  [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
  'grpc-accept-encoding': ACCEPT_ENCODING,
} as const;

/** What the call chain needs of a client call (a fake implements it in unit tests). */
export interface ClientCall {
  /** The method path, without a query string. */
  readonly path: string;
  readonly metadata: RequestMetadata;
  /** Epoch ms; Infinity when the client set no deadline. */
  readonly deadline: number;
  /** `address:port` of the TCP peer. */
  readonly peer: string;
  /** True once the client went away or the deadline passed: nothing more is sent. */
  readonly cancelled: boolean;
  /** True once the deadline passed (the client was told DEADLINE_EXCEEDED). */
  readonly expired: boolean;
  /** Runs `listener` once when the call is cancelled; returns a function that removes it. */
  onCancel(listener: () => void): () => void;
  /** The verified client certificate, when the listener requires one. */
  peerCertificate(): PeerCertificate | undefined;
  /** The one request message, decompressed; throws a ProxyError when it cannot be had. */
  readRequest(maxBytes: number, anonymous?: boolean): Promise<Buffer>;
  /** Request messages one by one until the client half-closes (bidi streams). */
  readMessages(maxBytes: number, maxMessages: number, onMessage: (payload: Buffer) => void | Promise<void>): Promise<void>;
  /** Holds `bytes` of reply memory for this call (released when it ends); false when the budget is spent. */
  holdReplyBytes(bytes: number): boolean;
  sendHeaders(headers?: OutgoingHttpHeaders): void;
  /** Whole gRPC frames (prefix included) as the upstream sent them; false means wait for drain. */
  write(framed: Buffer): boolean;
  sendMessage(payload: Uint8Array): boolean;
  onDrain(listener: () => void): void;
  end(status: GrpcStatus): void;
}

/** What is read and dropped of a request after its call was answered, before the upload is stopped. */
const DISCARD_LIMIT_BYTES = 64 * 1024;
const RESET_AFTER_MS = 1000;

/** Verified client certificates, read once per connection. */
const certificates = new WeakMap<object, PeerCertificate | undefined>();

export class ServerCall implements ClientCall {
  readonly path: string;
  readonly metadata: RequestMetadata;
  readonly deadline: number;
  readonly peer: string;
  private readonly encoding: string;
  private requestBytes: Reservation;
  private readonly anonymousBytes: Reservation;
  private readonly replyBytes: Reservation;
  private headersSent = false;
  private ended = false;
  private isCancelled = false;
  private hasExpired = false;
  private readonly cancelListeners = new Set<() => void>();
  private deadlineTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: ServerHttp2Stream,
    path: string,
    rawHeaders: readonly string[],
    private readonly limits: CallLimits,
    replyBudget: Budget,
  ) {
    this.path = path;
    this.metadata = RequestMetadata.fromRawHeaders(rawHeaders);
    this.encoding = rawHeader(rawHeaders, 'grpc-encoding') ?? 'identity';
    this.peer = peerOf(stream);
    this.requestBytes = new Reservation(limits.requestBudget);
    this.anonymousBytes = new Reservation(limits.anonymousBudget);
    this.replyBytes = new Reservation(replyBudget);
    const timeoutMs = parseGrpcTimeout(rawHeader(rawHeaders, 'grpc-timeout'));
    this.deadline = timeoutMs === null ? Infinity : Date.now() + timeoutMs;
    if (timeoutMs !== null) this.deadlineTimer = setTimeout(() => this.expire(), Math.max(0, timeoutMs));
    stream.once('close', () => {
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
      this.requestBytes.close();
      this.anonymousBytes.close();
      this.replyBytes.close();
      if (!this.ended) this.cancel();
    });
  }

  get cancelled(): boolean {
    return this.isCancelled;
  }

  get expired(): boolean {
    return this.hasExpired;
  }

  onCancel(listener: () => void): () => void {
    if (this.isCancelled) {
      listener();
      return () => undefined;
    }
    this.cancelListeners.add(listener);
    return () => this.cancelListeners.delete(listener);
  }

  peerCertificate(): PeerCertificate | undefined {
    const session = this.stream.session;
    if (!session) return undefined;
    if (certificates.has(session)) return certificates.get(session);
    let verified: PeerCertificate | undefined;
    try {
      const socket = session.socket as TLSSocket;
      const cert = typeof socket.getPeerCertificate === 'function' && socket.authorized ? socket.getPeerCertificate() : undefined;
      verified = cert?.raw ? cert : undefined;
    } catch {
      return undefined; // the connection is gone
    }
    certificates.set(session, verified);
    return verified;
  }

  readRequest(maxBytes: number, anonymous = false): Promise<Buffer> {
    if (anonymous) this.requestBytes = this.anonymousBytes;
    const messages: Buffer[] = [];
    return this.readMessages(maxBytes, 1, (m) => void messages.push(m)).then(() => {
      if (messages.length === 0) throw new ProxyError('missing_request_message');
      return messages[0]!;
    });
  }

  readMessages(maxBytes: number, maxMessages: number, onMessage: (payload: Buffer) => void | Promise<void>): Promise<void> {
    return readRequestBody(this.stream, this, { encoding: this.encoding, maxBytes, maxMessages, bytes: this.requestBytes, limits: this.limits }, onMessage);
  }

  holdReplyBytes(bytes: number): boolean {
    return this.replyBytes.take(bytes);
  }

  sendHeaders(headers: OutgoingHttpHeaders = {}): void {
    if (this.headersSent || this.ended || this.isCancelled) return;
    this.headersSent = true;
    try {
      this.stream.respond({ ...headers, ...RESPONSE_HEADERS }, { waitForTrailers: true });
    } catch {
      this.cancel(); // the stream is gone
    }
  }

  write(framed: Buffer): boolean {
    if (this.ended || this.isCancelled) return true;
    if (!this.headersSent) this.sendHeaders();
    return this.stream.write(framed);
  }

  sendMessage(payload: Uint8Array): boolean {
    return this.write(frame(payload));
  }

  onDrain(listener: () => void): void {
    this.stream.once('drain', listener);
  }

  end(status: GrpcStatus): void {
    if (this.ended) return;
    this.ended = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    const { stream } = this;
    if (this.isCancelled || stream.destroyed || stream.closed) return;
    const trailers: OutgoingHttpHeaders = { ...status.trailers, 'grpc-status': String(status.code) };
    if (status.details !== '') trailers['grpc-message'] = encodeGrpcMessage(status.details);
    try {
      if (this.headersSent) {
        stream.once('wantTrailers', () => {
          try {
            stream.sendTrailers(trailers);
          } catch {
            // the client reset the stream meanwhile
          }
        });
        stream.end();
      } else {
        stream.respond({ ...trailers, ...RESPONSE_HEADERS }, { endStream: true });
      }
    } catch {
      return;
    }
    if (!stream.readableEnded) discardRest(stream);
  }

  /** The deadline passed: the client is told, and whatever works for this call is cancelled. */
  private expire(): void {
    this.deadlineTimer = null;
    this.hasExpired = true;
    this.end(new ProxyError('deadline_exceeded').toStatus());
    this.cancel();
  }

  private cancel(): void {
    if (this.isCancelled) return;
    this.isCancelled = true;
    for (const listener of this.cancelListeners) listener();
    this.cancelListeners.clear();
  }
}

/**
 * For a stream that was answered before its request was read to the end (refused on its headers, or
 * failed mid-body): what is left is read and dropped, so a request that was complete lets the stream
 * close. A client still uploading after DISCARD_LIMIT_BYTES or RESET_AFTER_MS is stopped with
 * RST_STREAM(NO_ERROR), as RFC 9113 §8.1 allows once the response is complete. (Resetting at once
 * can overtake the response on the wire: node 22 sends the reset first.)
 */
export function discardRest(stream: ServerHttp2Stream): void {
  let discarded = 0;
  const reset = () => {
    if (!stream.closed && !stream.destroyed) stream.close(h2.NGHTTP2_NO_ERROR);
  };
  const timer = setTimeout(reset, RESET_AFTER_MS);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
  stream.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) reset();
  });
  stream.resume();
}

/** `address:port` of the stream's TCP peer ('unknown' once the connection is gone). */
function peerOf(stream: ServerHttp2Stream): string {
  try {
    const socket = stream.session?.socket;
    return socket?.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort ?? 0}` : 'unknown';
  } catch {
    return 'unknown'; // node's socket proxy throws once the session is destroyed
  }
}
