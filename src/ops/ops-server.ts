// The operator's HTTP listener: /metrics (Prometheus text format), /healthz (the process is alive),
// /readyz (the upstream answers and the proxy is not draining). No credentials; loopback by default.
import { createServer, type Server } from 'node:http';
import type { KeySetStatus } from '../auth/providers/key-source.js';

/** What the listener reports: one process's state, or a cluster primary's view of its workers. */
export interface OpsSource {
  metrics(): Promise<string>;
  readonly metricsContentType: string;
  readonly serving: boolean;
  readonly isUpstreamUp: boolean;
  /** Identity providers' key sets, listed in /readyz's body (they do not change its status). */
  providers?(): readonly KeySetStatus[];
}

export class OpsServer {
  private readonly server: Server;

  constructor(source: OpsSource) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      switch (path) {
        case '/metrics':
          source.metrics().then(
            (text) => res.writeHead(200, { 'content-type': source.metricsContentType }).end(text),
            () => res.writeHead(500).end('metrics collection failed\n'),
          );
          return;
        case '/healthz':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        case '/readyz':
          if (source.serving) res.writeHead(200, { 'content-type': 'text/plain' }).end(`ready\n${providerLines(source)}`);
          else
            res.writeHead(503, { 'content-type': 'text/plain' }).end(`${source.isUpstreamUp ? 'draining' : 'upstream unavailable'}\n${providerLines(source)}`);
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/**
 * One line per identity provider: a provider whose keys are unusable refuses its tokens, yet the
 * proxy stays ready (other credentials still work), so it is shown here and in the metrics.
 */
function providerLines(source: OpsSource): string {
  return (source.providers?.() ?? [])
    .map((p) => {
      const state = p.usable ? 'keys usable' : 'KEYS UNUSABLE: its tokens are refused';
      const age = p.ageSeconds === null ? 'no key set yet' : `${p.keys} keys, fetched ${Math.round(p.ageSeconds)} s ago`;
      return `provider ${p.provider}: ${state}; ${age}${p.lastError ? `; last fetch failed: ${p.lastError}` : ''}\n`;
    })
    .join('');
}
