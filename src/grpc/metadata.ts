// A call's request metadata, read from the raw HTTP/2 header list: every value of a repeated header
// is kept separately and in order (node joins repeats into "a, b" in its header object, which would
// make two credentials look like one). Pseudo-headers and the headers gRPC itself uses are not metadata.

/** Transport headers the listener consumes; they are not the caller's metadata. */
const TRANSPORT = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding', 'content-length']);

export class RequestMetadata {
  /** Name and value pairs, in arrival order. */
  private constructor(private readonly pairs: readonly string[]) {}

  /** From node's raw header list `[name, value, name, value, …]`. */
  static fromRawHeaders(raw: readonly string[]): RequestMetadata {
    const pairs: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.charCodeAt(0) === 58 /* ':' */ || TRANSPORT.has(name)) continue;
      pairs.push(name, raw[i + 1]!);
    }
    return new RequestMetadata(pairs);
  }

  static of(entries: Record<string, string | readonly string[]>): RequestMetadata {
    const pairs: string[] = [];
    for (const [name, value] of Object.entries(entries)) for (const v of typeof value === 'string' ? [value] : value) pairs.push(name, v);
    return new RequestMetadata(pairs);
  }

  /** Every value of `name`, in order. */
  get(name: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.pairs.length; i += 2) if (this.pairs[i] === name) out.push(this.pairs[i + 1]!);
    return out;
  }

  /** The first value of `name`, if any. */
  first(name: string): string | undefined {
    for (let i = 0; i < this.pairs.length; i += 2) if (this.pairs[i] === name) return this.pairs[i + 1];
    return undefined;
  }

  /** Bytes of names and values together (what limits.max_metadata_bytes counts). */
  get byteSize(): number {
    let total = 0;
    for (const p of this.pairs) total += p.length;
    return total;
  }

  /** Calls `visit` for every pair, in order. */
  forEach(visit: (name: string, value: string) => void): void {
    for (let i = 0; i < this.pairs.length; i += 2) visit(this.pairs[i]!, this.pairs[i + 1]!);
  }
}

/** The first value of `name` in node's raw header list `[name, value, …]`. */
export function rawHeader(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i] === name) return raw[i + 1];
  return undefined;
}
