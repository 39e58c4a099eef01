// Credentials for the listening port: plaintext, TLS, or TLS that requires a client certificate
// from `tls.ca_cert` (refused during the handshake otherwise).
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';

export function createServerCredentials(config: Readonly<Config>): grpc.ServerCredentials {
  if (!config.service.enable_tls) return grpc.ServerCredentials.createInsecure();
  const { tls, service } = config;
  const read = (file: string | null, key: string): Buffer => {
    try {
      return readFileSync(file!);
    } catch (err) {
      throw new ConfigError(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const ca = service.verify_https_client_certificate ? read(tls.ca_cert, 'tls.ca_cert') : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ private_key: read(tls.key, 'tls.key'), cert_chain: read(tls.cert, 'tls.cert') }],
    service.verify_https_client_certificate,
  );
}
