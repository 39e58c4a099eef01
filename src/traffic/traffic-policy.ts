// Who may call from where, and how much (README "Traffic policy"), compiled from the config each
// reload: the global source-address list (`service.allowed_source_ranges`; connections from
// outside it are closed at accept), an identity's own ranges (named keys, providers, certificate
// identities), and per-identity rate and concurrency limits (`rate_limits`, a named key's
// `rate_limit`). Each part is enforced or, with `policy_mode.addresses` / `.limits: shadow`,
// computed and reported only.
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/schema.js';
import { ProxyError } from '../errors.js';
import type { RequestMetadata } from '../grpc/metadata.js';
import { AddressRanges, unmapped } from './address-ranges.js';
import { clientAddress, type ForwardedHeader } from './client-address.js';
import type { Limiter } from './limiter.js';
import { depthOf, type Limit, limitOf, NOTHING_TO_RELEASE, type Verdict } from './local-limits.js';

export type PolicyPart = 'addresses' | 'limits';
export type AccessClass = 'manage' | 'read' | 'collections' | 'anonymous';

/** A refusal the traffic policy made, enforced or (shadow) only reported. */
export interface TrafficRefusal {
  readonly part: PolicyPart;
  readonly rule: 'address_global' | 'address_identity' | 'calls_per_second' | 'max_in_flight';
  readonly accessClass: AccessClass;
  readonly error: ProxyError;
}

export interface TrafficHooks {
  /** Each refusal, enforced or shadowed. */
  readonly onRefusal?: (refusal: TrafficRefusal, mode: 'enforce' | 'shadow') => void;
  /** An access denial let through by policy_mode.access: shadow. */
  readonly onShadowAccess?: () => void;
}

export interface CallSource {
  /** `address:port` of the TCP peer. */
  readonly peer: string;
  readonly metadata: RequestMetadata;
}

export class TrafficPolicy {
  readonly allowed: AddressRanges;
  readonly trusted: AddressRanges;
  private readonly forwardedHeader: ForwardedHeader;
  private readonly modes: Readonly<Record<PolicyPart, 'enforce' | 'shadow'>>;
  private readonly defaultLimit: Limit | null;
  private readonly classLimits: ReadonlyMap<AccessClass, Limit>;
  private readonly identityLimits: ReadonlyMap<string, Limit>;
  private readonly weights: ReadonlyMap<string, number>;
  /** False when no limit is configured (a named key may still carry its own). */
  private readonly anyLimit: boolean;

  constructor(
    config: Readonly<Config>,
    private readonly limiter: Limiter | null,
    private readonly hooks: TrafficHooks = {},
  ) {
    this.allowed = new AddressRanges(config.service.allowed_source_ranges);
    this.trusted = new AddressRanges(config.service.trusted_proxies);
    this.forwardedHeader = config.service.forwarded_header;
    this.modes = { addresses: config.policy_mode.addresses, limits: config.policy_mode.limits };
    const r = config.rate_limits;
    this.defaultLimit = anyLimit(limitOf(r.default));
    this.classLimits = new Map(Object.entries(r.classes).map(([k, v]) => [k as AccessClass, limitOf(v!)]));
    this.identityLimits = new Map(Object.entries(r.identities).map(([k, v]) => [k, limitOf(v)]));
    this.weights = new Map(Object.entries(r.method_weights).map(([k, v]) => [`/${k}`, v]));
    this.anyLimit = this.defaultLimit !== null || this.classLimits.size > 0 || this.identityLimits.size > 0;
  }

  /** Checked at accept, before TLS: connections from outside the global list are closed (not in shadow mode). */
  acceptsConnection(address: string | undefined): boolean {
    if (this.allowed.empty || this.modes.addresses === 'shadow') return true;
    if (address === undefined) return false;
    // A trusted proxy connects for its clients: their addresses are checked per call.
    const plain = unmapped(address);
    return this.allowed.has(plain) || this.trusted.has(plain);
  }

  /** The address the call comes from (a trusted proxy's report, else the TCP peer). */
  addressOf(call: CallSource): string | null {
    return clientAddress(peerAddress(call.peer), call.metadata, this.trusted, this.forwardedHeader);
  }

  /** The global list and the identity's own ranges; throws when enforced, reports either way. */
  checkAddress(call: CallSource, principal: Principal | null): void {
    if (this.allowed.empty && !principal?.allowedRanges) return; // no rule: the address is not even read
    const address = this.addressOf(call);
    const accessClass = classOf(principal);
    if (!this.allowed.empty && !this.allowed.has(address))
      this.refuse({ part: 'addresses', rule: 'address_global', accessClass, error: new ProxyError('address_not_allowed') });
    else if (principal?.allowedRanges && !principal.allowedRanges.has(address))
      this.refuse({ part: 'addresses', rule: 'address_identity', accessClass, error: new ProxyError('identity_address_not_allowed') });
  }

  /**
   * Takes the call from its identity's limits; resolves with what to call when it ends. Throws
   * RESOURCE_EXHAUSTED naming the limit when enforced; in shadow mode reports and goes on.
   */
  admit(principal: Principal | null, call: CallSource, path: string): (() => void) | Promise<() => void> {
    if (!this.limiter || (!this.anyLimit && !principal?.rateLimit)) return NOTHING_TO_RELEASE;
    const accessClass = classOf(principal);
    // Only a call without an identity is counted by its address.
    const anonymous = !principal || principal.authType === 'None';
    const identity = identityOf(principal, anonymous ? this.addressOf(call) : null);
    const { limit, source } = this.limitFor(principal, identity, accessClass);
    if (!limit) return NOTHING_TO_RELEASE;
    const verdict = this.limiter.take(identity, limit, this.weights.get(path) ?? 1);
    return verdict instanceof Promise ? verdict.then((v) => this.settle(v, limit, source, accessClass)) : this.settle(verdict, limit, source, accessClass);
  }

  private settle(verdict: Verdict, limit: Limit, source: string, accessClass: AccessClass): () => void {
    if (verdict.ok) return verdict.release;
    const detail =
      verdict.limit === 'calls_per_second'
        ? `${limit.callsPerSecond} calls per second (burst ${depthOf(limit)}) per identity, from ${source}`
        : `${limit.maxInFlight} calls in flight per identity, from ${source}`;
    this.refuse({
      part: 'limits',
      rule: verdict.limit,
      accessClass,
      error: new ProxyError(verdict.limit === 'calls_per_second' ? 'rate_limited' : 'too_many_in_flight', { detail }),
    });
    return NOTHING_TO_RELEASE;
  }

  /** The most specific limit: the identity's own (rate_limits.identities, its key's rate_limit), its class's, the default. */
  private limitFor(principal: Principal | null, identity: string, accessClass: AccessClass): { limit: Limit | null; source: string } {
    const own = this.identityLimits.get(identity);
    if (own) return { limit: own, source: `rate_limits.identities.${identity}` };
    if (principal?.rateLimit)
      return { limit: principal.rateLimit, source: principal.keyId ? `key ${principal.keyId}'s rate_limit` : "the identity's rate_limit" };
    const byClass = this.classLimits.get(accessClass);
    if (byClass) return { limit: byClass, source: `rate_limits.classes.${accessClass}` };
    return { limit: this.defaultLimit, source: 'rate_limits.default' };
  }

  /** An access denial let through by policy_mode.access: shadow (counted with the traffic refusals). */
  reportShadowAccess(): void {
    this.hooks.onShadowAccess?.();
  }

  private refuse(refusal: TrafficRefusal): void {
    const mode = this.modes[refusal.part];
    this.hooks.onRefusal?.(refusal, mode);
    if (mode === 'enforce') throw refusal.error;
    throw new ShadowRefusal(refusal);
  }
}

/** A refusal in shadow mode: the caller records it and lets the call go on. */
export class ShadowRefusal extends Error {
  constructor(readonly refusal: TrafficRefusal) {
    super(refusal.error.message);
  }
}

/** Who a limit counts: a named key, a provider's subject, a token's subject (or the token), a certificate, a shared key, or, with no identity, the address. */
export function identityOf(principal: Principal | null, address: string | null): string {
  if (!principal || principal.authType === 'None') return `addr:${address ?? 'unknown'}`;
  if (principal.keyId !== undefined) return `key:${principal.keyId}`;
  const who = principal.subject !== undefined ? principal.subject : principal.tokenId !== undefined ? `token:${principal.tokenId}` : undefined;
  if (principal.provider !== undefined) return `idp:${principal.provider}:${who ?? 'unknown'}`;
  if (principal.authType === 'Certificate') return `cert:${principal.subject ?? 'unknown'}`;
  if (principal.authType === 'Jwt') return principal.subject !== undefined ? `sub:${principal.subject}` : (who ?? 'token:unknown');
  return `apikey:${principal.access === 'manage' ? 'manage' : 'read'}`;
}

function classOf(principal: Principal | null): AccessClass {
  if (!principal || principal.authType === 'None') return 'anonymous';
  return principal.access;
}

function anyLimit(limit: Limit): Limit | null {
  return limit.callsPerSecond === null && limit.maxInFlight === null ? null : limit;
}

/** `1.2.3.4:5678` → `1.2.3.4`; `[::1]:5678` and `::1:5678` (node's form) → `::1`. */
function peerAddress(peer: string): string | null {
  if (!peer || peer === 'unknown') return null;
  const bracketed = /^\[(.+)\]:\d+$/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const colon = peer.lastIndexOf(':');
  return colon > 0 ? peer.slice(0, colon) : peer;
}
