// The one error catalog: a stable code, the gRPC status, and the public message the client sees.
// Messages for Qdrant's own errors are Qdrant's (and tonic's), byte for byte; see README "Access model".
import { type GrpcStatus, Status } from './grpc/status.js';

export const ERRORS = {
  missing_credentials: { status: Status.UNAUTHENTICATED, message: 'Must provide an API key or an Authorization bearer token' },
  invalid_credentials: { status: Status.UNAUTHENTICATED, message: 'Invalid API key or JWT' },
  conflicting_credentials: { status: Status.UNAUTHENTICATED, message: 'Conflicting credentials: send one API key or token per call' },
  jwt_invalid_signature: { status: Status.PERMISSION_DENIED, message: 'InvalidSignature' },
  jwt_expired: { status: Status.PERMISSION_DENIED, message: 'ExpiredSignature' },
  /** Message is Qdrant's validator text, e.g. `access[1].collection: Collection name should be unique`. */
  jwt_claims_invalid: { status: Status.UNAUTHENTICATED, message: '{detail}' },
  // Identity providers' tokens (auth.jwt_providers; beyond Qdrant). The detail is a fixed phrase, never token content.
  provider_token_rejected: { status: Status.UNAUTHENTICATED, message: 'Invalid JWT: {detail}' },
  provider_no_access: { status: Status.PERMISSION_DENIED, message: "Forbidden: no access follows from the token's claims" },
  provider_keys_unavailable: { status: Status.UNAVAILABLE, message: "Invalid JWT: the identity provider's signing keys are not available" },
  // Named keys (auth.keys_file) and revocations (auth.revocations_file); beyond Qdrant.
  key_expired: { status: Status.UNAUTHENTICATED, message: 'API key has expired' },
  key_not_yet_valid: { status: Status.UNAUTHENTICATED, message: 'API key is not valid yet' },
  credential_revoked: { status: Status.UNAUTHENTICATED, message: 'Credential has been revoked' },
  // Tenant isolation (auth.tenant_isolation): a request a tenant-bound grant cannot make, and why.
  tenant_refused: { status: Status.PERMISSION_DENIED, message: 'Forbidden: {detail}' },
  tenant_lookup_failed: { status: Status.UNAVAILABLE, message: "the tenant's points could not be looked up; retry later" },
  /** Qdrant's own answer to the look-up, about the client's ids or collection (its message). */
  tenant_lookup_invalid: { status: Status.INVALID_ARGUMENT, message: '{detail}' },
  tenant_lookup_not_found: { status: Status.NOT_FOUND, message: '{detail}' },
  /** Qdrant's answer for an id no point has (lib/collection/src/operations/types.rs:913, "Not found: " from StorageError). */
  tenant_point_not_found: { status: Status.NOT_FOUND, message: 'Not found: No point with id {detail} found' },
  tenant_request_too_complex: { status: Status.RESOURCE_EXHAUSTED, message: 'a tenant-bound request may hold at most {detail} protobuf fields' },
  // Traffic policy (service.allowed_source_ranges, identities' ranges, rate_limits); beyond Qdrant.
  address_not_allowed: { status: Status.PERMISSION_DENIED, message: 'Forbidden: calls from this address are not allowed' },
  identity_address_not_allowed: { status: Status.PERMISSION_DENIED, message: 'Forbidden: this credential may not be used from this address' },
  rate_limited: { status: Status.RESOURCE_EXHAUSTED, message: 'rate limit exceeded: {detail}' },
  too_many_in_flight: { status: Status.RESOURCE_EXHAUSTED, message: 'too many calls in flight: {detail}' },
  value_exists_no_match: { status: Status.UNAUTHENTICATED, message: 'Invalid JWT, stateful validation failed' },
  value_exists_collection_missing: { status: Status.PERMISSION_DENIED, message: 'Invalid JWT, stateful validation failed' },
  value_exists_unavailable: { status: Status.UNAVAILABLE, message: 'Invalid JWT, stateful validation could not be completed' },
  global_manage_required: { status: Status.PERMISSION_DENIED, message: 'Forbidden: Global manage access is required' },
  global_access_required: { status: Status.PERMISSION_DENIED, message: 'Forbidden: Global access is required' },
  collection_access_required: { status: Status.PERMISSION_DENIED, message: 'Forbidden: Access to collection {collection} is required' },
  write_access_required: { status: Status.PERMISSION_DENIED, message: 'Forbidden: Write access to collection {collection} is required' },
  manage_access_required: { status: Status.PERMISSION_DENIED, message: 'Forbidden: Manage access for this operation is required' },
  points_only: { status: Status.PERMISSION_DENIED, message: 'Forbidden: Only points access is allowed for collection {collection}' },
  method_not_in_table: { status: Status.PERMISSION_DENIED, message: 'Forbidden: method is not in the access table' },
  /** tonic's answer for a path no service routes: no message at all. */
  unimplemented: { status: Status.UNIMPLEMENTED, message: '' },
  metadata_too_large: { status: Status.RESOURCE_EXHAUSTED, message: 'request metadata is larger than the proxy accepts' },
  malformed_request: { status: Status.INVALID_ARGUMENT, message: 'Validation error in body: request message could not be decoded' },
  // Reading the request body: tonic's messages where tonic has one, the proxy's limits otherwise.
  unsupported_encoding: { status: Status.UNIMPLEMENTED, message: "Content is compressed with `{detail}` which isn't supported" },
  compressed_flag_without_encoding: {
    status: Status.INTERNAL,
    message: 'protocol error: received message with compressed-flag but no grpc-encoding was specified',
  },
  invalid_compression_flag: {
    status: Status.INTERNAL,
    message: 'protocol error: received message with invalid compression flag: {detail} (valid flags are 0 and 1), while sending request',
  },
  decompress_failed: { status: Status.INTERNAL, message: 'Error decompressing: {detail}, while sending request' },
  missing_request_message: { status: Status.INTERNAL, message: 'Missing request message.' },
  unexpected_eof: { status: Status.INTERNAL, message: 'Unexpected EOF decoding stream.' },
  extra_request_message: { status: Status.INTERNAL, message: 'protocol error: more than one request message for a method that takes one' },
  message_too_large: { status: Status.RESOURCE_EXHAUSTED, message: 'request message larger than the proxy accepts ({detail})' },
  decompressed_too_large: {
    status: Status.RESOURCE_EXHAUSTED,
    message: 'Error decompressing: size limit, of {detail} bytes, exceeded while decompressing message',
  },
  request_budget_exhausted: {
    status: Status.RESOURCE_EXHAUSTED,
    message: 'the proxy is holding too many request bytes; retry later (limits.max_buffered_request_bytes)',
  },
  reply_budget_exhausted: {
    status: Status.RESOURCE_EXHAUSTED,
    message: 'the proxy is holding too many reply bytes; retry later (limits.max_buffered_reply_bytes)',
  },
  calls_in_flight_exhausted: {
    status: Status.RESOURCE_EXHAUSTED,
    message: 'the proxy is handling as many calls as it may; retry later (limits.max_calls_in_flight)',
  },
  request_body_timeout: { status: Status.DEADLINE_EXCEEDED, message: 'request body not received in time (limits.request_body_timeout_ms)' },
  health_watchers_exhausted: { status: Status.RESOURCE_EXHAUSTED, message: 'too many health Watch streams (limits.max_health_watch_streams)' },
  deadline_exceeded: { status: Status.DEADLINE_EXCEEDED, message: 'Deadline exceeded' },
  cancelled: { status: Status.CANCELLED, message: 'Cancelled' },
  internal: { status: Status.INTERNAL, message: 'internal proxy error' },
} as const satisfies Record<string, { status: Status; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorParams {
  readonly collection?: string;
  readonly detail?: string;
  /** Trailers sent with the status (e.g. tonic's grpc-accept-encoding on unsupported_encoding). */
  readonly trailers?: Readonly<Record<string, string>>;
}

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly status: Status;

  constructor(
    readonly code: ErrorCode,
    readonly params: ErrorParams = {},
  ) {
    super(fill(ERRORS[code].message, params));
    this.status = ERRORS[code].status;
  }

  toStatus(): GrpcStatus {
    return { code: this.status, details: this.message, ...(this.params.trailers ? { trailers: this.params.trailers } : {}) };
  }
}

/** Puts the parameters in the template; a parameter's text is used as is (no replacement patterns). */
function fill(template: string, params: ErrorParams): string {
  return template.replace(/\{(collection|detail)\}/g, (_m, key: 'collection' | 'detail') => params[key] ?? '');
}
