// gRPC statuses as they cross the wire: the code, the percent-encoded `grpc-message`, trailers.
import { status as Status } from '@grpc/grpc-js';

export { Status };

export interface GrpcStatus {
  readonly code: Status;
  readonly details: string;
  /** Extra trailers (custom metadata), as HTTP/2 headers; never grpc-status or grpc-message. */
  readonly trailers?: Readonly<Record<string, string | string[]>>;
}

// The gRPC spec: every byte outside 0x20-0x7E, and '%' itself, is sent as %XX (of its UTF-8 encoding).
const NEEDS_ENCODING = /[^\x20-\x24\x26-\x7e]/;

export function encodeGrpcMessage(text: string): string {
  if (!NEEDS_ENCODING.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Percent-decodes; text that is not valid percent-encoded UTF-8 is kept as sent. */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A status code from a `grpc-status` value; anything but an integer 0-16 is UNKNOWN. */
export function statusCode(value: string | undefined): Status {
  if (value === undefined || !/^\d{1,2}$/.test(value)) return Status.UNKNOWN;
  const code = Number(value);
  return code <= 16 ? (code as Status) : Status.UNKNOWN;
}
