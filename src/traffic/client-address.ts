// The address a call comes from: the TCP peer, unless that peer is one of `service.trusted_proxies`;
// then the client address the proxies report in `service.forwarded_header` (`X-Forwarded-For` by
// default, or `Forwarded: for=…`; only that one: proxies append to the header they write and pass
// the other through as the client sent it), walking the hops from the right past every trusted
// proxy to the first address that is not one. A header from an untrusted peer is never read. A hop that is not an address (`unknown`, an obfuscated
// identifier, garbage) ends the walk with no address: rules that need one then refuse.
import { isIP } from 'node:net';
import type { RequestMetadata } from '../grpc/metadata.js';
import { type AddressRanges, unmapped } from './address-ranges.js';

/** `peer` is the socket's remote address (as node reports it, maybe IPv4-mapped). */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

export function clientAddress(
  peer: string | null,
  metadata: RequestMetadata,
  trusted: AddressRanges,
  header: ForwardedHeader = 'x-forwarded-for',
): string | null {
  if (peer === null) return null;
  let current = unmapped(peer);
  if (trusted.empty || !trusted.has(current)) return current;
  const hops = forwardedHops(metadata, header);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (hop === null) return null;
    current = hop;
    if (!trusted.has(current)) return current;
  }
  // Every hop was a trusted proxy (or there was none): the farthest one is the client.
  return current;
}

/** The reported client addresses, oldest first; null for a hop that is not an address. */
export function forwardedHops(metadata: RequestMetadata, header: ForwardedHeader): (string | null)[] {
  if (header === 'forwarded') {
    return metadata.get('forwarded').flatMap((value) =>
      value.split(',').map((element) => {
        const param = element
          .split(';')
          .map((p) => p.trim())
          .find((p) => p.toLowerCase().startsWith('for='));
        return param === undefined ? null : address(param.slice(4));
      }),
    );
  }
  return metadata.get('x-forwarded-for').flatMap((value) => value.split(',').map((hop) => address(hop)));
}

/** `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:443"`, `2001:db8::1` → the address; anything else null. */
function address(raw: string): string | null {
  let text = raw.trim();
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) text = text.slice(1, -1);
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  const plain = unmapped(text);
  return isIP(plain) !== 0 ? plain : null;
}
