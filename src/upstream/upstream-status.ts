// The one place an upstream outcome becomes the client's status. Statuses Qdrant sent pass through
// unchanged; when the proxy's side of the hop ended the call (no connection, TLS failure, deadline,
// a broken stream) the client gets a fixed message by code, and what happened goes to the log, so
// the upstream's address and internals never reach a client.
import { type GrpcStatus, Status } from '../grpc/status.js';
import type { Logger } from '../log/logger.js';
import type { UpstreamOutcome } from './forwarder.js';

export const UPSTREAM_UNAVAILABLE = 'upstream Qdrant is unavailable';

const LOCAL_MESSAGES: Partial<Record<Status, string>> = {
  [Status.UNAVAILABLE]: UPSTREAM_UNAVAILABLE,
  [Status.DEADLINE_EXCEEDED]: 'Deadline exceeded',
  [Status.CANCELLED]: 'Cancelled',
  [Status.RESOURCE_EXHAUSTED]: 'upstream reply larger than the proxy accepts (limits.max_message_bytes)',
  [Status.INVALID_ARGUMENT]: 'request metadata cannot be forwarded to Qdrant',
  [Status.INTERNAL]: 'upstream protocol error',
};

/** Outcomes that are the client's own doing or routine: not worth a warning. */
const QUIET = new Set([Status.CANCELLED, Status.DEADLINE_EXCEEDED]);

export function clientStatus(outcome: UpstreamOutcome, path: string, logger: Logger): GrpcStatus {
  if (outcome.origin === 'upstream') return outcome.status;
  const { code } = outcome.status;
  if (!QUIET.has(code)) logger.warn({ path, code, upstream: outcome.detail }, 'upstream call failed');
  return { code, details: LOCAL_MESSAGES[code] ?? 'upstream call failed' };
}
