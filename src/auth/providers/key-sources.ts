// The identity providers' key sets for the process, kept across reloads: a reload that leaves a
// provider's key settings as they were keeps its set (no refetch, no gap); a changed or new one
// starts fetching; one no longer configured stops.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JwtProviderConfig } from '../../config/schema.js';
import { type KeySetStatus, KeySource, type KeySourceHooks } from './key-source.js';

export class KeySources {
  private sources = new Map<string, KeySource>();

  constructor(private readonly hooks: KeySourceHooks) {}

  /** The key source of each provider, by provider name. Throws when a CA file cannot be read. */
  sync(providers: readonly JwtProviderConfig[]): ReadonlyMap<string, KeySource> {
    // Every file is read before anything starts: a reload refused for an unreadable CA leaves no source behind.
    const wanted = providers.map((provider) => {
      const ca = readCa(provider);
      // A CA file rewritten in place counts as a change too.
      const caDigest = ca ? createHash('sha256').update(ca).digest('hex') : null;
      const identity = JSON.stringify([provider.name, provider.issuer, provider.jwks_uri, provider.jwks_file, provider.discovery, provider.jwks, caDigest]);
      return { provider, ca, identity };
    });
    const next = new Map<string, KeySource>();
    const byName = new Map<string, KeySource>();
    for (const { provider, ca, identity } of wanted) {
      let source = this.sources.get(identity) ?? next.get(identity);
      if (!source) {
        source = new KeySource(
          {
            provider: provider.name,
            jwksUri: provider.jwks_uri,
            jwksFile: provider.jwks_file,
            discoveryIssuer: provider.discovery ? provider.issuer : null,
            cacheMs: provider.jwks.cache_seconds * 1000,
            maxStaleMs: provider.jwks.max_stale_seconds * 1000,
            unknownKidRefetchMs: provider.jwks.unknown_kid_refetch_seconds * 1000,
            fetch: { timeoutMs: provider.jwks.timeout_ms, maxBytes: provider.jwks.max_bytes, ca },
          },
          this.hooks,
        );
        source.start();
      }
      next.set(identity, source);
      byName.set(provider.name, source);
    }
    for (const [identity, source] of this.sources) if (!next.has(identity)) source.stop();
    this.sources = next;
    return byName;
  }

  statuses(): KeySetStatus[] {
    return [...this.sources.values()].map((s) => s.status());
  }

  stop(): void {
    for (const source of this.sources.values()) source.stop();
  }
}

function readCa(provider: JwtProviderConfig): Buffer | null {
  const file = provider.jwks.ca_cert;
  if (file === null) return null;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`auth.jwt_providers ${provider.name}: cannot read jwks.ca_cert ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
