// Certificates that follow their files: re-read every `refreshMs` and soon after the files change
// (cert-manager renews by swapping files in place). A new set is checked as a whole (parsable PEM,
// key matching certificate) before it is used; a broken set is refused with a log line and the
// previous one stays in use. Implements grpc-js's CertificateProvider, for server and channel alike.
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import { ConfigError } from '../config/config-error.js';
import type { Logger } from '../log/logger.js';

type Provider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface CertificateFiles {
  /** Config keys, for messages: e.g. { cert: 'tls.cert', key: 'tls.key', ca: 'tls.ca_cert' }. */
  readonly keys: { readonly cert?: string; readonly key?: string; readonly ca?: string };
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly caFile: string | null;
  /** Used as the CA when `caFile` is null (e.g. the system roots for an upstream). */
  readonly defaultCa?: Buffer;
}

interface Loaded {
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  readonly ca: Buffer | null;
}

export class ReloadingCertificates implements Provider {
  private current: Loaded;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly reloadListeners: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | null = null;

  /** Reads and checks the files now; throws a ConfigError naming the key if they are unusable. */
  constructor(
    private readonly files: CertificateFiles,
    private readonly logger: Logger,
  ) {
    this.current = this.load();
  }

  /** Starts following the files. */
  start(refreshMs: number): void {
    this.timer = setInterval(() => this.reload('timer'), refreshMs).unref();
    const dirs = new Set([this.files.certFile, this.files.keyFile, this.files.caFile].filter((f): f is string => f !== null).map((f) => dirname(f)));
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, () => {
          if (this.debounce) clearTimeout(this.debounce);
          this.debounce = setTimeout(() => this.reload('file change'), 200).unref();
        });
        watcher.unref();
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ dir, err: (err as Error).message }, 'cannot watch certificate directory; relying on the refresh interval');
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
  }

  /** Re-reads the files; publishes them only when they changed and are usable. */
  reload(reason: string): void {
    let next: Loaded;
    try {
      next = this.load();
    } catch (err) {
      this.logger.error({ reason, err: (err as Error).message }, 'new certificate files refused; the previous ones stay in use');
      return;
    }
    if (same(next.cert, this.current.cert) && same(next.key, this.current.key) && same(next.ca, this.current.ca)) return;
    this.current = next;
    this.logger.info({ reason, files: [this.files.certFile, this.files.caFile].filter(Boolean) }, 'certificates reloaded');
    for (const l of this.identityListeners) l(this.identity());
    for (const l of this.caListeners) l(this.caUpdate());
    for (const l of this.reloadListeners) l();
  }

  /** The current material, for TLS connections made outside grpc-js. */
  secureContextOptions(): { cert?: Buffer; key?: Buffer; ca?: Buffer } {
    const { cert, key, ca } = this.current;
    return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
  }

  /** Called after new files were accepted. */
  onReload(listener: () => void): void {
    this.reloadListeners.push(listener);
  }

  // The first update is delivered asynchronously, as grpc-js's own providers do: grpc-js registers
  // the watcher that applies it only after adding its listener.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identity()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private identity(): experimental.IdentityCertificateUpdate | null {
    const { cert, key } = this.current;
    return cert && key ? { certificate: cert, privateKey: key } : null;
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.current.ca ? { caCertificate: this.current.ca } : null;
  }

  private load(): Loaded {
    const { files } = this;
    const read = (file: string | null, key?: string): Buffer | null => {
      if (file === null) return null;
      try {
        return readFileSync(file);
      } catch (err) {
        throw new ConfigError(`${key ?? file}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    };
    const cert = read(files.certFile, files.keys.cert);
    const key = read(files.keyFile, files.keys.key);
    const ca = read(files.caFile, files.keys.ca) ?? files.defaultCa ?? null;
    try {
      // Parses every PEM block and checks that the key belongs to the certificate.
      createSecureContext({ ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) });
    } catch (err) {
      const names = [files.keys.cert, files.keys.key, files.keys.ca].filter(Boolean).join(', ');
      throw new ConfigError(`${names}: unusable certificate files: ${(err as Error).message}`);
    }
    return { cert, key, ca };
  }
}

function same(a: Buffer | null, b: Buffer | null): boolean {
  return a === b || (a !== null && b !== null && a.equals(b));
}
