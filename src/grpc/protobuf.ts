// Just enough protobuf for the few small messages the proxy answers itself (health, reflection):
// reading top-level fields and writing varints, strings and nested messages.

export interface Field {
  readonly number: number;
  /** Varint fields. */
  readonly int?: number;
  /** Length-delimited fields (strings, bytes, nested messages). */
  readonly bytes?: Buffer;
}

/** The top-level fields of a message; throws on malformed input. */
export function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= buf.length) throw new Error('truncated varint');
      const b = buf[at++]!;
      value += (b & 0x7f) * shift;
      if (b < 0x80) return value;
      shift *= 128;
    }
    throw new Error('varint too long');
  };
  while (at < buf.length) {
    const tag = varint();
    const number = Math.floor(tag / 8);
    if (number === 0) throw new Error('field number 0');
    switch (tag % 8) {
      case 0:
        out.push({ number, int: varint() });
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = varint();
        if (at + length > buf.length) throw new Error('truncated field');
        out.push({ number, bytes: buf.subarray(at, at + length) });
        at += length;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new Error('unsupported wire type');
    }
    if (at > buf.length) throw new Error('truncated field');
  }
  return out;
}

/** The first string field `number`, or '' (proto3's default). */
export function stringField(fields: readonly Field[], number: number): string {
  const field = fields.find((f) => f.number === number && f.bytes);
  return field ? field.bytes!.toString('utf8') : '';
}

export function varintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A message assembled from fields in order. */
export class MessageWriter {
  private readonly parts: Buffer[] = [];

  varint(number: number, value: number): this {
    this.parts.push(Buffer.from([...varintBytes(number * 8), ...varintBytes(value)]));
    return this;
  }

  /** An int64/uint64 varint: a negative value as its 64-bit two's complement (ten bytes). */
  varintBig(number: number, value: bigint): this {
    const out = [...varintBytes(number * 8)];
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.parts.push(Buffer.from(out));
    return this;
  }

  bytes(number: number, value: Uint8Array): this {
    this.parts.push(Buffer.from([...varintBytes(number * 8 + 2), ...varintBytes(value.length)]), Buffer.from(value));
    return this;
  }

  string(number: number, value: string): this {
    return this.bytes(number, Buffer.from(value, 'utf8'));
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}
