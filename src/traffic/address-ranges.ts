// Source-address ranges (CIDR, IPv4 and IPv6) as the config writes them: `10.0.0.0/8`, `2001:db8::/32`,
// or a single address. An IPv4 address seen as IPv4-mapped IPv6 (`::ffff:10.1.2.3`, how a dual-stack
// listener reports it) is matched as the IPv4 address it is.
import { BlockList, isIP } from 'node:net';

export class AddressRanges {
  // One list per family: node's BlockList matches an IPv4 address against IPv6 rules in its mapped
  // form, so `::/0` would admit every IPv4 address.
  private readonly v4 = new BlockList();
  private readonly v6 = new BlockList();

  constructor(readonly ranges: readonly string[]) {
    for (const range of ranges) {
      const { address, prefix, family } = parseRange(range);
      (family === 'ipv4' ? this.v4 : this.v6).addSubnet(address, prefix, family);
    }
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** True when the address is in one of the ranges; an address that is not one is in none. */
  has(address: string | null): boolean {
    if (address === null) return false;
    const plain = unmapped(address);
    const family = isIP(plain);
    if (family === 4) return this.v4.check(plain, 'ipv4');
    return family === 6 && this.v6.check(plain, 'ipv6');
  }
}

/** `a.b.c.d/n`, `x:y::z/n` or a bare address; throws a message naming the problem. */
export function parseRange(range: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = range.indexOf('/');
  const address = unmapped(slash < 0 ? range : range.slice(0, slash));
  const family = isIP(address);
  if (family === 0) throw new Error(`"${range}": not an IPv4 or IPv6 address or CIDR range`);
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : range.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) throw new Error(`"${range}": the prefix length must be 0-${max}`);
  return { address, prefix: Number(prefixText), family: family === 4 ? 'ipv4' : 'ipv6' };
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; any other address as it is. */
export function unmapped(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}
