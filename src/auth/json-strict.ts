// JSON read as Qdrant reads a JWT's header and claims (serde_json::from_slice), keeping what
// JSON.parse loses: repeated object keys (serde refuses a struct field given twice), numbers as
// written (an `exp` of 1e20 or 5.0 is a float there, and integers beyond 2^53 stay exact), and
// whether each string is valid (invalid UTF-8 or a lone surrogate escape fails where serde reads the
// string, and is skipped where it ignores the value). Syntax is RFC 8259's, as serde_json's: no BOM,
// no trailing characters, no leading zeros, only space, tab, CR and LF as whitespace.

export type JsonValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool'; readonly value: boolean }
  /** `integer`: written without a fraction or an exponent. */
  | { readonly kind: 'number'; readonly text: string; readonly integer: boolean }
  /** `valid`: valid UTF-8 with no lone surrogate escape (`value` is then exact). */
  | { readonly kind: 'string'; readonly value: string; readonly valid: boolean }
  | { readonly kind: 'array'; readonly items: readonly JsonValue[] }
  /** Entries in order, repeats included. */
  | { readonly kind: 'object'; readonly entries: readonly JsonEntry[] };

export interface JsonEntry {
  readonly key: string;
  readonly keyValid: boolean;
  readonly value: JsonValue;
}

const MAX_DEPTH = 128; // serde_json's recursion limit
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class JsonSyntaxError extends Error {}

/** The parsed document, or null when serde_json would refuse the bytes as JSON. */
export function parseStrictJson(bytes: Uint8Array): JsonValue | null {
  try {
    const parser = new Parser(bytes);
    const value = parser.value(0);
    parser.skipWhitespace();
    if (parser.at !== bytes.length) return null;
    return value;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return null;
    throw err;
  }
}

class Parser {
  at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  skipWhitespace(): void {
    const { bytes } = this;
    while (this.at < bytes.length) {
      const b = bytes[this.at]!;
      if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) break;
      this.at++;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError();
    this.skipWhitespace();
    const b = this.bytes[this.at];
    switch (b) {
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        this.literal('true');
        return { kind: 'bool', value: true };
      case 0x66: // f
        this.literal('false');
        return { kind: 'bool', value: false };
      case 0x6e: // n
        this.literal('null');
        return { kind: 'null' };
      default:
        if (b === 0x2d || (b !== undefined && b >= 0x30 && b <= 0x39)) return this.number();
        throw new JsonSyntaxError();
    }
  }

  private object(depth: number): JsonValue {
    this.at++; // {
    const entries: JsonEntry[] = [];
    this.skipWhitespace();
    if (this.bytes[this.at] === 0x7d) {
      this.at++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.bytes[this.at] !== 0x22) throw new JsonSyntaxError();
      const key = this.string();
      this.skipWhitespace();
      if (this.bytes[this.at++] !== 0x3a) throw new JsonSyntaxError(); // :
      entries.push({ key: key.value, keyValid: key.valid, value: this.value(depth + 1) });
      this.skipWhitespace();
      const next = this.bytes[this.at++];
      if (next === 0x7d) return { kind: 'object', entries };
      if (next !== 0x2c) throw new JsonSyntaxError(); // ,
    }
  }

  private array(depth: number): JsonValue {
    this.at++; // [
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.bytes[this.at] === 0x5d) {
      this.at++;
      return { kind: 'array', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const next = this.bytes[this.at++];
      if (next === 0x5d) return { kind: 'array', items };
      if (next !== 0x2c) throw new JsonSyntaxError();
    }
  }

  private literal(word: string): void {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.at + i] !== word.charCodeAt(i)) throw new JsonSyntaxError();
    }
    this.at += word.length;
  }

  private number(): JsonValue {
    const start = this.at;
    const { bytes } = this;
    const digit = (i: number) => bytes[i] !== undefined && bytes[i]! >= 0x30 && bytes[i]! <= 0x39;
    if (bytes[this.at] === 0x2d) this.at++;
    if (bytes[this.at] === 0x30) this.at++;
    else if (digit(this.at)) while (digit(this.at)) this.at++;
    else throw new JsonSyntaxError();
    let integer = true;
    if (bytes[this.at] === 0x2e) {
      integer = false;
      this.at++;
      if (!digit(this.at)) throw new JsonSyntaxError();
      while (digit(this.at)) this.at++;
    }
    if (bytes[this.at] === 0x65 || bytes[this.at] === 0x45) {
      integer = false;
      this.at++;
      if (bytes[this.at] === 0x2b || bytes[this.at] === 0x2d) this.at++;
      if (!digit(this.at)) throw new JsonSyntaxError();
      while (digit(this.at)) this.at++;
    }
    return { kind: 'number', text: Buffer.from(bytes.buffer, bytes.byteOffset + start, this.at - start).toString('latin1'), integer };
  }

  private string(): { kind: 'string'; value: string; valid: boolean } {
    const { bytes } = this;
    this.at++; // opening quote
    let out = '';
    let valid = true;
    let runStart = this.at;
    const flush = () => {
      if (this.at > runStart) {
        try {
          out += utf8.decode(bytes.subarray(runStart, this.at));
        } catch {
          valid = false;
        }
      }
    };
    for (;;) {
      const b = bytes[this.at];
      if (b === undefined || b < 0x20) throw new JsonSyntaxError(); // unterminated, or a raw control character
      if (b === 0x22) {
        flush();
        this.at++;
        return { kind: 'string', value: out, valid };
      }
      if (b !== 0x5c) {
        this.at++;
        continue;
      }
      flush();
      const escaped = bytes[this.at + 1];
      this.at += 2;
      switch (escaped) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const unit = this.hex4();
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // A high surrogate must be followed by an escaped low one (serde_json's rule for strings it reads).
            if (bytes[this.at] === 0x5c && bytes[this.at + 1] === 0x75) {
              this.at += 2;
              const low = this.hex4();
              if (low >= 0xdc00 && low <= 0xdfff) out += String.fromCharCode(unit, low);
              else valid = false;
            } else valid = false;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) valid = false;
          else out += String.fromCharCode(unit);
          break;
        }
        default:
          throw new JsonSyntaxError();
      }
      runStart = this.at;
    }
  }

  private hex4(): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.bytes[this.at++];
      const d = c === undefined ? -1 : c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) throw new JsonSyntaxError();
      value = value * 16 + d;
    }
    return value;
  }
}

/** True when every string and key in the value is valid (what serde needs of a value it buffers). */
export function allStringsValid(value: JsonValue): boolean {
  switch (value.kind) {
    case 'string':
      return value.valid;
    case 'array':
      return value.items.every(allStringsValid);
    case 'object':
      return value.entries.every((e) => e.keyValid && allStringsValid(e.value));
    default:
      return true;
  }
}

/**
 * The entries of an object read as a serde struct with the given fields: null when a key is not
 * valid or a field is given twice (serde's `duplicate field`); unknown keys are left out.
 */
export function structFields(value: JsonValue, fields: readonly string[]): Map<string, JsonValue> | null {
  if (value.kind !== 'object') return null;
  const out = new Map<string, JsonValue>();
  for (const entry of value.entries) {
    if (!entry.keyValid) return null;
    if (!fields.includes(entry.key)) continue;
    if (out.has(entry.key)) return null;
    out.set(entry.key, entry.value);
  }
  return out;
}
