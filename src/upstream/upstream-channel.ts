// The connection to the real Qdrant: multiplexed HTTP/2 with keepalive and reconnect backoff, TLS or
// mutual TLS as configured (client certificate and CA follow their files), and no 4 MB message cap
// (Qdrant sets none on gRPC). `upstream.transport` picks the forwarder.
import { rootCertificates } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { ReloadingCertificates } from '../tls/reloading-certificates.js';
import type { Forwarder } from './forwarder.js';
import { grpcJs } from './grpc-js.js';
import { GrpcJsForwarder } from './grpcjs-forwarder.js';
import { H2Forwarder } from './h2-forwarder.js';

export interface Upstream {
  readonly forwarder: Forwarder;
  /** The client certificate and CA, following their files; null for plaintext upstreams. */
  readonly certificates: ReloadingCertificates | null;
}

export function createUpstream(config: Readonly<Config>, logger: Logger): Upstream {
  const { upstream } = config;
  const url = new URL(upstream.url);
  const https = url.protocol === 'https:';
  const certificates = https
    ? new ReloadingCertificates(
        {
          keys: { cert: 'upstream.cert', key: 'upstream.key', ca: 'upstream.ca_cert' },
          certFile: upstream.cert,
          keyFile: upstream.key,
          caFile: upstream.ca_cert,
          defaultCa: Buffer.from(rootCertificates.join('\n')),
        },
        logger,
      )
    : null;
  const forwarder = upstream.transport === 'http2' ? h2Forwarder(config, url, certificates, logger) : grpcJsForwarder(config, url, certificates, logger);
  certificates?.onReload(() => forwarder.reconnect());
  return { forwarder, certificates };
}

function h2Forwarder(config: Readonly<Config>, url: URL, certificates: ReloadingCertificates | null, logger: Logger): Forwarder {
  const { upstream, limits } = config;
  return new H2Forwarder({
    url: `${url.protocol}//${url.host}`,
    serverName: upstream.server_name,
    upstreamApiKey: upstream.api_key,
    maxMessageBytes: limits.max_message_bytes,
    maxCallTimeoutMs: limits.max_call_timeout_ms,
    keepaliveTimeMs: upstream.keepalive_time_ms,
    keepaliveTimeoutMs: upstream.keepalive_timeout_ms,
    connections: upstream.connections,
    maxResetsPerSecond: upstream.max_resets_per_second,
    tls: certificates ? () => certificates.secureContextOptions() : null,
    logger,
  });
}

function grpcJsForwarder(config: Readonly<Config>, url: URL, certificates: ReloadingCertificates | null, logger: Logger): Forwarder {
  const { upstream, limits } = config;
  const grpc = grpcJs();
  // grpc-js logs through the proxy's JSON lines.
  grpc.setLogger({ error: (...args: unknown[]) => logger.warn({ grpc_js: args.map(String).join(' ') }, 'grpc-js') });
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
  const port = url.port || (certificates ? '443' : '80');
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
  if (upstream.server_name) {
    options['grpc.ssl_target_name_override'] = upstream.server_name;
    options['grpc.default_authority'] = upstream.server_name;
  }
  const credentials = certificates
    ? grpc.experimental.createCertificateProviderChannelCredentials(certificates, upstream.cert ? certificates : null)
    : grpc.credentials.createInsecure();
  return new GrpcJsForwarder(new grpc.Client(target, credentials, options), upstream.api_key, limits.max_call_timeout_ms);
}
