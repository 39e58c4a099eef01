// What crosses the hop: request metadata minus client credentials and hop-by-hop headers, plus the
// proxy's own upstream credential; response headers minus what the proxy's server sets itself.
import type { OutgoingHttpHeaders } from 'node:http2';
import { Metadata } from '@grpc/grpc-js';

/** Client credentials: never forwarded (the upstream only ever sees `upstream.api_key`). */
const CREDENTIAL_KEYS = ['api-key', 'authorization'] as const;
/** Connection-specific headers (RFC 9113 §8.2.2) and ones the upstream channel sets itself. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'user-agent'];
/** What a request never carries upstream, whichever transport builds it. */
const NOT_FORWARDED = [...CREDENTIAL_KEYS, ...HOP_BY_HOP];
const SERVER_SET_RESPONSE_HEADERS = ['content-type', 'content-length', 'grpc-encoding', 'grpc-accept-encoding', 'date', 'grpc-status', 'grpc-message'];

export function upstreamRequestMetadata(incoming: Metadata, upstreamApiKey: string | null): Metadata {
  const out = incoming.clone();
  for (const key of NOT_FORWARDED) out.remove(key);
  if (upstreamApiKey !== null) out.set('api-key', upstreamApiKey);
  return out;
}

/** The same, as HTTP/2 headers for the http2 transport (no Metadata copy: toHttp2Headers is a new object). */
export function upstreamRequestHeaders(incoming: Metadata, upstreamApiKey: string | null): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = incoming.toHttp2Headers();
  for (const key of NOT_FORWARDED) delete headers[key];
  if (upstreamApiKey !== null) headers['api-key'] = upstreamApiKey;
  return headers;
}

/** Removes them in place: pass a copy when the caller's metadata must stay as it is. */
export function clientResponseHeaders(fromUpstream: Metadata): Metadata {
  for (const key of SERVER_SET_RESPONSE_HEADERS) fromUpstream.remove(key);
  for (const key of HOP_BY_HOP) fromUpstream.remove(key);
  return fromUpstream;
}
