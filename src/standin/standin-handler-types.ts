// Stand-in upstream (NOT Qdrant): the shape of a per-method handler. It gets the decoded request
// (see standin-messages.ts for the shapes) and returns the reply object to encode; it throws a
// StandinError to answer with a gRPC status.
import type { StandinStore } from './standin-store.js';

export type Handler = (request: Record<string, unknown>, store: StandinStore) => object;

/** Declares a handler with the request shape it reads (decoded messages are untyped at run time). */
export function handler<T>(fn: (request: T, store: StandinStore) => object): Handler {
  return fn as unknown as Handler;
}
