// The one error catalog: a stable code, the gRPC status, and the public message the client sees.
// Messages for Qdrant's own errors are Qdrant's, byte for byte (shared/spec/qdrant-auth.md §b).
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';

export const ERRORS = {
  missing_credentials: { status: Status.UNAUTHENTICATED, message: 'Must provide an API key or an Authorization bearer token' },
  invalid_credentials: { status: Status.UNAUTHENTICATED, message: 'Invalid API key or JWT' },
  conflicting_credentials: { status: Status.UNAUTHENTICATED, message: 'Conflicting credentials: send one API key or token per call' },
  jwt_invalid_signature: { status: Status.PERMISSION_DENIED, message: 'InvalidSignature' },
  jwt_expired: { status: Status.PERMISSION_DENIED, message: 'ExpiredSignature' },
  /** Message is Qdrant's validator text, e.g. `access[1].collection: Collection name should be unique`. */
  jwt_claims_invalid: { status: Status.UNAUTHENTICATED, message: '{detail}' },
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
  metadata_too_large: { status: Status.RESOURCE_EXHAUSTED, message: 'request metadata is larger than the proxy accepts' },
  malformed_request: { status: Status.INVALID_ARGUMENT, message: 'Validation error in body: request message could not be decoded' },
  internal: { status: Status.INTERNAL, message: 'internal proxy error' },
} as const satisfies Record<string, { status: Status; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly status: Status;

  constructor(
    readonly code: ErrorCode,
    readonly params: { readonly collection?: string; readonly detail?: string } = {},
  ) {
    const entry = ERRORS[code];
    super(entry.message.replace('{collection}', params.collection ?? '').replace('{detail}', params.detail ?? ''));
    this.status = entry.status;
  }

  toStatus(): StatusObject {
    return { code: this.status, details: this.message, metadata: new Metadata() };
  }
}
