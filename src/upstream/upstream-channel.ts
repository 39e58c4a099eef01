// The one shared channel to the real Qdrant: HTTP/2 multiplexed, keepalive, reconnect with backoff,
// TLS or mutual TLS as configured (client certificate and CA follow their files), and no 4 MB
// message cap (Qdrant sets none on gRPC).
import { rootCertificates } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { ReloadingCertificates } from '../tls/reloading-certificates.js';

export interface UpstreamChannel {
  readonly client: grpc.Client;
  /** The client certificate and CA, following their files; null for plaintext upstreams. */
  readonly certificates: ReloadingCertificates | null;
}

export function createUpstreamClient(config: Readonly<Config>, logger: Logger): UpstreamChannel {
  const { upstream, limits } = config;
  const url = new URL(upstream.url);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const target = `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port}`;
  const options: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': limits.max_message_bytes,
    'grpc.max_send_message_length': limits.max_message_bytes,
    'grpc.keepalive_time_ms': upstream.keepalive_time_ms,
    'grpc.keepalive_timeout_ms': upstream.keepalive_timeout_ms,
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 5_000,
    // The proxy must not replay calls on its own: a client that wants retries does them itself.
    'grpc.enable_retries': 0,
    'grpc.primary_user_agent': 'qdrant-auth-proxy',
  };
  if (url.protocol !== 'https:') return { client: new grpc.Client(target, grpc.credentials.createInsecure(), options), certificates: null };
  const certificates = new ReloadingCertificates(
    {
      keys: { cert: 'upstream.cert', key: 'upstream.key', ca: 'upstream.ca_cert' },
      certFile: upstream.cert,
      keyFile: upstream.key,
      caFile: upstream.ca_cert,
      defaultCa: Buffer.from(rootCertificates.join('\n')),
    },
    logger,
  );
  if (upstream.server_name) {
    options['grpc.ssl_target_name_override'] = upstream.server_name;
    options['grpc.default_authority'] = upstream.server_name;
  }
  const credentials = grpc.experimental.createCertificateProviderChannelCredentials(certificates, upstream.cert ? certificates : null);
  return { client: new grpc.Client(target, credentials, options), certificates };
}
