// One HTTP/2 connection to the upstream: connected on demand, kept alive with pings, replaced when it
// breaks or is told to go away. Nothing a single call does may close it: request errors are the
// call's, and resets of calls the client gave up on are rationed (upstream.max_resets_per_second),
// because Qdrant's HTTP/2 server answers a burst of resets with GOAWAY for the whole connection.
import { type ClientHttp2Session, connect, constants as h2 } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../log/logger.js';

export interface ConnectionOptions {
  /** `http://host:port` or `https://host:port` */
  readonly url: string;
  readonly serverName: string | null;
  /** TLS material; read for every new connection, so reloaded certificates apply to new ones. */
  readonly tls: (() => SecureContextOptions) | null;
  readonly maxResetsPerSecond: number;
  readonly logger: Logger;
}

/** The per-stream receive window toward the upstream: what one call's reply can hold while its client is slow. */
export const REPLY_WINDOW_BYTES = 256 * 1024;

/** Stream ids the upstream promised to process, per session that received GOAWAY. */
const lastProcessed = new WeakMap<ClientHttp2Session, number>();

/** True when the upstream's GOAWAY says it never processed this stream (so it can be retried). */
export function notProcessed(session: ClientHttp2Session, streamId: number | undefined): boolean {
  const last = lastProcessed.get(session);
  return streamId === undefined || (last !== undefined && streamId > last);
}

export class UpstreamConnection {
  private current: ClientHttp2Session | null = null;
  private backoffUntil = 0;
  private backoffMs = 0;
  private tokens: number;
  private refilledAt = Date.now();

  constructor(private readonly options: ConnectionOptions) {
    this.tokens = options.maxResetsPerSecond;
  }

  /** The live session, connecting when there is none; null while connecting keeps failing. */
  session(): ClientHttp2Session | null {
    if (this.current && !this.current.closed && !this.current.destroyed) return this.current;
    if (Date.now() < this.backoffUntil) return null;
    const { options } = this;
    const tls = options.tls?.() ?? null;
    const session = connect(options.url, {
      ...(tls ?? {}),
      ...(tls && options.serverName ? { servername: options.serverName } : {}),
      ALPNProtocols: ['h2'],
      maxSessionMemory: 64,
      // A reply the client reads slowly is held up to this window per call (README "Security").
      settings: { enablePush: false, initialWindowSize: REPLY_WINDOW_BYTES },
    });
    let connected = false;
    session.once('connect', () => {
      connected = true;
      this.backoffMs = 0;
      if (session.closed || session.destroyed) return;
      try {
        session.setLocalWindowSize(8 << 20);
      } catch {
        // the session went away in the meantime; 'close' retires it
      }
    });
    session.on('error', (err: Error) => options.logger.warn({ err: err.message, connected }, 'upstream connection error'));
    session.on('goaway', (code: number, lastStreamID: number) => {
      lastProcessed.set(session, lastStreamID);
      const log = code === h2.NGHTTP2_NO_ERROR ? options.logger.info.bind(options.logger) : options.logger.warn.bind(options.logger);
      log({ code, lastStreamID }, 'upstream sent GOAWAY');
      this.retire(session);
    });
    // A session that never connected puts the next attempt off (250 ms doubling to 5 s); one that
    // connected and then broke is replaced at once.
    session.once('close', () => {
      if (!connected && this.current === session) {
        this.backoffMs = Math.min(5000, this.backoffMs === 0 ? 250 : this.backoffMs * 2);
        this.backoffUntil = Date.now() + this.backoffMs;
      }
      this.retire(session);
    });
    session.unref();
    this.current = session;
    return session;
  }

  /** Takes one reset from the budget; false when resets are spent for now. */
  mayReset(): boolean {
    const now = Date.now();
    const rate = this.options.maxResetsPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Closes the session: new calls get a new one; calls in flight on it finish. */
  drop(): void {
    const session = this.current;
    this.current = null;
    if (session && !session.closed && !session.destroyed) session.close();
  }

  /** The session broke or is going away: new calls get a new one, calls in flight on it finish. */
  retire(session: ClientHttp2Session): void {
    if (this.current === session) this.current = null;
    if (!session.closed && !session.destroyed) session.close();
  }

  ping(timeoutMs: number): void {
    const session = this.current;
    if (!session || session.connecting || session.closed || session.destroyed) return;
    const timer = setTimeout(() => session.destroy(), timeoutMs).unref();
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (err) session.destroy();
    });
    if (!sent) clearTimeout(timer);
  }
}
