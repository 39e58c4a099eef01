// gRPC's length-prefixed messages (a 1-byte compressed flag, a 4-byte big-endian length, the bytes),
// for both sides of the hop. The reader buffers whole messages; the scanner only follows message
// boundaries, so bytes it checks can be passed on as they arrived.

export const PREFIX_BYTES = 5;

/** Called when a message's prefix is complete, before its bytes are buffered; throw to refuse it. */
export type OnPrefix = (flag: number, length: number) => void;

/** The 5-byte prefix of an uncompressed message. */
export function framePrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  prefix[0] = 0;
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

/** One uncompressed message with its prefix, in one buffer. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, PREFIX_BYTES);
  return out;
}

export interface RawMessage {
  readonly flag: number;
  readonly payload: Buffer;
}

/**
 * Splits a byte stream into whole messages. Chunks are kept as they arrive and joined once per
 * message, so a large message is copied once, not per chunk.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private expected: { flag: number; length: number } | null = null;

  constructor(private readonly onPrefix: OnPrefix) {}

  /** True while part of a message (or of a prefix) is buffered. */
  get pending(): boolean {
    return this.size > 0 || this.expected !== null;
  }

  push(chunk: Buffer): RawMessage[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: RawMessage[] = [];
    for (;;) {
      if (this.expected === null) {
        if (this.size < PREFIX_BYTES) break;
        const prefix = this.take(PREFIX_BYTES);
        const flag = prefix[0]!;
        const length = prefix.readUInt32BE(1);
        this.onPrefix(flag, length);
        this.expected = { flag, length };
      }
      if (this.size < this.expected.length) break;
      out.push({ flag: this.expected.flag, payload: this.take(this.expected.length) });
      this.expected = null;
    }
    return out;
  }

  /** Consumes and returns the first `n` buffered bytes. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let joined = this.chunks[0]!;
    if (joined.length < n) {
      let count = 0;
      let gathered = 0;
      while (gathered < n) gathered += this.chunks[count++]!.length;
      joined = Buffer.concat(this.chunks.slice(0, count));
      this.chunks.splice(0, count, joined);
    }
    const rest = joined.subarray(n);
    if (rest.length > 0) this.chunks[0] = rest;
    else this.chunks.shift();
    this.size -= n;
    return joined.subarray(0, n);
  }
}

/** Follows message boundaries without keeping any bytes: counts messages and checks each prefix. */
export class MessageScanner {
  private prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  private prefixFill = 0;
  private remaining = 0;
  /** Messages whose prefix has been seen. */
  messages = 0;

  constructor(private readonly onPrefix: OnPrefix) {}

  /** True while inside a message or a prefix. */
  get pending(): boolean {
    return this.prefixFill > 0 || this.remaining > 0;
  }

  /** Scans `chunk`; `beforeMessage(index)` runs at each new prefix before `onPrefix` (e.g. to refuse a second one). */
  scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const step = Math.min(this.remaining, chunk.length - at);
        this.remaining -= step;
        at += step;
        continue;
      }
      const step = Math.min(PREFIX_BYTES - this.prefixFill, chunk.length - at);
      chunk.copy(this.prefix, this.prefixFill, at, at + step);
      this.prefixFill += step;
      at += step;
      if (this.prefixFill === PREFIX_BYTES) {
        this.prefixFill = 0;
        const length = this.prefix.readUInt32BE(1);
        this.messages++;
        this.onPrefix(this.prefix[0]!, length);
        this.remaining = length;
      }
    }
  }
}
