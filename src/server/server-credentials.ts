// Credentials for the listening port: plaintext, TLS, or TLS that requires a client certificate
// from `tls.ca_cert` (refused during the handshake otherwise). Certificate, key and CA follow their
// files (src/tls/reloading-certificates.ts): new connections get the new certificate.
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { ReloadingCertificates } from '../tls/reloading-certificates.js';

export interface ServerTls {
  readonly credentials: grpc.ServerCredentials;
  readonly certificates: ReloadingCertificates | null;
}

export function createServerCredentials(config: Readonly<Config>, logger: Logger): ServerTls {
  if (!config.service.enable_tls) return { credentials: grpc.ServerCredentials.createInsecure(), certificates: null };
  const { tls, service } = config;
  const verify = service.verify_https_client_certificate;
  const certificates = new ReloadingCertificates(
    {
      keys: { cert: 'tls.cert', key: 'tls.key', ...(verify ? { ca: 'tls.ca_cert' } : {}) },
      certFile: tls.cert,
      keyFile: tls.key,
      caFile: verify ? tls.ca_cert : null,
    },
    logger,
  );
  // grpc-js 1.14 passes this function's first argument on as the identity provider and its second
  // as the CA provider (its parameter names say the opposite); one object serves as both here.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(certificates, verify ? certificates : null, verify);
  return { credentials, certificates };
}
