// gRPC statuses as they cross the wire: the code, the percent-encoded `grpc-message`, trailers.
/** The gRPC status codes (the gRPC spec's numbers, as grpc-js's `status` has them; grpc-js itself is loaded only for its upstream transport). */
export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

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
