// TLS for the listening port: plaintext, TLS, or TLS that requires a client certificate from
// `tls.ca_cert` (refused during the handshake otherwise). Certificate, key and CA follow their files
// (src/tls/reloading-certificates.ts): new connections get the new certificate.
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { ReloadingCertificates } from '../tls/reloading-certificates.js';
import type { ListenerTls } from './grpc-listener.js';

export interface ServerTls {
  readonly tls: ListenerTls | null;
  readonly certificates: ReloadingCertificates | null;
}

export function createServerTls(config: Readonly<Config>, logger: Logger): ServerTls {
  if (!config.service.enable_tls) return { tls: null, certificates: null };
  const { tls, service } = config;
  const verifyClient = service.verify_https_client_certificate;
  const certificates = new ReloadingCertificates(
    {
      keys: { cert: 'tls.cert', key: 'tls.key', ...(verifyClient ? { ca: 'tls.ca_cert' } : {}) },
      certFile: tls.cert,
      keyFile: tls.key,
      caFile: verifyClient ? tls.ca_cert : null,
    },
    logger,
  );
  return {
    tls: { material: () => certificates.secureContextOptions(), verifyClient, onReload: (listener) => certificates.onReload(listener) },
    certificates,
  };
}
