// Statuses the upstream channel makes up itself (connection refused, TLS failure, local deadline)
// carry the upstream's address and internals in their text. The client gets a fixed message; the
// original goes to the log. Statuses that Qdrant itself sent pass through unchanged.
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';

const LOCAL_TRANSPORT_DETAILS =
  /^(No connection established|Connection dropped|Call dropped|Failed to connect|Name resolution failed|Received RST_STREAM|Stream refused)|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|EPIPE|remote_addr=|SSL routines|certificate/i;

export const UPSTREAM_UNAVAILABLE = 'upstream Qdrant is unavailable';

export interface ClientStatus {
  readonly code: Status;
  readonly details: string;
  readonly metadata: Metadata;
  /** True when the upstream's own text was replaced; the caller logs `original`. */
  readonly sanitized: boolean;
  readonly original: string;
}

export function clientStatusFromUpstream(status: StatusObject): ClientStatus {
  const base = { metadata: status.metadata ?? new Metadata(), original: status.details };
  if (status.code === Status.DEADLINE_EXCEEDED && LOCAL_TRANSPORT_DETAILS.test(status.details)) {
    return { ...base, code: status.code, details: 'Deadline exceeded', sanitized: true };
  }
  if (status.code === Status.UNAVAILABLE && LOCAL_TRANSPORT_DETAILS.test(status.details)) {
    return { ...base, code: Status.UNAVAILABLE, details: UPSTREAM_UNAVAILABLE, sanitized: true };
  }
  return { ...base, code: status.code, details: status.details, sanitized: false };
}
