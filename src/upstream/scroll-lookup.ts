// value_exists look-ups go upstream as a plain Points/Scroll through the proxy's own credential.
import { status as Status } from '@grpc/grpc-js';
import type { QdrantApi } from '../api/qdrant-api.js';
import type { ScrollFn } from '../auth/value-exists.js';
import type { Forwarder } from './forward.js';

const SCROLL = '/qdrant.Points/Scroll';

export function createScrollLookup(api: QdrantApi, forwarder: Forwarder, timeoutMs: number): ScrollFn {
  const method = api.methods.get(SCROLL);
  if (!method?.request || !method.response) {
    // Without Scroll's descriptor no look-up can be encoded: every value_exists token is denied.
    const error = `the loaded API has no descriptor of ${SCROLL}`;
    return async () => ({ ok: false, notFound: false, pointCount: 0, error });
  }
  const { request: req, response: res } = method;
  return async (request) => {
    const reply = await forwarder.ownCall(SCROLL, req.encode(request), timeoutMs);
    const { code, original } = reply.status;
    if (code !== Status.OK || !reply.message) {
      return { ok: false, notFound: code === Status.NOT_FOUND, pointCount: 0, error: `${Status[code]}: ${original}` };
    }
    const result = res.decode(reply.message).result;
    return { ok: true, notFound: false, pointCount: Array.isArray(result) ? result.length : 0 };
  };
}
