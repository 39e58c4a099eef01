// The one shared channel to the real Qdrant: HTTP/2 multiplexed, keepalive, reconnect with backoff,
// TLS or mutual TLS as configured, and no 4 MB message cap (Qdrant sets none on gRPC).
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';

export function createUpstreamClient(config: Readonly<Config>): grpc.Client {
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
  let credentials: grpc.ChannelCredentials;
  if (url.protocol === 'https:') {
    credentials = grpc.credentials.createSsl(
      readOptional(upstream.ca_cert, 'upstream.ca_cert'),
      readOptional(upstream.key, 'upstream.key'),
      readOptional(upstream.cert, 'upstream.cert'),
    );
    if (upstream.server_name) {
      options['grpc.ssl_target_name_override'] = upstream.server_name;
      options['grpc.default_authority'] = upstream.server_name;
    }
  } else {
    credentials = grpc.credentials.createInsecure();
  }
  return new grpc.Client(target, credentials, options);
}

function readOptional(file: string | null, key: string): Buffer | null {
  if (file === null) return null;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
