// What crosses the hop, in both directions, written once for both transports. Upstream: the caller's
// metadata minus its credentials, headers that are connection-specific in HTTP/2 (RFC 9113 §8.2.2,
// which node:http2 refuses to send), and headers the proxy sets itself; plus `upstream.api_key`.
// Back to the client: the upstream's headers and trailers minus the same kinds.
import type { OutgoingHttpHeaders } from 'node:http2';
import type { RequestMetadata } from '../grpc/metadata.js';

/** Client credentials: never forwarded (the upstream only ever sees `upstream.api_key`). */
const CREDENTIALS = ['api-key', 'authorization'];
/** Connection-specific in HTTP/2: node:http2 refuses to send them, and they mean nothing to gRPC. */
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host', 'te'];
/** Set by whichever side sends the message, never copied across. */
const TRANSPORT = [
  'user-agent',
  'content-type',
  'content-length',
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
  'accept-encoding',
  'date',
  'grpc-status',
  'grpc-message',
];
/** Headers node:http2 sends with one value only; of a repeated one the first is kept. */
const SINGLE_VALUE = new Set([
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-request-method',
  'age',
  'authorization',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'dnt',
  'etag',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'tk',
  'upgrade-insecure-requests',
  'user-agent',
  'x-content-type-options',
]);

const NOT_FORWARDED = new Set([...CREDENTIALS, ...CONNECTION_SPECIFIC, ...TRANSPORT]);
const NOT_RETURNED = new Set([...CONNECTION_SPECIFIC, ...TRANSPORT]);

/** The metadata a forwarded call carries upstream (pseudo and gRPC headers are added by the transport). */
export function upstreamHeaders(metadata: RequestMetadata | null, upstreamApiKey: string | null): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  metadata?.forEach((name, value) => {
    add(out, name, value, NOT_FORWARDED);
  });
  if (upstreamApiKey !== null) out['api-key'] = upstreamApiKey;
  return out;
}

/** The upstream's response headers or trailers (node's raw list) as the client gets them. */
export function clientHeaders(raw: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) !== 58 /* ':' */) add(out, name, raw[i + 1]!, NOT_RETURNED);
  }
  return out;
}

function add(out: OutgoingHttpHeaders, name: string, value: string, skip: ReadonlySet<string>): void {
  if (skip.has(name)) return;
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else if (SINGLE_VALUE.has(name)) return;
  else if (Array.isArray(existing)) existing.push(value);
  else out[name] = [String(existing), value];
}
