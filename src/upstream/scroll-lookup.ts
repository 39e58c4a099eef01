// value_exists look-ups go upstream as a plain Points/Scroll through the proxy's own credential.
import { type OwnedIds, uuidKey } from '../access/tenant-confine.js';
import type { QdrantApi } from '../api/qdrant-api.js';
import type { ScrollFn } from '../auth/value-exists.js';
import { ProxyError } from '../errors.js';
import { Status } from '../grpc/status.js';
import type { Forwarder } from './forwarder.js';
import { describeOutcome, ownCall } from './own-call.js';

const SCROLL = '/qdrant.Points/Scroll';

export function createScrollLookup(api: QdrantApi, forwarder: Forwarder, timeoutMs: number, maxReplyBytes: number): ScrollFn {
  const method = api.methods.get(SCROLL);
  if (!method?.request || !method.response) {
    // Without Scroll's descriptor no look-up can be encoded: every value_exists token is denied.
    const error = `the loaded API has no descriptor of ${SCROLL}`;
    return async () => ({ ok: false, notFound: false, pointCount: 0, error });
  }
  const { request: req, response: res } = method;
  return async (request) => {
    const { outcome, message } = await ownCall(forwarder, SCROLL, req.encode(request), timeoutMs, maxReplyBytes);
    if (!message) {
      const notFound = outcome.origin === 'upstream' && outcome.status.code === Status.NOT_FOUND;
      return { ok: false, notFound, pointCount: 0, error: describeOutcome(outcome) };
    }
    const result = res.decode(message).result;
    return { ok: true, notFound: false, pointCount: Array.isArray(result) ? result.length : 0 };
  };
}

/**
 * Tenant isolation's look-up before a Get (src/access/tenant-confine.ts): the ids of the points a
 * Scroll (has_id AND the tenant's conditions) finds, through the proxy's own credential. A failed
 * look-up refuses the Get (UNAVAILABLE), never lets it through unconfined.
 */
export function createOwnedIdsLookup(api: QdrantApi, forwarder: Forwarder, timeoutMs: number, maxReplyBytes: number): OwnedIds {
  const method = api.methods.get(SCROLL);
  return async (request) => {
    if (!method?.response) throw new ProxyError('tenant_lookup_failed');
    const { outcome, message } = await ownCall(forwarder, SCROLL, request, timeoutMs, maxReplyBytes);
    if (!message) {
      // Qdrant refusing the client's own ids (a malformed UUID) or naming a missing collection: its
      // answer, as the call itself would have had it; a retry would not help.
      if (outcome.origin === 'upstream' && outcome.status.code === Status.INVALID_ARGUMENT)
        throw new ProxyError('tenant_lookup_invalid', { detail: outcome.status.details });
      if (outcome.origin === 'upstream' && outcome.status.code === Status.NOT_FOUND)
        throw new ProxyError('tenant_lookup_not_found', { detail: outcome.status.details });
      throw new ProxyError('tenant_lookup_failed');
    }
    const result = method.response.decode(message).result;
    const ids = new Set<string>();
    const shardKeys = new Set<string>();
    type Point = { id?: { num?: string | number; uuid?: string }; shard_key?: { keyword?: string; number?: string | number } };
    for (const point of Array.isArray(result) ? (result as Point[]) : []) {
      const id = point.id;
      if (id?.uuid !== undefined && id.uuid !== '') ids.add(uuidKey(id.uuid));
      else if (id?.num !== undefined) ids.add(`n:${String(id.num)}`);
      const key = point.shard_key;
      if (key?.keyword !== undefined) shardKeys.add(`k:${key.keyword}`);
      else if (key?.number !== undefined) shardKeys.add(`n:${String(key.number)}`);
    }
    return { ids, shardKeys };
  };
}
