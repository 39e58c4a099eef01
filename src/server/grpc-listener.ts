// The listening socket: node:http2, plaintext or TLS (optionally requiring client certificates), and
// the life of every connection on it. Each connection must finish its handshake and send the HTTP/2
// preface in time, is pinged while idle, is closed when it has had no stream for a while or reached
// its maximum age, and a closed connection's socket is destroyed after a short grace whatever the
// peer does, so a connection slot frees in seconds. Streams go to `onStream`; gRPC is server-call.ts.

import type { EventEmitter } from 'node:events';
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  constants as h2,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../log/logger.js';

export interface ListenerTls {
  /** Certificate, key and (when client certificates are verified) CA, as they are now. */
  material(): SecureContextOptions;
  readonly verifyClient: boolean;
  /** Registers a callback for new material (the listener applies it to new connections). */
  onReload(listener: () => void): void;
}

export interface ListenerLimits {
  readonly maxConcurrentStreams: number;
  readonly maxConnections: number;
  /** From accept to the client's HTTP/2 SETTINGS (TLS handshake included). */
  readonly handshakeTimeoutMs: number;
  /** A connection without a stream for this long is closed (0: never). */
  readonly idleTimeoutMs: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** 0: no maximum age. */
  readonly maxConnectionAgeMs: number;
  /** After the age is reached, how long streams may still finish (0: until they end). */
  readonly maxConnectionAgeGraceMs: number;
  /** After a connection is closed with no stream left, its socket is destroyed this much later. */
  readonly closeGraceMs: number;
}

export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]) => void;

interface Connection {
  /** The session's own socket (node's session.socket is a proxy that cannot destroy it). */
  readonly socket: Socket;
  streams: number;
  closing: boolean;
  readonly timers: Set<NodeJS.Timeout>;
  idleTimer: NodeJS.Timeout | null;
}

export class GrpcListener {
  private readonly server: Http2Server | Http2SecureServer;
  private readonly connections = new Map<ServerHttp2Session, Connection>();
  /** The socket node is about to make a session of: its 'session' event follows synchronously. */
  private accepted: Socket | null = null;

  constructor(
    private readonly limits: ListenerLimits,
    tls: ListenerTls | null,
    onStream: StreamHandler,
    private readonly logger: Logger,
    /** Checked at accept, before TLS (service.allowed_source_ranges): false closes the connection. */
    acceptFrom: (address: string | undefined) => boolean = () => true,
  ) {
    const options = {
      settings: { maxConcurrentStreams: limits.maxConcurrentStreams, enablePush: false },
      // Node's own flood limits stay on (rapid reset, SETTINGS, CONTINUATION, rejected streams).
    };
    if (tls) {
      const secure = createSecureServer({
        ...options,
        ...tls.material(),
        allowHTTP1: false,
        ALPNProtocols: ['h2'],
        requestCert: tls.verifyClient,
        rejectUnauthorized: tls.verifyClient,
        handshakeTimeout: limits.handshakeTimeoutMs,
      });
      tls.onReload(() => secure.setSecureContext(tls.material()));
      // A client that does not speak h2 gets nothing; node would otherwise keep its socket for 10 s.
      secure.on('unknownProtocol', (socket) => socket.destroy());
      secure.on('tlsClientError', (err) => this.logger.debug({ err: err.message }, 'TLS handshake failed'));
      this.server = secure;
    } else {
      this.server = createServer(options);
    }
    this.server.maxConnections = limits.maxConnections;
    this.server.prependListener(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.accepted = socket.destroyed ? null : socket;
    });
    // Prepended last, so it runs first: a connection from outside the allowed ranges gets no TLS handshake.
    this.server.prependListener('connection', (socket: Socket) => {
      if (acceptFrom(socket.remoteAddress)) return;
      this.logger.debug({ address: socket.remoteAddress }, 'connection refused: outside service.allowed_source_ranges');
      socket.destroy();
    });
    this.server.on('session', (session) => {
      const socket = this.accepted;
      this.accepted = null;
      if (socket) this.track(session, socket);
      else session.destroy();
    });
    this.server.on('sessionError', (err) => this.logger.debug({ err: err.message }, 'client connection error'));
    this.server.on('error', (err) => this.logger.error({ err: err.message }, 'listener error'));
    // node passes the raw header list as a fourth argument its typings leave out.
    const streamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      // Errors on a stream also end it ('close'); the listener keeps them from being thrown.
      stream.on('error', () => undefined);
      const connection = this.connections.get(stream.session as ServerHttp2Session);
      if (connection) this.streamOpened(stream.session as ServerHttp2Session, connection, stream);
      onStream(stream, headers, rawHeaders);
    };
    (this.server as EventEmitter).on('stream', streamListener);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Connections open right now (for tests and metrics). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting connections and asks every client to go away (GOAWAY); calls in flight may
   * finish for `drainMs`, then every remaining connection is destroyed.
   */
  shutdown(drainMs: number): Promise<void> {
    this.server.close();
    for (const session of this.connections.keys()) this.close(session, 0);
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.connections.size > 0) this.logger.warn({ drainMs, connections: this.connections.size }, 'drain timeout reached; cancelling remaining calls');
        this.forceShutdown();
        resolve();
      }, drainMs);
      const poll = setInterval(() => {
        if (this.connections.size > 0) return;
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }, 20);
      timer.unref();
    });
  }

  forceShutdown(): void {
    this.server.close();
    for (const session of this.connections.keys()) this.destroy(session);
  }

  private track(session: ServerHttp2Session, socket: Socket): void {
    const connection: Connection = { socket, streams: 0, closing: false, timers: new Set(), idleTimer: null };
    this.connections.set(session, connection);
    session.on('error', (err) => this.logger.debug({ err: err.message }, 'client connection error'));
    session.once('close', () => {
      for (const timer of connection.timers) clearTimeout(timer);
      if (connection.idleTimer) clearTimeout(connection.idleTimer);
      this.connections.delete(session);
    });
    const { limits } = this;
    // First bytes: a client that connects and says nothing holds a connection slot for no one.
    const handshake = this.timer(connection, limits.handshakeTimeoutMs, () => this.destroy(session));
    session.once('remoteSettings', () => {
      clearTimeout(handshake);
      connection.timers.delete(handshake);
    });
    if (limits.keepaliveTimeMs > 0) this.keepAlive(session, connection);
    if (limits.maxConnectionAgeMs > 0) {
      // ±10% jitter (as gRPC servers do), so connections made together do not all close together.
      const age = limits.maxConnectionAgeMs * (0.9 + Math.random() * 0.2);
      this.timer(connection, age, () => this.close(session, limits.maxConnectionAgeGraceMs));
    }
    this.armIdle(session, connection);
  }

  private streamOpened(session: ServerHttp2Session, connection: Connection, stream: ServerHttp2Stream): void {
    connection.streams++;
    if (connection.idleTimer) {
      clearTimeout(connection.idleTimer);
      connection.idleTimer = null;
    }
    stream.once('close', () => {
      connection.streams--;
      if (connection.streams > 0) return;
      if (connection.closing) this.destroyAfterGrace(session, connection);
      else this.armIdle(session, connection);
    });
  }

  private armIdle(session: ServerHttp2Session, connection: Connection): void {
    if (this.limits.idleTimeoutMs <= 0 || connection.closing) return;
    connection.idleTimer = setTimeout(() => {
      connection.idleTimer = null;
      if (connection.streams === 0) this.close(session, 0);
    }, this.limits.idleTimeoutMs);
    connection.idleTimer.unref();
  }

  private keepAlive(session: ServerHttp2Session, connection: Connection): void {
    const { keepaliveTimeMs, keepaliveTimeoutMs } = this.limits;
    const ping = () => {
      if (session.closed || session.destroyed) return;
      const deadline = setTimeout(() => this.destroy(session), keepaliveTimeoutMs);
      deadline.unref();
      const sent = session.ping((err) => {
        clearTimeout(deadline);
        if (err) this.destroy(session);
        else this.timer(connection, keepaliveTimeMs, ping);
      });
      if (!sent) {
        clearTimeout(deadline);
        this.destroy(session);
      }
    };
    this.timer(connection, keepaliveTimeMs, ping);
  }

  /**
   * GOAWAY, then: streams in flight may finish (for at most `graceMs` when it is > 0), and once
   * none is left the socket is destroyed after limits.closeGraceMs, even if the peer never reads.
   */
  private close(session: Http2Session, graceMs: number): void {
    const connection = this.connections.get(session as ServerHttp2Session);
    if (!connection || connection.closing) return;
    connection.closing = true;
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    try {
      session.close();
    } catch {
      this.destroy(session);
      return;
    }
    if (graceMs > 0) this.timer(connection, graceMs, () => this.destroy(session));
    if (connection.streams === 0) this.destroyAfterGrace(session, connection);
  }

  private destroyAfterGrace(session: Http2Session, connection: Connection): void {
    this.timer(connection, this.limits.closeGraceMs, () => this.destroy(session));
  }

  /** Ends the connection now: the session and its socket. */
  private destroy(session: Http2Session): void {
    const socket = this.connections.get(session as ServerHttp2Session)?.socket;
    if (!session.destroyed) session.destroy(undefined, h2.NGHTTP2_NO_ERROR);
    if (socket && !socket.destroyed) socket.destroy();
  }

  private timer(connection: Connection, ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      connection.timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    connection.timers.add(timer);
    return timer;
  }
}
