// One JSON line per authorization decision, allowed and denied, in Qdrant's audit record format
// (field order and names as Qdrant 1.19 writes them), plus the proxy's own `provider` (an identity
// provider's token), `key_id` (a named key), `jti`, `code` and `duration_ms`.
// Never holds a credential: the record is built from the principal, not from the metadata.

import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/schema.js';
import type { RequestMetadata } from '../grpc/metadata.js';
import { Status } from '../grpc/status.js';
import type { Logger } from '../log/logger.js';
import { RotatingAuditFile } from './audit-file.js';

const TRACING_KEYS = ['x-request-id', 'x-tracing-id', 'traceparent'] as const;
const FORWARDED_KEYS = ['forwarded', 'x-forwarded-for'] as const;
const MAX_TRACING_ID = 256;

export interface AuditEvent {
  readonly path: string;
  /** Qdrant's operation name for the method (access table `audit`). */
  readonly method: string | null;
  /** Null when authentication itself failed. */
  readonly principal: Principal | null;
  readonly collections: readonly string[];
  readonly metadata: RequestMetadata;
  /** grpc-js peer, e.g. `127.0.0.1:51234` or `[::1]:51234`. */
  readonly peer: string;
  readonly allowed: boolean;
  readonly code: Status;
  readonly error?: string;
  /** Allowed only because the refusing policy part is in shadow mode (policy_mode): what it would have said. */
  readonly shadowDenied?: readonly string[];
  readonly durationMs: number;
}

/** The audit sink. Long-lived: a config reload swaps its settings in place, so no record is lost. */
export class AuditLog {
  private settings!: Readonly<Config['audit']>;
  private file: RotatingAuditFile | null = null;
  private stdout: Logger | null = null;

  constructor(
    settings: Readonly<Config['audit']>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.reconfigure(settings);
  }

  /** Applies new settings; a new file writer takes over before the old one is closed. */
  reconfigure(settings: Readonly<Config['audit']>): void {
    if (this.settings && JSON.stringify(settings) === JSON.stringify(this.settings)) return;
    const previous = this.file;
    const file = settings.enabled
      ? new RotatingAuditFile({
          dir: settings.dir,
          rotation: settings.rotation,
          maxFiles: settings.max_log_files,
          now: this.now,
          onError: (err) => this.logger.error({ err: err.message }, 'audit file error; record dropped'),
        })
      : null;
    this.settings = settings;
    this.file = file;
    // Through the process log's own stream, so lines never interleave, at a level of its own.
    this.stdout = settings.stdout ? this.logger.child({ audit: true }, { level: 'info' }) : null;
    void previous?.close();
  }

  get enabled(): boolean {
    return this.file !== null || this.stdout !== null;
  }

  record(event: AuditEvent): void {
    if (!this.enabled) return;
    const entry = this.entry(event);
    this.file?.write(`${JSON.stringify(entry)}\n`);
    this.stdout?.info(entry, 'audit');
  }

  close(): Promise<void> {
    return this.file?.close() ?? Promise.resolve();
  }

  private entry(e: AuditEvent): Record<string, unknown> {
    const p = e.principal;
    const entry: Record<string, unknown> = { timestamp: new Date(this.now()).toISOString() };
    if (p && e.method) entry.method = e.method;
    if (this.settings.log_api || !p) entry.api = e.path;
    entry.auth_type = p?.authType ?? 'None';
    if (p?.provider !== undefined) entry.provider = p.provider;
    if (p?.keyId !== undefined) entry.key_id = p.keyId;
    if (p?.jti !== undefined) entry.jti = p.jti[0];
    if (p?.subject !== undefined) entry.subject = p.subject;
    const remote = this.remote(e);
    if (remote) entry.remote = remote;
    if (p && e.collections.length > 0) {
      entry.collection = e.collections[0];
      if (e.collections.length > 1) entry.collections = e.collections;
    }
    const tracing = firstHeader(e.metadata, TRACING_KEYS);
    if (tracing) entry.tracing_id = tracing;
    entry.result = !e.allowed ? 'denied' : e.shadowDenied ? 'shadow_denied' : 'ok';
    if (e.error) entry.error = e.error;
    else if (e.shadowDenied) entry.error = e.shadowDenied.join('; ');
    entry.code = e.code;
    entry.duration_ms = Math.round(e.durationMs * 1000) / 1000;
    return entry;
  }

  private remote(e: AuditEvent): string | undefined {
    const forwarded = this.settings.trust_forwarded_headers ? firstHeader(e.metadata, FORWARDED_KEYS) : undefined;
    return forwarded ?? peerAddress(e.peer);
  }
}

/** `127.0.0.1:5000` → `127.0.0.1`; `[::1]:5000` → `::1`; anything else as is. */
export function peerAddress(peer: string): string | undefined {
  if (!peer || peer === 'unknown') return undefined;
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(peer);
  if (v6) return v6[1];
  const v4 = /^([^:]+):\d+$/.exec(peer);
  return v4 ? v4[1] : peer;
}

/** The first non-empty text value among `keys`, capped at MAX_TRACING_ID characters. */
function firstHeader(metadata: RequestMetadata, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = metadata.first(key);
    if (value !== undefined && value !== '') return value.slice(0, MAX_TRACING_ID);
  }
  return undefined;
}

/** Qdrant's audit `error` text: `Unauthorized: …` for authentication, `Forbidden: …` for access. */
export function auditError(code: Status, message: string): string {
  if (code === Status.UNAUTHENTICATED) return `Unauthorized: ${message}`;
  if (code === Status.PERMISSION_DENIED && !message.startsWith('Forbidden: ')) return `Forbidden: ${message}`;
  return message;
}
