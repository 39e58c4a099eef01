// Identity from a verified client certificate (beyond Qdrant): `auth.client_cert_identities` maps a
// certificate's subject CN or one of its SANs to an access grant shaped like a JWT's `access` claim,
// so a mesh workload with a certificate needs no key. Used only when the call carries no credential.
import type { PeerCertificate } from 'node:tls';
import { AddressRanges } from '../traffic/address-ranges.js';
import { type LimitConfig, limitOf } from '../traffic/local-limits.js';
import { configGrant } from './grant-shape.js';
import { type Principal, principalFromGrant } from './principal.js';

interface CertificateIdentityEntry {
  /** As the config writes it (a grant's payload an object). */
  readonly access: unknown;
  readonly allowed_source_ranges?: readonly string[];
  readonly rate_limit?: LimitConfig | null;
}

/** As `auth.client_cert_identities` writes one: a grant, or an entry with one. */
export type CertificateIdentity = unknown;

export class CertificateIdentities {
  private readonly byName: ReadonlyMap<string, Principal>;

  constructor(identities: Readonly<Record<string, CertificateIdentity>>) {
    const byName = new Map<string, Principal>();
    for (const [name, identity] of Object.entries(identities)) {
      // A bare grant, or a grant with the identity's own address ranges and rate limit.
      const entry = typeof identity === 'string' || Array.isArray(identity) ? { access: identity } : (identity as CertificateIdentityEntry);
      byName.set(
        name,
        principalFromGrant(
          configGrant(entry.access),
          {
            authType: 'Certificate',
            subject: name,
            ...(entry.allowed_source_ranges?.length ? { allowedRanges: new AddressRanges(entry.allowed_source_ranges) } : {}),
            ...(entry.rate_limit ? { rateLimit: limitOf(entry.rate_limit) } : {}),
          },
          { patterns: true },
        ),
      );
    }
    this.byName = byName;
  }

  get empty(): boolean {
    return this.byName.size === 0;
  }

  /** The grant of the first configured name the certificate carries: its CN, then its SANs in order. */
  principalFor(cert: PeerCertificate | undefined): Principal | null {
    if (!cert) return null;
    for (const name of certificateNames(cert)) {
      const principal = this.byName.get(name);
      if (principal) return principal;
    }
    return null;
  }
}

/** CN, then every SAN value without its type prefix (`DNS:a` → `a`, `URI:spiffe://…` → `spiffe://…`). */
export function certificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const entry of (cert.subjectaltname ?? '').split(', ')) {
    const colon = entry.indexOf(':');
    if (colon > 0) names.push(entry.slice(colon + 1));
  }
  return names;
}
