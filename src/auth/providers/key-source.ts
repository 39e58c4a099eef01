// An identity provider's signing keys: from a JWKS URL, a JWKS file, or the issuer's OpenID discovery
// document. Kept in memory for `cache_seconds` and refreshed in the background before that; while the
// provider cannot be reached the last good set serves for `max_stale_seconds` more, then the
// provider's tokens are refused (fail closed). A token naming a key the set lacks may trigger one
// fetch per `unknown_kid_refetch_seconds`, so a flood of random key ids is not a flood of fetches.
import { createHash } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { Logger } from '../../log/logger.js';
import { displayUrl, type FetchOptions, fetchJson, readJsonFile } from './jwks-fetch.js';

export type KeyResolver = ReturnType<typeof createLocalJWKSet>;

export interface KeySourceSpec {
  readonly provider: string;
  /** Exactly one of the three. */
  readonly jwksUri: string | null;
  readonly jwksFile: string | null;
  readonly discoveryIssuer: string | null;
  readonly cacheMs: number;
  readonly maxStaleMs: number;
  readonly unknownKidRefetchMs: number;
  readonly fetch: FetchOptions;
}

export interface KeySetStatus {
  readonly provider: string;
  /** Usable keys in the current set (0: none yet). */
  readonly keys: number;
  /** Age of the current set in seconds; null when there is none. */
  readonly ageSeconds: number | null;
  /** True while tokens can be verified (keys present, not older than cache + max staleness). */
  readonly usable: boolean;
  readonly lastError: string | null;
}

export interface KeySourceHooks {
  readonly now: () => number;
  readonly logger: Logger;
  readonly onFetch: (provider: string, ok: boolean) => void;
}

/** Key types and uses the proxy verifies with; other keys in a set are skipped. */
const SUPPORTED_KTY = new Set(['RSA', 'EC', 'OKP']);
/** Identity providers publish a handful; a set with more is refused rather than trimmed. */
export const MAX_KEYS = 100;

export class KeySource {
  /** The current set; a refresh that brings the same keys keeps its resolver (cached tokens stay valid). */
  private set: { resolver: KeyResolver; keys: number; digest: string; fetchedAt: number } | null = null;
  private lastError: string | null = null;
  private inflight: Promise<boolean> | null = null;
  private lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    readonly spec: KeySourceSpec,
    private readonly hooks: KeySourceHooks,
  ) {}

  /** Fetches now (start-up does not wait for it, nor fail when the provider is down) and then keeps the set fresh. */
  start(): void {
    void this.refresh().then(() => this.schedule());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The key resolver, or null while there is no usable set. */
  resolver(): KeyResolver | null {
    return this.usable() ? this.set!.resolver : null;
  }

  /** A token named a key the set lacks: fetch again, at most once per unknown_kid_refetch_seconds. */
  refetchForUnknownKid(): Promise<boolean> {
    const now = this.hooks.now();
    if (this.inflight) return this.inflight;
    if (now - this.lastUnknownKidFetch < this.spec.unknownKidRefetchMs) return Promise.resolve(false);
    this.lastUnknownKidFetch = now;
    return this.refresh();
  }

  status(): KeySetStatus {
    const age = this.set ? Math.max(0, (this.hooks.now() - this.set.fetchedAt) / 1000) : null;
    return { provider: this.spec.provider, keys: this.set?.keys ?? 0, ageSeconds: age, usable: this.usable(), lastError: this.lastError };
  }

  private usable(): boolean {
    return this.set !== null && this.hooks.now() - this.set.fetchedAt <= this.spec.cacheMs + this.spec.maxStaleMs;
  }

  /** Refreshes at 80% of the cache lifetime; after a failure, again sooner (a quarter of it, at most 30 s). */
  private schedule(): void {
    if (this.stopped) return;
    const failing = this.lastError !== null;
    const delay = failing ? Math.min(30_000, this.spec.cacheMs / 4) : this.spec.cacheMs * 0.8;
    this.timer = setTimeout(() => void this.refresh().then(() => this.schedule()), delay);
    this.timer.unref();
  }

  /** One fetch at a time; resolves true when a new set was taken. */
  private refresh(): Promise<boolean> {
    this.inflight ??= this.load()
      .then(
        ({ resolver, keys, digest }) => {
          if (this.set?.digest === digest) this.set.fetchedAt = this.hooks.now();
          else {
            this.hooks.logger.info({ provider: this.spec.provider, keys }, 'identity provider keys loaded');
            this.set = { resolver, keys, digest, fetchedAt: this.hooks.now() };
          }
          this.lastError = null;
          this.hooks.onFetch(this.spec.provider, true);
          return true;
        },
        (err: unknown) => {
          this.lastError = err instanceof Error ? err.message : String(err);
          this.hooks.onFetch(this.spec.provider, false);
          this.hooks.logger.warn({ provider: this.spec.provider, err: this.lastError, keys_usable: this.usable() }, 'identity provider keys not refreshed');
          return false;
        },
      )
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  /** The set, ready to use; any failure (unreachable, not JSON, no usable key) rejects. */
  private async load(): Promise<{ resolver: KeyResolver; keys: number; digest: string }> {
    const keys = usableKeys(await this.document());
    return { resolver: createLocalJWKSet({ keys }), keys: keys.length, digest: createHash('sha256').update(JSON.stringify(keys)).digest('hex') };
  }

  private async document(): Promise<unknown> {
    const { spec } = this;
    if (spec.jwksFile) return readJsonFile(spec.jwksFile, spec.fetch);
    const uri = spec.jwksUri ?? (await discoverJwksUri(spec.discoveryIssuer!, spec.fetch));
    return fetchJson(uri, spec.fetch);
  }
}

/** The issuer's jwks_uri, from its OpenID discovery document (whose issuer must be exactly it). */
async function discoverJwksUri(issuer: string, fetch: FetchOptions): Promise<string> {
  const doc = (await fetchJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, fetch)) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new Error('discovery document is not a JSON object');
  if (doc.issuer !== issuer) throw new Error(`discovery document names issuer ${JSON.stringify(displayUrl(String(doc.issuer)))}, not ${issuer}`);
  if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) throw new Error('discovery document has no https jwks_uri');
  return doc.jwks_uri;
}

/** The signing keys of a JWKS the proxy can use; refuses a set with none. */
export function usableKeys(jwks: unknown): JSONWebKeySet['keys'] {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('not a JWKS: no "keys" list');
  const usable = keys.filter(
    (k): k is JSONWebKeySet['keys'][number] =>
      typeof k === 'object' && k !== null && SUPPORTED_KTY.has((k as { kty?: unknown }).kty as string) && ((k as { use?: unknown }).use ?? 'sig') === 'sig',
  );
  if (usable.length === 0) throw new Error(`no usable signing key among ${keys.length} (RSA, EC or OKP keys for signatures)`);
  if (usable.length > MAX_KEYS) throw new Error(`${usable.length} signing keys, more than the ${MAX_KEYS} accepted`);
  // Public parts only: a set that carries private ones by mistake is never used to sign or decrypt.
  return usable.map((k) => Object.fromEntries(Object.entries(k).filter(([name]) => !PRIVATE_MEMBERS.has(name))) as JSONWebKeySet['keys'][number]);
}

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
